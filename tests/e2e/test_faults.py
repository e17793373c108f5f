"""The service over HTTP with AWS failing transiently (``FAULT_RATE=0.05 make serve``): every
job still ends COMPLETED with its own result, nothing is left behind, and a client sees at
most 503s (or 429s) with Retry-After that a retry resolves: our own patient client, and pyvo
given the retrying session the README gives astronomers."""

from __future__ import annotations

import re
import threading
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import requests
from pyvo.dal.tap import AsyncTAPJob
from requests.adapters import HTTPAdapter
from urllib3.util import Retry

from tests.e2e.conftest import running_server
from tests.e2e.test_containers import embedded

PHASE_IN = re.compile(r"<uws:phase>(\w+)</uws:phase>")
CLIENTS, ROUNDS = 50, 6
ASTRONOMERS = 4  # pyvo scripts beside the patient clients, ROUNDS jobs each


def retrying_session() -> requests.Session:
    """The README's session for pyvo (which raises on a 429 or 503): urllib3 retries them after
    their Retry-After, whatever the method (a creation carries an Idempotency-Key, so a repeat
    makes no second job; RUN and DELETE are idempotent)."""
    retry = Retry(total=30, status_forcelist=(429, 503), allowed_methods=None,
                  respect_retry_after_header=True, backoff_factor=0.5)  # fmt: skip
    session = requests.Session()
    session.mount("http://", HTTPAdapter(max_retries=retry))
    session.mount("https://", HTTPAdapter(max_retries=retry))
    return session


def astronomer(server: Any, index: int, rounds: int = ROUNDS) -> list[tuple[str, str, str]]:
    """An astronomer's pyvo script: create (with an Idempotency-Key), run, wait, fetch the
    result, delete, ``rounds`` times; (job URL, final phase, the result's text) for each."""
    session, seen = retrying_session(), []
    for round_ in range(rounds):
        text = f"astronomer {index} round {round_}"
        key = {"Idempotency-Key": str(uuid.uuid4())}
        created = session.post(server.jobs, data={"TEXT": text}, headers=key, timeout=60)
        assert [r.status_code for r in created.history] == [303], created.text
        job = AsyncTAPJob(created.url, session=session)
        job.run().wait(timeout=180)
        job.raise_if_error()
        found = job.fetch_result().to_table()
        seen.append((job.url, job.phase, str(found["text"][0])))
        job.delete()
    return seen


class PatientClient:
    """A client that retries what the service asks it to retry (503 and 429 with
    Retry-After), as pyvo does for 429, and counts each such refusal."""

    def __init__(self, refusals: Counter[int], lock: threading.Lock, tries: int = 30) -> None:
        self.session = requests.Session()
        self.refusals, self.lock, self.tries = refusals, lock, tries

    def call(self, method: str, url: str, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", 60)
        for _ in range(self.tries):
            reply = self.session.request(method, url, allow_redirects=False, **kwargs)
            if reply.status_code not in (429, 503):
                assert reply.status_code < 500, (reply.status_code, reply.text)
                return reply
            assert reply.headers.get("Retry-After"), (reply.status_code, reply.text)
            with self.lock:
                self.refusals[reply.status_code] += 1
            time.sleep(float(reply.headers["Retry-After"]))
        raise AssertionError(f"{method} {url}: still refused after {self.tries} tries")


def lifecycles(
    server: Any, refusals: Counter[int], clients: int = CLIENTS, rounds: int = ROUNDS
) -> list[tuple[str, str, bytes]]:
    """``clients`` clients at once, each ``rounds`` times: create with RUN, WAIT until done,
    fetch the result, DELETE; (job URL, final phase, result) for each."""
    lock = threading.Lock()

    def client(index: int) -> list[tuple[str, str, bytes]]:
        patient, seen = PatientClient(refusals, lock), []
        for round_ in range(rounds):
            text = f"client {index} round {round_}"
            created = patient.call("POST", server.jobs, data={"PHASE": "RUN", "TEXT": text})
            assert created.status_code == 303, created.text
            job = created.headers["Location"]
            phase, deadline = "QUEUED", time.monotonic() + 180
            while phase in ("PENDING", "QUEUED", "EXECUTING") and time.monotonic() < deadline:
                reply = patient.call("GET", job, params={"WAIT": "3", "PHASE": phase})
                phase = PHASE_IN.search(reply.text).group(1)
            result = patient.call("GET", f"{job}/results/result")
            assert result.status_code == 303, result.text
            content = requests.get(result.headers["Location"], timeout=60).content
            deleted = patient.call("DELETE", job)
            # a DELETE answered 503 after it removed the job finds it gone when retried
            assert deleted.status_code in (303, 404), deleted.text
            seen.append((job, phase, content))
        return seen

    with ThreadPoolExecutor(clients) as pool:
        return [run for seen in pool.map(client, range(clients)) for run in seen]


def left_behind(server: Any) -> dict[str, int]:
    """Items in the job table, objects in the bucket, messages in the queues."""
    ddb, refs = embedded(server, "dynamodb")
    s3, _ = embedded(server, "s3")
    sqs, _ = embedded(server, "sqs")
    items = ddb.scan(TableName=refs["JobsTable"], ConsistentRead=True)["Items"]
    objects = s3.list_objects_v2(Bucket=refs["ResultsBucket"]).get("KeyCount", 0)
    messages = 0
    for queue in ("JobsQueue", "JobsDeadLetterQueue"):
        attributes = sqs.get_queue_attributes(QueueUrl=refs[queue], AttributeNames=["All"])
        counts = attributes["Attributes"]
        messages += int(counts["ApproximateNumberOfMessages"])
        messages += int(counts["ApproximateNumberOfMessagesNotVisible"])
    return {"items": len(items), "objects": objects, "messages": messages}


def test_fifty_clients_six_lifecycles_with_five_percent_of_aws_calls_failing():
    refusals: Counter[int] = Counter()
    # BusyRetryAfter 1: a throttled client retries a second later, not five (what is tested
    # here is that nothing is lost, not how far apart a crowd's retries are)
    with running_server("BusyRetryAfter=1", env={"FAULT_RATE": "0.05"}) as server:
        started = time.monotonic()
        with ThreadPoolExecutor(ASTRONOMERS) as pool:
            scripts = [pool.submit(astronomer, server, i) for i in range(ASTRONOMERS)]
            runs = lifecycles(server, refusals)
            by_pyvo = [run for script in scripts for run in script.result(timeout=300)]
        elapsed = time.monotonic() - started
        assert [(phase, text) for _, phase, text in by_pyvo] == [
            ("COMPLETED", f"astronomer {i} round {r}") for i in range(ASTRONOMERS) for r in range(ROUNDS)
        ]  # fmt: skip
        assert len(runs) == CLIENTS * ROUNDS and len({job for job, _, _ in runs}) == len(runs)
        assert [phase for _, phase, _ in runs] == ["COMPLETED"] * len(runs)
        for index in range(CLIENTS):
            for round_ in range(ROUNDS):
                text = f"client {index} round {round_}".encode()
                assert sum(b">" + text + b"<" in result for _, _, result in runs) == 1
        patient = PatientClient(refusals, threading.Lock())
        assert {patient.call("GET", job).status_code for job, _, _ in runs + by_pyvo} == {404}
        assert left_behind(server) == {"items": 0, "objects": 0, "messages": 0}
    injected = re.search(r"faults injected: (\d+) \((.*)\)", server.log)
    assert injected, server.log[-2000:]
    total = int(injected.group(1))
    assert total > 200  # thousands of calls: about 5% of them
    kinds = injected.group(2)
    for kind in ("dynamodb:", "s3:", "sqs:", "lambda:TooManyRequestsException"):
        assert kind in kinds, kinds
    print(f"\n{len(runs)} jobs and {len(by_pyvo)} by pyvo in {elapsed:.0f} s; faults injected: {total} ({kinds}); "
          f"client-visible refusals: {dict(refusals)}; jobs lost: 0")  # fmt: skip


def test_pyvo_s_tap_queries_ride_through_ten_percent_of_aws_calls_failing():
    """TAP (`make serve-tap`) with AWS failing transiently: pyvo, given the README's session,
    gets every sync and async query's right rows (checked against DuckDB reading the
    catalogue's Parquet directly), and no query fails."""
    import duckdb
    import pyvo

    from local.catalogue import BUILT

    path = next((BUILT / "hipparcos" / "main").glob("*.parquet"))
    env = {"FAULT_RATE": "0.1", "TAP_UPLOAD_LOOPBACK": "1"}
    with running_server("BusyRetryAfter=1", tap=True, env=env) as server:
        tap = pyvo.dal.TAPService(server.base, session=retrying_session())
        for limit in (1.5, 4.0, 7.25):
            expected = [row[0] for row in duckdb.sql(
                f"SELECT hip FROM read_parquet('{path}') WHERE hpmag > {limit}"
                " ORDER BY hpmag, hip LIMIT 5").fetchall()]  # fmt: skip
            query = ("SELECT TOP 5 hip FROM hipparcos.main WHERE hpmag > "
                     f"{limit} ORDER BY hpmag, hip")  # fmt: skip
            for _ in range(4):
                assert [int(h) for h in tap.run_sync(query).to_table()["hip"]] == expected
                assert [int(h) for h in tap.run_async(query).to_table()["hip"]] == expected
    injected = re.search(r"faults injected: (\d+) \((.*)\)", server.log)
    assert injected and int(injected.group(1)) > 10, server.log[-2000:]
    print(f"\n24 TAP queries by pyvo; faults injected: {injected.group(1)} ({injected.group(2)})")
