"""Quotas (docs/uws.md, Quotas): at most MaxActiveJobsPerOwner jobs QUEUED or EXECUTING per
owner; a RUN beyond it is HELD. The place is taken and given back in the same DynamoDB
transaction as the phase change, by every path, and holds under racing RUNs."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import boto3
import pytest

from tests.conftest import queued_messages, set_item, text_of

LIMIT = 3


@pytest.fixture
def limited(api, monkeypatch):
    from uws.config import settings

    monkeypatch.setenv("MAX_ACTIVE_JOBS_PER_OWNER", str(LIMIT))
    settings.cache_clear()
    return api


def phase(api, job_id, owner=None):
    return text_of(api.job(job_id, owner=owner), "uws:phase")


def run(api, job_id, owner=None):
    reply = api.request("POST", f"/async/{job_id}/phase", data={"PHASE": "RUN"}, owner=owner)
    assert reply.status == 303, reply.body
    return phase(api, job_id, owner)


def holding(api, owner_key="anonymous"):
    """The owner's jobs that hold a place; the owner's counter must say as many."""
    ddb, table = boto3.client("dynamodb"), api.refs["JobsTable"]
    items = ddb.scan(TableName=table, ConsistentRead=True)["Items"]
    held = {i["jobId"]["S"] for i in items
            if "holdsPlace" in i and i["ownerKey"]["S"] == owner_key}  # fmt: skip
    counter = ddb.get_item(TableName=table, Key={"jobId": {"S": f"active#{owner_key}"}},
                           ConsistentRead=True).get("Item")  # fmt: skip
    assert int((counter or {}).get("active", {}).get("N", "0")) == len(held)
    return held


def test_runs_beyond_the_limit_are_held_and_run_later(limited):
    api = limited
    jobs = [api.create() for _ in range(LIMIT + 2)]
    assert [run(api, j) for j in jobs] == ["QUEUED"] * LIMIT + ["HELD"] * 2
    assert holding(api) == set(jobs[:LIMIT])
    assert len(queued_messages(api)) == LIMIT
    held = jobs[LIMIT]
    version = api.item(held)["version"]
    assert run(api, held) == "HELD" and api.item(held)["version"] == version  # nothing written
    api.request("POST", f"/async/{jobs[0]}/phase", data={"PHASE": "ABORT"})
    assert holding(api) == set(jobs[1:LIMIT])
    assert run(api, held) == "QUEUED"  # the client's RUN again, as UWS 1.1 has it
    assert holding(api) == {*jobs[1:LIMIT], held}


def test_a_held_job_can_be_changed_aborted_and_deleted(limited):
    api = limited
    for _ in range(LIMIT):
        run(api, api.create())
    job_id = api.create()
    assert run(api, job_id) == "HELD"
    reply = api.request(
        "POST", f"/async/{job_id}/executionduration", data={"EXECUTIONDURATION": "60"}
    )
    assert reply.status == 303 and text_of(api.job(job_id), "uws:executionDuration") == "60"
    api.request("POST", f"/async/{job_id}/phase", data={"PHASE": "ABORT"})
    assert phase(api, job_id) == "ABORTED"
    assert api.request("DELETE", f"/async/{job_id}").status == 303
    assert len(holding(api)) == LIMIT


def test_run_at_creation_beyond_the_limit_is_held_without_a_message(limited):
    api = limited
    jobs = [api.create(PHASE="RUN") for _ in range(LIMIT + 1)]
    assert [phase(api, j) for j in jobs] == ["QUEUED"] * LIMIT + ["HELD"]
    assert len(queued_messages(api)) == LIMIT
    assert "deadline" not in api.item(jobs[-1])


@pytest.mark.parametrize(
    "ending",
    ["worker completes", "worker fails", "ABORT", "DELETE", "ACTION=DELETE", "reaper: overdue",
     "reaper: destroyed"],
)  # fmt: skip
def test_every_way_a_job_ends_gives_its_place_back(limited, ending):
    api = limited
    params = {"FAIL": "no"} if ending == "worker fails" else {}
    job_id = api.create(**params)
    run(api, job_id)
    assert holding(api) == {job_id}
    if ending.startswith("worker"):
        api.work()
        assert phase(api, job_id) == ("ERROR" if params else "COMPLETED")
    elif ending == "ABORT":
        api.request("POST", f"/async/{job_id}/phase", data={"PHASE": "ABORT"})
    elif ending == "DELETE":
        assert api.request("DELETE", f"/async/{job_id}").status == 303
    elif ending == "ACTION=DELETE":
        reply = api.request("POST", f"/async/{job_id}", data={"ACTION": "DELETE"})
        assert reply.status == 303
    elif ending == "reaper: overdue":
        set_item(api, job_id, deadline="2000-01-01T00:00:00.000000Z")
        api.sweep()
        assert phase(api, job_id) == "ERROR"
    else:
        set_item(api, job_id, destruction="2000-01-01T00:00:00.000000Z")
        api.sweep()
        assert api.item(job_id) is None
    assert holding(api) == set()
    if api.item(job_id) is not None:
        assert "holdsPlace" not in api.item(job_id)


def test_twenty_racing_runs_with_a_limit_of_three_run_exactly_three(limited):
    api = limited
    jobs = [api.create() for _ in range(20)]

    def post(job_id):
        return api.request("POST", f"/async/{job_id}/phase", data={"PHASE": "RUN"}).status

    with ThreadPoolExecutor(20) as pool:
        assert list(pool.map(post, jobs)) == [303] * 20
    phases = [phase(api, j) for j in jobs]
    assert phases.count("QUEUED") == LIMIT and phases.count("HELD") == 20 - LIMIT
    assert holding(api) == {j for j, p in zip(jobs, phases, strict=True) if p == "QUEUED"}
    assert len(queued_messages(api)) == LIMIT


def test_racing_ends_and_runs_never_pass_the_limit(limited):
    """Jobs ending (ABORT) while others RUN: the counter always matches the active jobs."""
    api = limited
    running = [api.create() for _ in range(LIMIT)]
    for job_id in running:
        run(api, job_id)
    waiting = [api.create() for _ in range(10)]

    def abort(job_id):
        return api.request("POST", f"/async/{job_id}/phase", data={"PHASE": "ABORT"}).status

    def post(job_id):
        return api.request("POST", f"/async/{job_id}/phase", data={"PHASE": "RUN"}).status

    with ThreadPoolExecutor(13) as pool:
        calls = [pool.submit(abort, j) for j in running] + [pool.submit(post, j) for j in waiting]
        assert [c.result() for c in calls] == [303] * 13
    queued = {j for j in waiting if phase(api, j) == "QUEUED"}
    assert len(queued) <= LIMIT and holding(api) == queued


def test_owners_have_quotas_of_their_own_and_anonymous_callers_share_one(limited):
    api = limited
    for owner in ("alice", "bob", None):
        jobs = [api.create(owner=owner) for _ in range(LIMIT + 1)]
        assert [run(api, j, owner) for j in jobs][-2:] == ["QUEUED", "HELD"]
    assert len(holding(api, "user:alice")) == len(holding(api, "user:bob")) == LIMIT
    assert len(holding(api)) == LIMIT


def test_the_counters_are_no_jobs(limited):
    api = limited
    run(api, api.create())
    ids = [ref.get("id") for ref in api.validate(api.request("GET", "/async").body)]
    assert len(ids) == 1 and all(not i.startswith("active#") for i in ids)
    assert api.request("GET", "/async/active%23anonymous").status == 404
    api.sweep()
    assert holding(api) == set(ids)


def test_without_a_limit_there_is_no_bookkeeping(api):
    job_id = api.create(PHASE="RUN")
    assert "holdsPlace" not in api.item(job_id)
    assert api.item("active#anonymous") is None
    api.work()
    assert phase(api, job_id) == "COMPLETED"
