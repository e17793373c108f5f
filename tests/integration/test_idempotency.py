"""Idempotent creation (docs/uws.md, Idempotent creation): POST /async with an Idempotency-Key
creates at most one job per owner and key within 24 hours."""

from __future__ import annotations

import contextlib
import json
import time
from concurrent.futures import ThreadPoolExecutor

import boto3
import pytest

from tests.conftest import BASE, queued_messages
from tests.integration.test_children import multipart


def jobs_stored(api):
    scan = boto3.client("dynamodb").scan(TableName=api.refs["JobsTable"])
    return [i["jobId"]["S"] for i in scan["Items"]]


def post(api, key, owner=None, **data):
    return api.request("POST", "/async", data=data, headers={"Idempotency-Key": key}, owner=owner)


def test_a_repeat_gets_the_same_303_and_creates_nothing(api):
    first = post(api, "order-17", TEXT="x", PHASE="RUN")
    assert first.status == 303
    for _ in range(3):
        again = post(api, "order-17", TEXT="x", PHASE="RUN")
        assert (again.status, again.location) == (303, first.location)
    assert jobs_stored(api) == [first.location.rsplit("/", 1)[1]]
    assert len(queued_messages(api)) == 1  # run once


def test_a_repeat_with_another_body_is_refused_and_changes_nothing(api):
    first = post(api, "k1", TEXT="x")
    for other in ({"TEXT": "y"}, {"TEXT": "x", "PHASE": "RUN"}, {}):
        refused = post(api, "k1", **other)
        assert refused.status == 422 and refused.content_type.startswith("text/plain")
        assert (
            refused.body
            == "This Idempotency-Key was used with another request body; use a new key."
        )
    assert jobs_stored(api) == [first.location.rsplit("/", 1)[1]]
    assert queued_messages(api) == []


def test_keys_are_per_owner_and_other_keys_or_none_create_anew(api):
    locations = {
        post(api, "same", owner="alice", TEXT="x").location,
        post(api, "same", owner="bob", TEXT="x").location,
        post(api, "same", TEXT="x").location,
        post(api, "other", owner="alice", TEXT="x").location,
        api.request("POST", "/async", data={"TEXT": "x"}).location,
        api.request("POST", "/async", data={"TEXT": "x"}).location,
    }
    assert len(locations) == 6 and len(jobs_stored(api)) == 6


def test_a_failed_creation_leaves_the_key_free(api):
    assert post(api, "retry-me", NOPE="1").status == 400
    assert jobs_stored(api) == []
    assert post(api, "retry-me", TEXT="fixed").status == 303
    assert len(jobs_stored(api)) == 1


@pytest.mark.parametrize("key", ["", "with space", "é", "x" * 256])
def test_a_malformed_key_is_a_400(api, key):
    reply = post(api, key, TEXT="x")
    assert reply.status == 400
    assert reply.body == "Idempotency-Key must be 1 to 255 printable ASCII characters."
    assert jobs_stored(api) == []


def test_racing_repeats_create_one_job(api):
    def attempt(_):
        return post(api, "race", TEXT="x", PHASE="RUN")

    with ThreadPoolExecutor(10) as pool:
        replies = list(pool.map(attempt, range(10)))
    assert {r.status for r in replies} <= {303, 409}
    (job_id,) = jobs_stored(api)
    assert {r.location for r in replies if r.status == 303} == {f"{BASE}/async/{job_id}"}
    assert len(queued_messages(api)) == 1
    busy = [r for r in replies if r.status == 409]
    assert all(r.headers.get("Retry-After") == "1" for r in busy)


def test_uploads_count_in_the_body(testing_type):
    api = testing_type
    body, headers = multipart({"NAME": "n"}, {"UPLOAD": ("t.xml", b"<a/>", "text/xml")})
    headers["Idempotency-Key"] = "upload-1"
    first = api.request("POST", "/async", body=body, headers=headers)
    again = api.request("POST", "/async", body=body, headers=headers)
    assert (first.status, again.location) == (303, first.location)
    other, _ = multipart({"NAME": "n"}, {"UPLOAD": ("t.xml", b"<b/>", "text/xml")})
    assert api.request("POST", "/async", body=other, headers=headers).status == 422


def test_a_key_is_forgotten_after_a_day(api):
    first = post(api, "daily", TEXT="x")
    table = api.refs["IdempotencyTable"]
    ddb = boto3.client("dynamodb")
    (record,) = ddb.scan(TableName=table)["Items"]
    assert int(record["expiration"]["N"]) == pytest.approx(time.time() + 86400, abs=60)
    ddb.update_item(
        TableName=table, Key={"id": record["id"]}, UpdateExpression="SET expiration = :past",
        ExpressionAttributeValues={":past": {"N": "1"}},
    )  # fmt: skip
    again = post(api, "daily", TEXT="x")
    assert again.status == 303 and again.location != first.location


@contextlib.contextmanager
def idempotency_writes_failing(api, action: str, code: str, times: int):
    """moto's DynamoDB refuses the first ``times`` ``action`` calls on the Idempotency-Key
    records as AWS does with ``code`` (HTTP 400): TransactionConflictException is not retried
    by the SDK, ThrottlingException is, with backoff, until its retries are spent."""
    from botocore.retries.standard import ExponentialBackoff
    from moto.dynamodb.responses import DynamoHandler

    original, delay = DynamoHandler.call_action, ExponentialBackoff.delay_amount
    ExponentialBackoff.delay_amount = lambda self, context: 0.0  # the same retries, no waiting
    refused: list[str] = []
    body = json.dumps({"__type": f"com.amazonaws.dynamodb.v20120810#{code}", "message": code})

    def sometimes(self):
        if (self._get_action() == action and len(refused) < times
                and json.loads(self.body).get("TableName") == api.refs["IdempotencyTable"]):  # fmt: skip
            refused.append(action)
            return 400, {"Content-Type": "application/x-amz-json-1.0"}, body
        return original(self)

    DynamoHandler.call_action = sometimes
    try:
        yield refused
    finally:
        DynamoHandler.call_action, ExponentialBackoff.delay_amount = original, delay


def test_a_record_that_cannot_be_begun_is_a_503_that_makes_nothing(api):
    with idempotency_writes_failing(api, "PutItem", "ThrottlingException", 5) as refused:
        reply = post(api, "busy-1", TEXT="x", PHASE="RUN")
    assert (reply.status, reply.headers.get("Retry-After"), len(refused)) == (503, "5", 5)
    assert jobs_stored(api) == [] and queued_messages(api) == []
    again = post(api, "busy-1", TEXT="x", PHASE="RUN")
    assert again.status == 303 and len(jobs_stored(api)) == 1


@pytest.mark.parametrize("times", [1, 100])
def test_a_made_job_is_a_303_though_its_record_cannot_be_completed(api, times):
    """The job exists once it is made: a conflict on its record's completion is tried again
    (times=1: the record completes, a repeat is the same 303); a record that cannot be
    completed at all still answers the 303, never a 500 for a job that exists."""
    with idempotency_writes_failing(api, "UpdateItem", "TransactionConflictException", times):
        reply = post(api, "made-1", TEXT="x", PHASE="RUN")
    assert reply.status == 303, reply.body
    assert jobs_stored(api) == [reply.location.rsplit("/", 1)[1]]
    assert len(queued_messages(api)) == 1
    again = post(api, "made-1", TEXT="x", PHASE="RUN")
    if times == 1:
        assert (again.status, again.location) == (303, reply.location)
    else:  # IN_PROGRESS for the request's 29 s: a repeat is told to wait, and makes nothing
        assert again.status == 409
    assert len(jobs_stored(api)) == 1


def test_no_answer_from_the_record_s_table_is_a_503_that_makes_nothing(api, monkeypatch):
    """A connection that times out, the SDK's retries spent, is as transient as a throttle."""
    from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer
    from botocore.exceptions import ReadTimeoutError

    def silent(self, data_record):
        raise ReadTimeoutError(endpoint_url="https://dynamodb.us-east-1.amazonaws.com/")

    monkeypatch.setattr(DynamoDBPersistenceLayer, "_put_record", silent)
    reply = post(api, "silent-1", TEXT="x", PHASE="RUN")
    assert (reply.status, reply.headers.get("Retry-After")) == (503, "5")
    assert jobs_stored(api) == [] and queued_messages(api) == []
