"""Lambda's concurrency as the local runtime imposes it (local.concurrency): the account's pool,
each function's reservation from the template, refusal at once."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from local import lambdas
from local.concurrency import Concurrency, minimum_unreserved
from local.pollers import deliver
from local.template import conditions, functions, load, parameter_defaults, rest_api


def reservations(**parameters: str) -> dict[str, int | None]:
    template = load()
    refs = {**parameter_defaults(template), **parameters}
    specs = functions(template, conditions(template, refs), refs)
    return {name: spec.reserved for name, spec in specs.items()}


def test_a_reserved_function_has_its_reservation_and_no_more():
    limits = Concurrency(20, {"Worker": 2})
    assert limits.enter("Worker") and limits.enter("Worker")
    assert not limits.enter("Worker")
    limits.leave("Worker")
    assert limits.enter("Worker")
    assert limits.refused["Worker"] == 1


def test_unreserved_functions_share_what_the_reservations_leave_and_cannot_take_them():
    limits = Concurrency(10, {"Worker": 4})
    assert all(limits.enter(name) for name in ["Job"] * 4 + ["Phase"] * 2)
    assert not limits.enter("Phase") and not limits.enter("Jobs")  # 6 of 6 unreserved taken
    assert all(limits.enter("Worker") for _ in range(4))  # the worker keeps its own
    limits.leave("Job")
    assert limits.enter("Jobs")


def test_reservations_must_leave_what_lambda_keeps_unreserved():
    assert minimum_unreserved(1000) == 100 and minimum_unreserved(20) == 2
    Concurrency(1000, {"a": 900})
    with pytest.raises(ValueError, match="leaving 99"):
        Concurrency(1000, {"a": 900, "b": 1})
    with pytest.raises(ValueError, match="ReserveConcurrency=false"):
        Concurrency(20, {"a": 19})


def test_the_template_reserves_for_the_waiters_the_worker_the_reaper_and_the_events():
    found = reservations()
    assert found["JobFunction"] == 100
    assert found["WorkerFunction"] == 10  # WorkerMaxConcurrency: the queue's most
    assert (found["ReaperFunction"], found["EventsFunction"]) == (1, 4)
    assert found["PhaseFunction"] is None and found["JobsFunction"] is None
    assert sum(r or 0 for r in found.values()) == 115
    Concurrency(1000, {k: v for k, v in found.items() if v})  # deploys on a default account
    tap = reservations(JobType="tap", WaitConcurrency="7", WorkerMaxConcurrency="3")
    assert (tap["TapSyncFunction"], tap["JobFunction"], tap["WorkerFunction"]) == (7, 7, 3)
    assert set(reservations(ReserveConcurrency="false").values()) == {None}


def test_an_invocation_past_the_limit_is_refused_at_once_without_running():
    spec = functions(load())["NotFoundFunction"]
    limits = Concurrency(10, {"NotFoundFunction": 1})
    lambdas.impose(limits)
    try:
        assert lambdas.invoke(spec, {"path": "/x", "httpMethod": "GET"})["statusCode"] == 404
        assert limits.enter("NotFoundFunction")  # another invocation in flight
        started = time.monotonic()
        with pytest.raises(lambdas.Throttled):
            lambdas.invoke(spec, {"path": "/x", "httpMethod": "GET"})
        assert time.monotonic() - started < 0.1
    finally:
        lambdas.impose(None)


@mock_aws
def test_a_batch_throttled_past_its_visibility_timeout_goes_back_to_the_queue():
    sqs = boto3.client("sqs", region_name="us-east-1")
    url = sqs.create_queue(QueueName="q", Attributes={"VisibilityTimeout": "1"})["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="{}")
    spec = functions(load())["WorkerFunction"]
    limits = Concurrency(10, {"WorkerFunction": 1})
    assert limits.enter("WorkerFunction")  # a run takes the worker's only execution
    lambdas.impose(limits)
    try:
        got = sqs.receive_message(QueueUrl=url, AttributeNames=["All"])["Messages"]
        done = threading.Event()
        deliver(spec, url, got, sqs, done, visibility=1.0)  # gives up, deletes nothing
        again = sqs.receive_message(QueueUrl=url, AttributeNames=["All"], WaitTimeSeconds=2)[
            "Messages"
        ]
        assert again[0]["Attributes"]["ApproximateReceiveCount"] == "2"
        assert limits.refused["WorkerFunction"] >= 2
    finally:
        lambdas.impose(None)


def test_a_throttled_client_gets_503_and_the_stage_throttle_429_both_with_retry_after():
    """A throttled Lambda is API Gateway's 500 configuration error (or an integration failure):
    both are a 503 to retry after BusyRetryAfter; the stage's throttle a 429; and any other 5xx
    of API Gateway's own keeps its status but says when to retry."""
    template = load()
    api = rest_api(template, parameter_defaults(template))
    for kind, default, status, after in (
        ("API_CONFIGURATION_ERROR", 500, 503, "5"),
        ("INTEGRATION_FAILURE", 504, 503, "5"),
        ("THROTTLED", 429, 429, "1"),
    ):
        answered, headers, body = api.gateway_response(kind, default, "Rate Exceeded")
        assert (answered, headers["Retry-After"]) == (status, after)
        assert headers["Content-Type"].startswith("text/plain") and body.endswith(b"shortly.")
    answered, headers, _ = api.gateway_response("INTEGRATION_TIMEOUT", 504, "Endpoint timed out")
    assert (answered, headers["Retry-After"]) == (504, "5")
    api = rest_api(template, {**parameter_defaults(template), "BusyRetryAfter": "2"})
    assert api.gateway_response("API_CONFIGURATION_ERROR", 500, "x")[1]["Retry-After"] == "2"


def test_a_handler_that_raises_gives_its_execution_back():
    """Lambda frees an execution when its invocation ends, however it ends."""
    from local.template import FunctionSpec

    limits = Concurrency(20, {"Boom": 1})
    here = Path(__file__)
    spec = FunctionSpec("Boom", here.parent, here.stem, "raising", {}, 3, 128, reserved=1)
    lambdas.impose(limits)
    try:
        for _ in range(3):  # a slot kept would refuse the second
            with pytest.raises(RuntimeError, match="the handler failed"):
                lambdas.invoke(spec, {})
        assert limits.refused.get("Boom", 0) == 0
    finally:
        lambdas.impose(None)


def raising(event, context):
    raise RuntimeError("the handler failed")
