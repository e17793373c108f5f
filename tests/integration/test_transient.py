"""AWS's transient errors as AWS sends them (local.faults): botocore sees each as it would
AWS's, and none of them loses a job's outcome or reaches a client as more than a 503."""

from __future__ import annotations

import boto3
import pytest
from botocore.exceptions import ClientError

from local import faults as injected
from local.lambdas import _acting
from tests.conftest import text_of

RETRIED_BY_BOTOCORE = [
    ("dynamodb", "ThrottlingException", 400),
    ("dynamodb", "ProvisionedThroughputExceededException", 400),
    ("dynamodb", "InternalServerError", 500),
    ("s3", "SlowDown", 503),
    ("s3", "InternalError", 500),
    ("sqs", "RequestThrottled", 400),
    ("ecs", "ThrottlingException", 400),
    ("eventbridge", "ThrottlingException", 400),
]


def acting(function: str = "JobsFunction"):
    """Calls made now are a function's (only those get faults)."""

    class Acting:
        def __enter__(self):
            _acting.function = function

        def __exit__(self, *_):
            _acting.function = None

    return Acting()


def one_call(api, service: str):
    """(operation name, a call of it that succeeds on moto), by a client as the layer's."""
    from uws.aws import _CONFIG

    client = boto3.client({"eventbridge": "events"}.get(service, service), config=_CONFIG)
    return {
        "dynamodb": ("GetItem", lambda: client.get_item(
            TableName=api.refs["JobsTable"], Key={"jobId": {"S": "x"}})),
        "s3": ("ListObjectsV2", lambda: client.list_objects_v2(Bucket=api.refs["ResultsBucket"])),
        "sqs": ("GetQueueAttributes", lambda: client.get_queue_attributes(
            QueueUrl=api.refs["JobsQueue"])),
        "ecs": ("ListClusters", lambda: client.list_clusters()),
        "eventbridge": ("ListEventBuses", lambda: client.list_event_buses()),
    }[service]  # fmt: skip


@pytest.mark.parametrize("service, code, status", RETRIED_BY_BOTOCORE)
def test_each_fault_is_sent_as_aws_sends_it_and_botocore_retries_it(
    api, faults, service, code, status
):
    operation, call = one_call(api, service)
    faults.script[operation] = [code]
    with acting():
        call()  # botocore's retry took it
    assert faults.injected == {f"{service}:{code}": 1}
    faults.script[operation] = [code] * 5  # the first call and the 4 retries of aws._CONFIG
    with acting(), pytest.raises(ClientError) as refused:
        call()
    assert refused.value.response["Error"]["Code"] == code
    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == status
    assert refused.value.response["ResponseMetadata"]["RetryAttempts"] == 4


def test_faults_reach_only_the_functions_calls(api, faults):
    _, call = one_call(api, "dynamodb")
    faults.rate = 1.0
    call()  # the harness's own call: untouched
    assert not faults.injected


def test_a_transaction_conflict_is_what_aws_sends_and_botocore_does_not_retry(api, faults):
    faults.script["UpdateItem"] = ["TransactionConflictException"]
    faults.script["TransactWriteItems"] = ["TransactionCanceledException"]
    from uws.aws import _CONFIG

    db, table = boto3.client("dynamodb", config=_CONFIG), api.refs["JobsTable"]
    update = {"TableName": table, "Key": {"jobId": {"S": "x"}},
              "UpdateExpression": "SET a = :a", "ExpressionAttributeValues": {":a": {"N": "1"}}}  # fmt: skip
    with acting(), pytest.raises(ClientError) as refused:
        db.update_item(**update)
    assert refused.value.response["Error"]["Code"] == "TransactionConflictException"
    assert refused.value.response["ResponseMetadata"]["RetryAttempts"] == 0
    with acting(), pytest.raises(ClientError) as cancelled:
        db.transact_write_items(TransactItems=[{"Update": update}, {"Update": {
            **update, "Key": {"jobId": {"S": "y"}}}}])  # fmt: skip
    assert cancelled.value.response["Error"]["Code"] == "TransactionCanceledException"
    reasons = [r["Code"] for r in cancelled.value.response["CancellationReasons"]]
    assert reasons == ["TransactionConflict", "None"]


def test_a_write_meeting_a_transaction_is_retried_not_refused(api, faults):
    """The store's own retry of TransactionConflict comes before the 503 (it came after)."""
    job_id = api.create()
    before = api.item(job_id)["version"]["N"]
    faults.script["UpdateItem"] = ["TransactionConflictException"] * 3
    reply = api.request("POST", f"/async/{job_id}/parameters", data={"TEXT": "changed"})
    assert reply.status == 303, reply.body
    assert faults.injected["dynamodb:TransactionConflictException"] == 3
    assert api.item(job_id)["version"]["N"] == str(int(before) + 1)
    assert api.item(job_id)["parameters"]["M"]["TEXT"] == {"L": [{"S": "changed"}]}


def test_a_run_whose_quota_transaction_conflicts_is_queued(api, faults, monkeypatch):
    from uws.config import settings

    monkeypatch.setenv("MAX_ACTIVE_JOBS_PER_OWNER", "3")
    settings.cache_clear()
    job_id = api.create()
    faults.script["TransactWriteItems"] = ["TransactionCanceledException"] * 3
    reply = api.request("POST", f"/async/{job_id}/phase", data={"PHASE": "RUN"})
    assert reply.status == 303, reply.body
    assert text_of(api.job(job_id), "uws:phase") == "QUEUED"
    faults.script["TransactWriteItems"] = ["TransactionCanceledException"] * 5
    api.work()  # the end gives the place back in a transaction, which conflicts 5 times
    assert text_of(api.job(job_id), "uws:phase") == "COMPLETED"
    counter = api.item("active#anonymous")
    assert counter is not None and counter["active"]["N"] == "0"


@pytest.mark.parametrize("start_results", [0, 2])
def test_a_finished_job_outlasting_the_sdks_retries_still_ends_completed(
    api, faults, start_results
):
    """Throttled past botocore's retries (twice over) at its start, or at its final write
    after its result is written: the run tries again, and the job ends COMPLETED with it."""
    job_id = api.create(PHASE="RUN", TEXT="kept")
    faults.script["UpdateItem"] = [None] * start_results + ["ThrottlingException"] * 10
    api.work()
    assert faults.injected["dynamodb:ThrottlingException"] == 10
    root = api.job(job_id)
    assert text_of(root, "uws:phase") == "COMPLETED"
    result = api.request("GET", f"/async/{job_id}/results/result")
    assert result.status in (200, 303)
    assert [key.rsplit("/", 1)[1] for key in api.objects(job_id)] == ["result"]


def test_a_result_write_s3_slows_down_past_the_retries_is_written(api, faults):
    job_id = api.create(PHASE="RUN", TEXT="kept")
    faults.script["PutObject"] = ["SlowDown"] * 7
    api.work()
    assert faults.injected["s3:SlowDown"] == 7
    assert text_of(api.job(job_id), "uws:phase") == "COMPLETED"


def test_a_throttled_worker_invocation_is_tried_again_by_the_mapping(api, faults):
    job_id = api.create(PHASE="RUN")
    faults.script["WorkerFunction"] = [injected.LAMBDA_THROTTLE.code] * 3
    api.work()
    assert faults.injected["lambda:TooManyRequestsException"] == 3
    assert text_of(api.job(job_id), "uws:phase") == "COMPLETED"


def test_a_throttled_api_function_is_a_503_with_retry_after_not_a_bare_500(api, faults):
    from local.gateway import ApiGateway
    from local.template import load, rest_api

    gateway = ApiGateway(api.routes, rest_api(load(), api.refs), api.functions)
    faults.script["JobsFunction"] = [injected.LAMBDA_THROTTLE.code]
    reply = gateway.answer("GET", "/async", "", {}, b"", "127.0.0.1:1")
    assert reply.status == 503 and reply.headers["Retry-After"] == "5"
    assert reply.body == b"The service is busy; please retry shortly."
    assert gateway.answer("GET", "/async", "", {}, b"", "127.0.0.1:1").status == 200


def test_a_stream_batch_resumes_from_the_chunk_eventbridge_would_not_take(api, faults, capsys):
    """Thirteen creations: the first ten are published, the second chunk is throttled past
    every try; the function names its first record, and only the rest is delivered again.
    The events (their owners) are not logged at INFO."""
    from uws.eventbus import PUT_EVENTS_TRIES
    from uws.telemetry import logger

    from local.events import stream_event
    from local.pollers import StreamReader, resumed

    logger.setLevel("INFO")
    arn = api.refs["JobsTable.StreamArn"]
    reader = StreamReader(arn, start="TRIM_HORIZON")
    for index in range(13):
        api.create(owner=f"owner{index}")
    records = reader.read(100)
    assert len(records) == 13
    faults.script["PutEvents"] = [None] + ["ThrottlingException"] * 5 * PUT_EVENTS_TRIES
    reply = api.call_function("EventsFunction", stream_event(records, arn))
    assert reply["published"] == 10
    assert reply["batchItemFailures"] == [
        {"itemIdentifier": records[10]["dynamodb"]["SequenceNumber"]}
    ]
    again = resumed(records, reply["batchItemFailures"])
    assert again == records[10:]
    reply = api.call_function("EventsFunction", stream_event(again, arn))
    assert reply == {"published": 3, "batchItemFailures": []}
    assert resumed(again, reply["batchItemFailures"]) == []
    assert "owner1" not in capsys.readouterr().out


def test_a_wait_whose_read_is_throttled_ends_early_with_the_job(api, faults, monkeypatch):
    """UWS lets a WAIT end early; a read DynamoDB refuses past the SDK's retries is when."""
    import time

    from uws.config import settings

    monkeypatch.setenv("WAIT_CAP_SECONDS", "5")
    settings.cache_clear()
    job_id = api.create()
    # the first read answers; the second and its four retries are throttled
    faults.script["GetItem"] = [None, None] + ["ThrottlingException"] * 5
    started = time.monotonic()
    reply = api.job(job_id, WAIT="5")
    assert time.monotonic() - started < 1
    assert text_of(reply, "uws:phase") == "PENDING"
