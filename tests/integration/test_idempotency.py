"""Idempotent creation (docs/uws.md, Idempotent creation): POST /async with an Idempotency-Key
creates at most one job per owner and key within 24 hours."""

from __future__ import annotations

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
