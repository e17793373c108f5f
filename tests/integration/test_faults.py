"""Injected faults: AWS throttling past the retries, a worker dying mid-job, lost messages,
and what the logs must never show."""

from __future__ import annotations

import contextlib
import json
import os

import boto3
import pytest

from local.iam import every_layer_client
from tests.conftest import UWS, queued_messages, set_item, text_of, unchanged


@contextlib.contextmanager
def throttled_dynamodb():
    """Inside, moto's DynamoDB answers every request as an overloaded DynamoDB does (HTTP 400,
    ProvisionedThroughputExceededException), so botocore's real retry logic runs and gives up."""
    from botocore.retries.standard import ExponentialBackoff
    from moto.dynamodb.responses import DynamoHandler

    attempts: list[str] = []
    original = DynamoHandler.call_action
    delay = ExponentialBackoff.delay_amount
    ExponentialBackoff.delay_amount = lambda self, context: 0.0  # the same retries, no waiting
    body = json.dumps({"__type": "com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException",
                       "message": "Rate of requests exceeds the allowed throughput."})  # fmt: skip

    def overloaded(self):
        attempts.append(self._get_action())
        return 400, {"Content-Type": "application/x-amz-json-1.0"}, body

    DynamoHandler.call_action = overloaded
    try:
        yield attempts
    finally:
        DynamoHandler.call_action = original
        ExponentialBackoff.delay_amount = delay


@pytest.mark.parametrize(
    "method, child, data",
    [
        ("GET", "", None),
        ("POST", "/phase", {"PHASE": "RUN"}),
        ("POST", "/parameters", {"TEXT": "new"}),
        ("POST", "/destruction", {"DESTRUCTION": "2030-01-01T00:00:00Z"}),
        ("DELETE", "", None),
    ],
)
def test_dynamodb_throttling_past_the_retries_is_503_and_changes_nothing(api, method, child, data):
    job_id = api.create(TEXT="old")
    with unchanged(api, job_id), throttled_dynamodb() as attempts:
        reply = api.request(method, f"/async/{job_id}{child}", data=data)
    assert reply.status == 503 and reply.headers["Retry-After"] == "5"
    assert reply.content_type == "text/plain; charset=utf-8"
    assert len(attempts) == 5  # the first call and botocore's 4 retries with backoff
    assert queued_messages(api) == []


def test_throttled_creation_creates_nothing(api):
    with throttled_dynamodb():
        reply = api.request("POST", "/async", data={"TEXT": "x", "PHASE": "RUN"})
    assert reply.status == 503
    assert (
        boto3.client("dynamodb").scan(TableName=api.refs["JobsTable"], Select="COUNT")["Count"] == 0
    )
    assert queued_messages(api) == []


def test_an_s3_failure_after_the_item_is_deleted_still_deletes_the_job(api, monkeypatch):
    from uws.errors import ServiceUnavailable
    from uws.files import FileStore

    job_id = api.create(PHASE="RUN")
    api.work()  # COMPLETED, with its result file listed

    def slow_down(self, keys):
        raise ServiceUnavailable("S3 says SlowDown")

    monkeypatch.setattr(FileStore, "delete_keys", slow_down)
    reply = api.request("DELETE", f"/async/{job_id}")
    assert reply.status == 303  # the job is gone for everyone ...
    assert api.item(job_id) is None and api.request("GET", f"/async/{job_id}").status == 404
    assert api.objects(job_id) == [
        f"jobs/{job_id}/results/result"
    ]  # ... its file awaits the lifecycle rule


def test_s3_throttling_on_an_upload_is_503_and_creates_nothing(testing_type, monkeypatch):
    from botocore.exceptions import ClientError

    from tests.integration.test_children import multipart

    api = testing_type

    def throttled_put(**kwargs):
        raise ClientError(
            {"Error": {"Code": "SlowDown", "Message": "Please reduce your request rate."}},
            "PutObject",
        )

    for client in every_layer_client("s3"):
        monkeypatch.setattr(client, "put_object", throttled_put)
    body, headers = multipart({"NAME": "n"}, {"UPLOAD": ("a.txt", b"x", "text/plain")})
    reply = api.request("POST", "/async", body=body, headers=headers)
    assert reply.status == 503 and reply.headers["Retry-After"]
    assert (
        boto3.client("dynamodb").scan(TableName=api.refs["JobsTable"], Select="COUNT")["Count"] == 0
    )


def test_a_worker_dying_before_its_final_write_is_ended_by_the_reaper(api, monkeypatch):
    from uws import worker

    job_id = api.create(PHASE="RUN")

    def dies(*args):
        raise ConnectionError("the worker's network went away")

    monkeypatch.setattr(worker, "_finish", dies)
    api.work()
    assert text_of(api.job(job_id), "uws:phase") == "EXECUTING"  # stuck, for now
    monkeypatch.undo()
    set_item(api, job_id, deadline="2001-01-01T00:00:00.000000Z")  # its deadline passes
    assert api.sweep()["timed_out"] == 1
    root = api.job(job_id)
    assert text_of(root, "uws:phase") == "ERROR"
    assert "execution duration" in text_of(root, "uws:errorSummary/uws:message")


def test_a_redelivered_message_for_an_executing_job_does_nothing(api):
    job_id = api.create()
    set_item(api, job_id, phase="EXECUTING", startTime="2026-01-01T00:00:00.000000Z")
    before = api.item(job_id)
    boto3.client("sqs").send_message(
        QueueUrl=api.refs["JobsQueue"], MessageBody=json.dumps({"jobId": job_id})
    )
    api.work()
    assert api.item(job_id) == before


def test_a_dead_lettered_job_does_not_stay_queued(api):
    job_id = api.create(PHASE="RUN")
    boto3.client("sqs").purge_queue(QueueUrl=api.refs["JobsQueue"])  # the message is gone
    set_item(api, job_id, deadline="2001-01-01T00:00:00.000000Z")
    api.sweep()
    assert text_of(api.job(job_id), "uws:phase") == "ERROR"


def test_logs_never_show_signatures_or_credentials(api, monkeypatch):
    import io
    import logging

    from uws.telemetry import logger

    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logger.registered_formatter)  # the JSON lines Lambda would ship
    logging.getLogger("uws").addHandler(handler)
    level = logger.log_level
    logger.setLevel("DEBUG")  # the most the functions can be made to say
    try:
        job_id = api.create(PHASE="RUN")
        api.work()
        reply = api.request("GET", f"/async/{job_id}/results/result")
        api.request("GET", f"/async/{job_id}/results/nope")
    finally:
        logger.setLevel(level)
        logging.getLogger("uws").removeHandler(handler)
    assert "X-Amz-Signature=" in reply.location
    logs = stream.getvalue()
    assert "request served" in logs and "job started" in logs
    assert "X-Amz-Signature" not in logs and "X-Amz-Credential" not in logs
    secrets = {os.environ["AWS_SECRET_ACCESS_KEY"]}  # the harness's; and each role's:
    for service in ("dynamodb", "s3", "sqs"):
        for client in every_layer_client(service):
            credentials = client._request_signer._credentials
            secrets |= {credentials.secret_key, credentials.token or credentials.secret_key}
    assert len(secrets) > 2 and not any(secret in logs for secret in secrets)
    assert api.job(job_id).find("uws:phase", UWS).text == "COMPLETED"


@contextlib.contextmanager
def refusing_sqs():
    """Inside, moto's SQS answers SendMessage as an SQS that stays unavailable does."""
    from botocore.retries.standard import ExponentialBackoff
    from moto.sqs.responses import SQSResponse

    original, delay = SQSResponse.call_action, ExponentialBackoff.delay_amount
    ExponentialBackoff.delay_amount = lambda self, context: 0.0
    body = json.dumps({"__type": "com.amazonaws.sqs#ServiceUnavailable", "message": "Down."})

    def down(self):
        if "SendMessage" in self._get_action():
            return 503, {"Content-Type": "application/x-amz-json-1.0"}, body
        return original(self)

    SQSResponse.call_action = down
    try:
        yield
    finally:
        SQSResponse.call_action, ExponentialBackoff.delay_amount = original, delay


def test_a_run_at_creation_sqs_refuses_leaves_no_job_and_a_keyed_retry_makes_one(api):
    headers = {"Idempotency-Key": "retry-after-503"}
    with refusing_sqs():
        reply = api.request("POST", "/async", data={"TEXT": "x", "PHASE": "RUN"}, headers=headers)
    assert reply.status == 503
    table = api.refs["JobsTable"]
    assert boto3.client("dynamodb").scan(TableName=table, Select="COUNT")["Count"] == 0
    again = api.request("POST", "/async", data={"TEXT": "x", "PHASE": "RUN"}, headers=headers)
    assert again.status == 303
    assert boto3.client("dynamodb").scan(TableName=table, Select="COUNT")["Count"] == 1
    assert len(queued_messages(api)) == 1
