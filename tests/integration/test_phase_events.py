"""Phase-change events (docs/uws.md, Events): the job table's stream through EventsFunction to
EventBridge (moto's), where a rule sends them to a queue as it would to any target."""

from __future__ import annotations

import json

import boto3
import pytest

from local.template import load
from tests.conftest import BASE, set_item


def subscribe(api, pattern):
    """A rule on the default bus with ``pattern``, its target a queue; return the queue."""
    sqs, events = boto3.client("sqs"), boto3.client("events")
    url = sqs.create_queue(QueueName="phase-events")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]
    events.put_rule(Name="phase-events", EventPattern=json.dumps(pattern))
    events.put_targets(Rule="phase-events", Targets=[{"Id": "q", "Arn": arn["QueueArn"]}])
    return url


def delivered(url):
    sqs, found = boto3.client("sqs"), []
    while got := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages"):
        found += [json.loads(m["Body"]) for m in got]
        sqs.delete_message_batch(
            QueueUrl=url,
            Entries=[
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(got)
            ],
        )
    return found


def moves(events, job_id):
    return [
        (e["detail-type"], e["detail"]["oldPhase"], e["detail"]["newPhase"])
        for e in events
        if e["detail"]["jobId"] == job_id
    ]


@pytest.fixture
def subscribed(api):
    return subscribe(api, {"source": ["uws"]})


def test_a_jobs_life_is_one_event_per_phase_change_in_order(api, subscribed):
    job_id = api.create(TEXT="x", RUNID="run-1")
    api.request("POST", f"/async/{job_id}/phase", data={"PHASE": "RUN"})
    api.work()
    api.request("DELETE", f"/async/{job_id}")
    assert api.announce() == 5
    events = delivered(subscribed)
    changed = "UWS Job Phase Changed"
    assert moves(events, job_id) == [
        (changed, None, "PENDING"),
        (changed, "PENDING", "QUEUED"),
        (changed, "QUEUED", "EXECUTING"),
        (changed, "EXECUTING", "COMPLETED"),
        ("UWS Job Destroyed", "COMPLETED", None),
    ]
    detail = events[0]["detail"]
    assert events[0]["source"] == "uws"
    assert detail["jobUrl"] == f"{BASE}/async/{job_id}"
    assert (detail["runId"], detail["ownerId"]) == ("run-1", None)
    assert "errorMessage" not in detail
    sequences = [int(e["detail"]["sequence"]) for e in events]
    assert sequences == sorted(sequences) and len(set(sequences)) == 5


def test_changes_that_keep_the_phase_are_no_events(api, subscribed):
    job_id = api.create()
    api.announce()
    delivered(subscribed)
    api.request("POST", f"/async/{job_id}/parameters", data={"TEXT": "y"})
    api.request("POST", f"/async/{job_id}/destruction", data={"DESTRUCTION": "2999-01-01"})
    api.request("POST", f"/async/{job_id}/executionduration", data={"EXECUTIONDURATION": "5"})
    assert api.announce() == 0 and delivered(subscribed) == []


def test_errors_aborts_holds_and_the_reaper_are_announced(api, subscribed, monkeypatch):
    from uws.config import settings

    failing = api.create(FAIL="out of disk", PHASE="RUN", owner="alice")
    api.work()
    aborted = api.create()
    api.request("POST", f"/async/{aborted}/phase", data={"PHASE": "ABORT"})
    expired = api.create()
    set_item(api, expired, destruction="2000-01-01T00:00:00.000000Z")
    api.sweep()
    monkeypatch.setenv("MAX_ACTIVE_JOBS_PER_OWNER", "1")
    settings.cache_clear()
    first, second = api.create(PHASE="RUN"), api.create(PHASE="RUN")
    api.announce()
    events = delivered(subscribed)
    error = next(e for e in events if e["detail"]["newPhase"] == "ERROR")
    assert error["detail"]["errorMessage"] == "out of disk"
    assert error["detail"]["ownerId"] == "alice" and error["detail"]["jobId"] == failing
    assert moves(events, aborted)[-1][1:] == ("PENDING", "ABORTED")
    assert moves(events, expired)[-1] == ("UWS Job Destroyed", "PENDING", None)
    assert moves(events, first) == [("UWS Job Phase Changed", None, "QUEUED")]
    assert moves(events, second) == [("UWS Job Phase Changed", None, "HELD")]
    assert all(not e["detail"]["jobId"].startswith("active#") for e in events)


def test_the_templates_example_rule_matches_errors_only(api):
    """JobErrorRule's own pattern, from template.yaml: only ERROR reaches its target."""
    pattern = load()["Resources"]["JobErrorRule"]["Properties"]["EventPattern"]
    url = subscribe(api, pattern)
    api.create(PHASE="RUN")
    failing = api.create(FAIL="bad input", PHASE="RUN")
    api.work()
    api.announce()
    events = delivered(url)
    assert [(e["detail"]["jobId"], e["detail"]["newPhase"]) for e in events] == [(failing, "ERROR")]
