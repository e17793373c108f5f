"""What operators switch on, in `make serve` over HTTP: a quota (HELD, racing RUNs), the
phase-change events, which the local runtime logs (LOG_LEVEL=DEBUG) as it puts them on
moto's EventBridge, and idempotent creation (docs/uws.md, Quotas, Events, Idempotent
creation)."""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor

import requests

from .conftest import running_server

LIMIT = 2


def phase_of(job):
    return requests.get(f"{job}/phase", timeout=10).text


def test_quota_and_events_in_the_local_runtime():
    with running_server(f"MaxActiveJobsPerOwner={LIMIT}", env={"LOG_LEVEL": "DEBUG"}) as server:
        http = requests.Session()

        def create(**params):
            reply = http.post(server.jobs, data=params, allow_redirects=False, timeout=10)
            assert reply.status_code == 303, reply.text
            return reply.headers["Location"]

        # ten RUNs at once with a limit of two: exactly two jobs take a place
        jobs = [create(DURATION="30") for _ in range(10)]
        with ThreadPoolExecutor(10) as pool:
            statuses = list(pool.map(lambda j: requests.post(
                f"{j}/phase", data={"PHASE": "RUN"}, allow_redirects=False, timeout=10
            ).status_code, jobs))  # fmt: skip
        assert statuses == [303] * 10
        phases = [phase_of(j) for j in jobs]
        assert sum(p in ("QUEUED", "EXECUTING") for p in phases) == LIMIT
        assert phases.count("HELD") == 10 - LIMIT
        # ending one frees its place for a held job's RUN
        running = [j for j, p in zip(jobs, phases, strict=True) if p != "HELD"]
        held = next(j for j, p in zip(jobs, phases, strict=True) if p == "HELD")
        http.post(f"{running[0]}/phase", data={"PHASE": "ABORT"}, timeout=10)
        http.post(f"{held}/phase", data={"PHASE": "RUN"}, timeout=10)
        assert phase_of(held) in ("QUEUED", "EXECUTING")
        for job in jobs:
            http.post(f"{job}/phase", data={"PHASE": "ABORT"}, timeout=10)
        # the same Idempotency-Key twice: one job; another body: 422
        keyed = [
            http.post(server.jobs, data={"TEXT": "k"}, headers={"Idempotency-Key": "e2e-1"},
                      allow_redirects=False, timeout=10)
            for _ in range(2)
        ]  # fmt: skip
        assert [r.status_code for r in keyed] == [303, 303]
        assert keyed[0].headers["Location"] == keyed[1].headers["Location"]
        other = http.post(server.jobs, data={"TEXT": "other"}, headers={"Idempotency-Key": "e2e-1"},
                          allow_redirects=False, timeout=10)  # fmt: skip
        assert other.status_code == 422
        # a short job's whole life, for the events
        quick = create(TEXT="e", PHASE="RUN")
        done = http.get(quick, params={"WAIT": "3", "PHASE": "QUEUED"}, timeout=10)
        http.get(quick, params={"WAIT": "3", "PHASE": "EXECUTING"}, timeout=10)
        assert done.status_code == 200
        assert phase_of(quick) == "COMPLETED"
        http.delete(quick, timeout=10)
        time.sleep(1.5)  # the stream is polled four times a second; the log is read at stop

    events = [json.loads(line) for line in server.log.splitlines() if '"UWS Job ' in line]
    quick_id = quick.rsplit("/", 1)[1]
    moves = [(e.get("oldPhase"), e.get("newPhase")) for e in events if e.get("jobId") == quick_id]
    assert moves == [
        (None, "QUEUED"), ("QUEUED", "EXECUTING"), ("EXECUTING", "COMPLETED"), ("COMPLETED", None)
    ]  # fmt: skip
    assert all(e["jobUrl"].startswith(server.base + "/async/") for e in events)
    held_ids = {e["jobId"] for e in events if e.get("newPhase") == "HELD"}
    assert len(held_ids) == 10 - LIMIT
