"""The service over HTTP in an account of 20 concurrent Lambda executions
(``ACCOUNT_CONCURRENCY=20 make serve``) with 100 clients blocking in WAIT: the reservations keep
the worker, the reaper and the events function going, a stream of jobs still completes, and a
refused client sees only 429 or 503 with Retry-After, which it retries."""

from __future__ import annotations

import re
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

from tests.e2e.conftest import running_server
from tests.e2e.test_containers import embedded
from tests.e2e.test_faults import PHASE_IN, PatientClient

WAITERS, PRODUCERS, STREAM = 100, 2, 6  # STREAM jobs each producer creates and runs in turn
WAIT_CONCURRENCY = 8
# The account of 20: the job function 8, the worker 2, the reaper 1, the events function 4;
# the other functions share the 5 left.
# BusyRetryAfter 1: refused clients retry a second apart (the default 5 s spaces out crowds of
# thousands; this one is 100, and the test stays short).
OVERRIDES = (f"WaitConcurrency={WAIT_CONCURRENCY}", "WorkerMaxConcurrency=2", "BusyRetryAfter=1")
TERMINAL = {"COMPLETED", "ERROR", "ABORTED"}


def test_a_hundred_waiting_clients_cannot_stop_the_worker_or_the_reaper():
    refusals: Counter[int] = Counter()
    lock = threading.Lock()
    patient = lambda: PatientClient(refusals, lock, tries=120)  # noqa: E731
    with running_server(*OVERRIDES, env={"ACCOUNT_CONCURRENCY": "20"}) as server:
        soon = datetime.now(UTC) + timedelta(seconds=4)
        data = {"DESTRUCTION": soon.strftime("%Y-%m-%dT%H:%M:%SZ")}
        doomed = patient().call("POST", server.jobs, data=data).headers["Location"]
        failed = threading.Event()  # the test failed: the waiters stop instead of waiting on
        deadline = time.monotonic() + 120  # for the producers' jobs, however loaded the machine
        waiting_jobs: list[str] = []

        def waiter(_: int) -> str:
            """Create a job and block on it, WAIT after WAIT, until it ends."""
            client = patient()
            job = client.call("POST", server.jobs, data={"TEXT": "waiting"}).headers["Location"]
            with lock:
                waiting_jobs.append(job)
            phase = "PENDING"
            while phase not in TERMINAL and not failed.is_set():
                reply = client.call("GET", job, params={"WAIT": "-1"})
                phase = PHASE_IN.search(reply.text).group(1)
            return phase

        def producer(index: int) -> list[str]:
            """Create and run jobs one after another while the waiters wait (polling /phase)."""
            client, phases = patient(), []
            for round_ in range(STREAM):
                data = {"PHASE": "RUN", "TEXT": f"stream {index} {round_}"}
                job = client.call("POST", server.jobs, data=data).headers["Location"]
                phase = "QUEUED"
                while phase not in TERMINAL:
                    # bounded: a job that never ends fails the test instead of hanging it
                    assert not failed.is_set() and time.monotonic() < deadline, (job, phase)
                    time.sleep(0.2)
                    phase = client.call("GET", f"{job}/phase").text
                assert client.call("GET", f"{job}/results/result").status_code == 303
                phases.append(phase)
            return phases

        started = time.monotonic()
        with ThreadPoolExecutor(WAITERS + PRODUCERS) as pool:
            waiters = [pool.submit(waiter, i) for i in range(WAITERS)]
            streams = [pool.submit(producer, i) for i in range(PRODUCERS)]
            try:
                # the stream completes while every waiter is still blocked on its PENDING job
                ended = [p for s in streams for p in s.result(timeout=60)]
                assert ended == ["COMPLETED"] * (PRODUCERS * STREAM)
                # the reaper sweeps: the doomed job is gone soon after its destruction time
                # (seen in the table: the job function's every execution is a waiter's)
                ddb, refs = embedded(server, "dynamodb")
                key = {"jobId": {"S": doomed.rsplit("/", 1)[1]}}
                while "Item" in ddb.get_item(TableName=refs["JobsTable"], Key=key):
                    assert time.monotonic() - started < 30, "the reaper did not destroy the job"
                    time.sleep(0.5)
                assert not any(w.done() for w in waiters)
                assert len(waiting_jobs) == WAITERS
                runner = patient()
                for job in waiting_jobs:  # now the waiters' own jobs run, and their WAITs end
                    ran = runner.call("POST", f"{job}/phase", data={"PHASE": "RUN"})
                    assert ran.status_code == 303
                assert [w.result(timeout=60) for w in waiters] == ["COMPLETED"] * WAITERS
            except BaseException:
                failed.set()
                raise
        elapsed = time.monotonic() - started
    throttled = re.search(r"invocations throttled: (\d+) refused \((.*)\); peak in flight: (.*)",
                          server.log)  # fmt: skip
    assert throttled, server.log[-2000:]
    refused = throttled.group(2)
    peaks = {name: int(n) for name, n in re.findall(r"(\w+) (\d+)", throttled.group(3))}
    assert "JobFunction" in refused and refusals[503] > 0  # the flood met the reservation
    assert peaks["JobFunction"] == WAIT_CONCURRENCY
    for kept in ("WorkerFunction", "ReaperFunction", "EventsFunction"):
        assert kept not in refused, refused  # never throttled by the crowd
    assert set(refusals) <= {429, 503}
    print(f"\n{WAITERS} waiting clients, {PRODUCERS * STREAM} streamed jobs in {elapsed:.0f} s;"
          f" client-visible refusals: {dict(refusals)}; throttled: {refused}; jobs lost: 0")  # fmt: skip
