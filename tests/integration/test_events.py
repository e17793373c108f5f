"""Every file in events/ drives its function (as `sam local invoke -e` would) to the right answer."""

import json
from pathlib import Path

import pytest

from local.events import find_route
from local.invoke import seed_sample_job
from local.lambdas import invoke
from local.make_events import CASES, JOB, OTHER_EVENTS, TAP_CASES, build
from local.template import load, routes
from tests.conftest import set_item

EVENTS = Path(__file__).parents[2] / "events"

EXPECTED = {
    "jobs-get": 200, "jobs-get-filtered": 200, "jobs-post": 303, "jobs-post-run": 303,
    "job-get": 200, "job-get-wait": 200, "job-delete": 303, "job-post-action-delete": 303,
    "phase-get": 200, "phase-post-run": 303, "phase-post-abort": 303,
    "executionduration-get": 200, "executionduration-post": 303,
    "destruction-get": 200, "destruction-post": 303,
    "error-get": 404, "quote-get": 200, "owner-get": 200, "starttime-get": 200,
    "parameters-get": 200, "parameters-get-one": 200, "parameters-post": 303,
    "results-get": 200, "results-get-one": 303, "phase-put-not-allowed": 405,
    "unknown-child-get": 404,
    # a TAP deployment's (test_tap_event_file_gets_its_answer)
    "sync-post": 200, "capabilities-get": 200, "availability-get": 200, "tables-get": 200,
    "tables-get-one": 200, "examples-get": 200,
}  # fmt: skip


def test_every_route_has_events_and_the_files_are_current():
    assert sorted(p.stem for p in EVENTS.glob("*.json")) == sorted([*CASES, *OTHER_EVENTS])
    routed = {find_route(routes(load()), build(name)["path"])[0].function for name in CASES}
    api_functions = {r.function for r in routes(load())}  # every JobType's
    assert routed == api_functions
    expected = {**{n: build(n) for n in CASES}, **{n: make() for n, make in OTHER_EVENTS.items()}}
    for name, event in expected.items():
        if name == "reaper-scheduled":
            continue  # ids and times are the schedule's own
        assert json.loads((EVENTS / f"{name}.json").read_text()) == event, (
            f"events/{name}.json is stale: run python -m local.make_events"
        )


def test_worker_event_runs_the_queued_job(api):
    seed_sample_job("QUEUED")
    event = json.loads((EVENTS / "worker-sqs.json").read_text())
    assert invoke(api.functions["WorkerFunction"], event) == {"batchItemFailures": []}
    assert api.item(JOB)["phase"]["S"] == "COMPLETED"


def test_stream_event_publishes_the_phase_change(api):
    event = json.loads((EVENTS / "events-stream.json").read_text())
    assert invoke(api.functions["EventsFunction"], event) == {
        "published": 1,
        "batchItemFailures": [],
    }


def test_reaper_event_sweeps(api):
    seed_sample_job("PENDING")
    set_item(api, JOB, destruction="2001-01-01T00:00:00.000000Z")
    event = json.loads((EVENTS / "reaper-scheduled.json").read_text())
    assert invoke(api.functions["ReaperFunction"], event) == {
        "destroyed": 1,
        "lost": 0,
        "recovered": 0,
        "timed_out": 0,
    }
    assert api.item(JOB) is None


@pytest.mark.parametrize("name", sorted(TAP_CASES))
def test_tap_event_file_gets_its_answer(tap_api, name):
    event = json.loads((EVENTS / f"{name}.json").read_text())
    route, _ = find_route(tap_api.routes, event["path"])
    reply = tap_api.invoke(route.function, event)
    assert reply.status == EXPECTED[name], reply.body


@pytest.mark.parametrize("name", sorted(set(CASES) - set(TAP_CASES)))
def test_event_file_gets_its_answer(api, name):
    seed_sample_job("PENDING")
    event = json.loads((EVENTS / f"{name}.json").read_text())
    route, _ = find_route(api.routes, event["path"])
    reply = api.invoke(route.function, event)
    assert reply.status == EXPECTED[name], reply.body
    if reply.status == 303:
        assert reply.location.startswith("https://")
    if reply.content_type.startswith("text/xml"):
        api.validate(reply.body)
