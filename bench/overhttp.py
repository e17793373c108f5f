"""5. Over real HTTP through the local runtime: latency of GET, create and RUN, and full
lifecycles per second; the floor is a request API Gateway answers without a function (a
TRACE: its MISSING_AUTHENTICATION_TOKEN response).

Latencies are taken from a runtime without workers: in the one-process runtime a worker
running the previous job holds the GIL a RUN would wait for, which says nothing of Lambda,
where each function has its own process. Lifecycles use a runtime with 4 workers."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import requests

from local.embedded import free_port
from local.template import ROOT

from .common import median_ms, p95_ms, timed


@contextmanager
def local_server(workers: int = 4, *, tap: bool = False) -> Iterator[str]:
    """`make serve` as a user gets it (jobs kept on disk), in a directory of its own; with
    ``tap``, `make serve-tap` (Hipparcos-2 in the embedded S3, jobs in memory)."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    kept = tempfile.TemporaryDirectory(prefix="uws-bench-")
    where = ["--tap", "--keep-in", ""] if tap else ["--keep-in", kept.name]
    process = subprocess.Popen(
        [sys.executable, "-m", "local.serve", "--port", str(port), "--workers", str(workers),
         *where],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(600):  # TAP converts and uploads the catalogue first
            if process.poll() is not None:
                raise RuntimeError(f"local.serve {' '.join(where)} exited ({process.returncode})")
            try:
                requests.get(f"{base}/async", timeout=1)
                break
            except requests.RequestException:
                time.sleep(0.1)
        yield base
    finally:
        process.terminate()
        process.wait(timeout=10)
        kept.cleanup()


PHASE = re.compile(rb"<uws:phase>(\w+)</uws:phase>")


def lifecycle(session: requests.Session, base: str) -> None:
    """What an astronomer's client does: create and run, WAIT until the job document shows it
    done, fetch the result (following the 303), DELETE."""
    job = session.post(f"{base}/async", data={"PHASE": "RUN", "DURATION": "0"},
                       allow_redirects=False).headers["Location"]  # fmt: skip
    phase = "QUEUED"
    deadline = time.monotonic() + 30
    while phase in ("QUEUED", "EXECUTING") and time.monotonic() < deadline:
        document = session.get(job, params={"WAIT": "5", "PHASE": phase}).content
        phase = PHASE.search(document).group(1).decode()  # type: ignore[union-attr]
    assert phase == "COMPLETED", phase
    assert session.get(f"{job}/results/result").status_code == 200
    session.delete(job, allow_redirects=False)


def run(repeat: int = 200, seconds: float = 10.0, clients: int = 4) -> dict[str, Any]:
    latencies = _latencies(repeat)
    with local_server(workers=clients) as base:
        with requests.Session() as session:  # one client alone: create → … → DELETE
            lifecycle(session, base)  # the first imports and connects
            one = timed(lambda: lifecycle(session, base), max(5, repeat // 5))
        done = [0]
        stop = time.monotonic() + seconds

        def client() -> None:
            with requests.Session() as own:
                while time.monotonic() < stop:
                    lifecycle(own, base)
                    done[0] += 1

        threads = [threading.Thread(target=client) for _ in range(clients)]
        started = time.monotonic()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.monotonic() - started
    return {**latencies, "lifecycle_alone": {"median_ms": median_ms(one), "p95_ms": p95_ms(one)},
            "lifecycles_per_second": round(done[0] / elapsed, 2),
            "lifecycle_clients": clients}  # fmt: skip


def _latencies(repeat: int) -> dict[str, Any]:
    with local_server(workers=0) as base, requests.Session() as session:
        floor = timed(lambda: session.request("TRACE", f"{base}/async"), repeat)
        job = session.post(f"{base}/async", data={"TEXT": "x"}, allow_redirects=False).headers[
            "Location"
        ]
        get = timed(lambda: session.get(job), repeat)
        created: list[str] = []
        create = timed(
            lambda: created.append(
                session.post(f"{base}/async", data={"TEXT": "x"}, allow_redirects=False).headers[
                    "Location"
                ]
            ),
            repeat,
        )
        jobs = iter(created)
        run_ = timed(lambda: session.post(f"{next(jobs)}/phase", data={"PHASE": "RUN"},
                                             allow_redirects=False), repeat)  # fmt: skip
    floor_ms = median_ms(floor)

    def row(samples: list[float]) -> dict[str, float]:
        return {"median_ms": median_ms(samples), "p95_ms": p95_ms(samples),
                "ratio_to_floor": round(median_ms(samples) / floor_ms, 2)}  # fmt: skip

    return {
        "floor_gateway_answer": {"median_ms": floor_ms, "p95_ms": p95_ms(floor)},
        "get_job": row(get),
        "create": row(create),
        "run": row(run_),
    }
