"""9. TAP over real HTTP: a 2° cone search around Sirius on Hipparcos-2, as pyvo runs it, once
as an async job's whole lifecycle (create+RUN, WAIT until done, the result, DELETE) and once
sync, against `make serve-tap` (a subprocess, jobs in memory) and against GAVO DaCHS 2.7 on
the same machine over the same rows (bench/dachs.py). The same client code runs both, their
calls interleaved so that the machine's noise hits both alike; DaCHS is the floor.

Each service answers one lifecycle and one sync query before the clock runs (imports,
connections, the first read of the table); that first run is reported apart.
"""

from __future__ import annotations

import itertools
import time
from typing import Any

from pyvo.dal import TAPService

from .common import median_ms
from .dachs import Unavailable, dachs_tap
from .overhttp import local_server

QUERY = (
    "SELECT hip, ra, dec, hpmag FROM hipparcos.main WHERE "
    "1=CONTAINS(POINT('ICRS', ra, dec), CIRCLE('ICRS', 101.2872, -16.7161, 2))"
)
PARTS = ("create_run", "wait", "result", "delete")
ASYNC_TARGET = 5.0  # ours at least 5 times faster than DaCHS (issue 24)
SYNC_TARGET = 1.5  # ours at most 1.5 times DaCHS's time


def lifecycle(service: TAPService) -> tuple[dict[str, float], int]:
    """What `run_async` does (without its read of /capabilities), each step timed: seconds
    per step and the rows the result has."""
    marks = [time.perf_counter()]
    job = service.submit_job(QUERY)
    job.run()
    marks.append(time.perf_counter())
    job.wait(timeout=60)
    job.raise_if_error()
    marks.append(time.perf_counter())
    rows = len(job.fetch_result())
    marks.append(time.perf_counter())
    job.delete()
    marks.append(time.perf_counter())
    return {
        part: b - a for part, (a, b) in zip(PARTS, itertools.pairwise(marks), strict=True)
    }, rows


def sync(service: TAPService) -> tuple[float, int]:
    """`run_sync`: seconds and rows."""
    started = time.perf_counter()
    rows = len(service.run_sync(QUERY))
    return time.perf_counter() - started, rows


def _spread(samples: list[float]) -> dict[str, float]:
    return {"median_ms": median_ms(samples), "min_ms": median_ms([min(samples)]),
            "max_ms": median_ms([max(samples)])}  # fmt: skip


def measure(urls: dict[str, str], repeat: int) -> dict[str, dict[str, Any]]:
    """Each service's lifecycle and sync query, ``repeat`` rounds, one service after the
    other in each round. A lifecycle's WAIT over half a second is counted: pyvo sleeps a
    second whenever a WAIT returns with the job still active (QUEUED → EXECUTING)."""
    services = {name: TAPService(url) for name, url in urls.items()}
    out: dict[str, dict[str, Any]] = {}
    for name, service in services.items():
        steps, rows = lifecycle(service)
        first_sync, sync_rows = sync(service)
        assert rows == sync_rows, (name, rows, sync_rows)
        out[name] = {"url": urls[name], "rows": rows,
                     "first_async_ms": median_ms([sum(steps.values())]),
                     "first_sync_ms": median_ms([first_sync])}  # fmt: skip
    parts: dict[str, dict[str, list[float]]] = {n: {p: [] for p in PARTS} for n in services}
    totals: dict[str, list[float]] = {name: [] for name in services}
    syncs: dict[str, list[float]] = {name: [] for name in services}
    for _ in range(repeat):
        for name, service in services.items():
            steps, rows = lifecycle(service)
            assert rows == out[name]["rows"], (name, rows)
            totals[name].append(sum(steps.values()))
            for part, seconds in steps.items():
                parts[name][part].append(seconds)
        for name, service in services.items():
            seconds, rows = sync(service)
            assert rows == out[name]["rows"], (name, rows)
            syncs[name].append(seconds)
    for name in services:
        out[name]["async"] = {
            **_spread(totals[name]),
            "steps_median_ms": {p: median_ms(s) for p, s in parts[name].items()},
            "waits_over_half_second": sum(w > 0.5 for w in parts[name]["wait"]),
        }
        out[name]["sync"] = _spread(syncs[name])
        out[name]["runs"] = repeat
    return out


def cone_search(url: str, repeat: int = 10) -> dict[str, Any]:
    """One TAP service's figures (the client code both services get)."""
    return measure({"service": url}, repeat)["service"]


def run(repeat: int = 20) -> dict[str, Any]:
    """Ours against DaCHS, and the ratios the issue sets targets for."""
    result: dict[str, Any] = {"query": QUERY}
    with local_server(tap=True) as ours:
        try:
            with dachs_tap() as (dachs_url, setup):
                result.update(measure({"ours": ours, "dachs": dachs_url}, repeat))
                result["dachs"]["setup"] = setup.as_dict()
        except Unavailable as why:
            result.update(measure({"ours": ours}, repeat))
            result["dachs"] = {"skipped": str(why)}
            return result
    if result["ours"]["rows"] != result["dachs"]["rows"]:
        raise AssertionError(f"the services disagree: {result['ours']['rows']} rows ours,"
                             f" {result['dachs']['rows']} DaCHS's")  # fmt: skip
    ours_async, dachs_async = result["ours"]["async"], result["dachs"]["async"]
    ours_sync, dachs_sync = result["ours"]["sync"], result["dachs"]["sync"]
    faster = dachs_async["median_ms"] / ours_async["median_ms"]
    sync_ratio = ours_sync["median_ms"] / dachs_sync["median_ms"]
    result["ratios"] = {
        "async_ours_over_dachs": round(1 / faster, 3),
        "async_times_faster": round(faster, 1),
        "async_target_times_faster": ASYNC_TARGET,
        "async_met": faster >= ASYNC_TARGET,
        "sync_ours_over_dachs": round(sync_ratio, 2),
        "sync_target": SYNC_TARGET,
        "sync_met": sync_ratio <= SYNC_TARGET,
    }
    return result


def rows(results: dict[str, Any]) -> list[str]:
    """The table's lines for section 8."""
    tap = results["tap"]
    lines = [
        "",
        "9. TAP: a 2° cone (Hipparcos-2, around Sirius) through pyvo, ours vs GAVO DaCHS 2.7",
    ]
    names = ("ours", "dachs") if "async" in tap.get("dachs", {}) else ("ours",)
    for name in names:
        r = tap[name]
        steps = ", ".join(f"{k} {v}" for k, v in r["async"]["steps_median_ms"].items())
        lines.append(
            f"  {name:<6} async median {r['async']['median_ms']} ms"
            f" ({r['async']['min_ms']} to {r['async']['max_ms']}; {steps});"
            f" sync median {r['sync']['median_ms']} ms ({r['sync']['min_ms']} to {r['sync']['max_ms']});"
            f" {r['rows']} rows, first run {r['first_async_ms']} / {r['first_sync_ms']} ms"
        )
    if "ratios" in tap:
        q = tap["ratios"]
        lines.append(
            f"  async: ours {q['async_times_faster']}x faster (target ≥ {ASYNC_TARGET});"
            f" sync: ours ÷ DaCHS {q['sync_ours_over_dachs']} (target ≤ {SYNC_TARGET})"
        )
        setup = tap["dachs"]["setup"]
        lines.append(f"  DaCHS set up in {setup['total_s']} s under {setup['work_dir']}")
    else:
        lines.append(f"  DaCHS skipped: {tap['dachs']['skipped']}")
    return lines


if __name__ == "__main__":
    import json
    import sys

    print(json.dumps(run(int(sys.argv[1]) if len(sys.argv) > 1 else 5), indent=2))
