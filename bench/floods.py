"""8. Floods and faults over real HTTP: how many waiting clients a deployment with the default
reservations holds before refusing, and what clients see with AWS failing transiently.

Both run the e2e tests' service and clients (tests/e2e: `make serve` as a process, patient
clients that honour Retry-After), measured rather than asserted: WAITs of 3 s, the reaper
every second, IAM enforced.

- flood: ``clients`` clients each block in one WAIT at once while jobs are created and run;
  how many the job function held (its reservation, WaitConcurrency), how many API Gateway
  refused (503 with Retry-After), anything else, and the jobs run meanwhile that ended other
  than COMPLETED (lost).
- faults: ``FAULT_RATE=0.05``, clients x rounds lifecycles: faults injected, refusals clients
  saw (each resolved by a retry), jobs lost, items/files/messages left behind.
"""

from __future__ import annotations

import re
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import requests

from tests.e2e.conftest import running_server
from tests.e2e.test_faults import PatientClient, left_behind, lifecycles

STREAMED = 10  # jobs created and run, one after another, during the flood


def throttled(log: str) -> dict[str, Any]:
    """The runtime's concurrency summary at stop: refusals and peaks per function."""
    found = re.search(r"invocations throttled: (\d+) refused \((.*)\); peak in flight: (.*)", log)
    if found is None:
        return {}
    per = lambda text: {n: int(c) for n, c in re.findall(r"(\w+) (\d+)", text)}  # noqa: E731
    return {"refused": per(found.group(2)), "peak": per(found.group(3))}


def flood(clients: int, pool: int = 1000) -> dict[str, Any]:
    """``clients`` blocking WAITs at once against the default reservations in ``pool``."""
    refusals: Counter[int] = Counter()
    lock = threading.Lock()
    with running_server(env={"ACCOUNT_CONCURRENCY": str(pool)}) as server:
        patient = PatientClient(refusals, lock)
        jobs = [
            patient.call("POST", server.jobs, data={"TEXT": "w"}).headers["Location"]
            for _ in range(clients)
        ]
        start = threading.Barrier(clients + 1)

        def wait_once(job: str) -> tuple[int, bool]:
            with requests.Session() as session:
                session.get(job, timeout=30)  # connected before the barrier
                start.wait()
                reply = session.get(job, params={"WAIT": "-1"}, timeout=30)
            return reply.status_code, bool(reply.headers.get("Retry-After"))

        with ThreadPoolExecutor(clients) as threads:
            answers = threads.map(wait_once, jobs)
            start.wait()
            phases = []
            for index in range(STREAMED):  # run while the waiters wait
                data = {"PHASE": "RUN", "TEXT": f"streamed {index}"}
                job = patient.call("POST", server.jobs, data=data).headers["Location"]
                phase = "QUEUED"
                for _ in range(300):
                    if phase in ("COMPLETED", "ERROR", "ABORTED"):
                        break
                    time.sleep(0.05)
                    phase = patient.call("GET", f"{job}/phase").text
                phases.append(phase)
            seen = Counter(answers)
    limits = throttled(server.log)
    return {
        "pool": pool,
        "clients": clients,
        "held": seen[(200, False)],
        "refused_503_retry_after": seen[(503, True)],
        "other_answers": clients - seen[(200, False)] - seen[(503, True)],
        "jobs_run_meanwhile": STREAMED,
        "jobs_lost": sum(phase != "COMPLETED" for phase in phases),
        "job_function_peak": limits.get("peak", {}).get("JobFunction"),
        "throttled": limits.get("refused", {}),
    }


def faults(clients: int, rounds: int) -> dict[str, Any]:
    """``clients`` x ``rounds`` lifecycles with 5% of the functions' AWS calls failing."""
    refusals: Counter[int] = Counter()
    with running_server(env={"FAULT_RATE": "0.05"}) as server:
        started = time.monotonic()
        runs = lifecycles(server, refusals, clients, rounds)
        seconds = time.monotonic() - started
        left = left_behind(server)
    injected = re.search(r"faults injected: (\d+) \((.*)\)", server.log)
    texts = [f">client {i} round {r}<".encode() for i in range(clients) for r in range(rounds)]
    own = sum(sum(text in result for _, _, result in runs) == 1 for text in texts)
    return {
        "lifecycles": len(runs),
        "seconds": round(seconds, 1),
        "faults_injected": int(injected.group(1)) if injected else None,
        "faults_by_kind": injected.group(2) if injected else "",
        "client_refusals": dict(refusals),
        "jobs_lost": len(runs) - sum(phase == "COMPLETED" for _, phase, _ in runs),
        "with_own_result": own,
        "left_behind": left,
    }


def run(clients: int, fault_clients: int, rounds: int) -> dict[str, Any]:
    return {"flood": flood(clients), "faults": faults(fault_clients, rounds)}


def rows(results: dict[str, Any]) -> list[str]:
    f, x = results["floods"]["flood"], results["floods"]["faults"]
    kept = [
        k for k in ("WorkerFunction", "ReaperFunction", "EventsFunction") if k in f["throttled"]
    ]
    return [
        "",
        f"8. Floods: {f['clients']} clients WAITing at once, default reservations, a pool of {f['pool']}",
        f"  held {f['held']} (job function peak {f['job_function_peak']}), refused"
        f" {f['refused_503_retry_after']} answers 503 with Retry-After, other answers {f['other_answers']};"
        f" {f['jobs_run_meanwhile']} jobs run meanwhile, lost {f['jobs_lost']};"
        f" worker, reaper, events throttled: {', '.join(kept) or 'none'}",
        f"  faults: {x['lifecycles']} lifecycles with 5% of AWS calls failing ({x['seconds']} s):"
        f" {x['faults_injected']} injected ({x['faults_by_kind']})",
        f"  client-visible refusals {x['client_refusals'] or 'none'} (each retried);"
        f" jobs lost {x['jobs_lost']}, with their own result {x['with_own_result']};"
        f" left behind {x['left_behind']}",
    ]  # fmt: skip
