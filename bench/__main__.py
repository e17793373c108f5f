"""``make bench``: every benchmark, a table on the terminal and bench/results.json.

Each figure is a ratio against a floor measured in the same run (these machines are shared
and noisy): `import boto3` for cold starts, a bare GetItem for warm requests, the smaller
table for scale, an unrouted request for HTTP, a bare boto3 process for memory, GAVO DaCHS
2.7 on the same machine for TAP (bench/tap.py sets it up, or skips it saying why). The
functions log at INFO and emit their metrics, as deployed; their output goes to /dev/null.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from . import calls, cost, floods, memory, overhttp, scale, startup, tap
from . import hats as hats_bench

RESULTS = Path(__file__).parent / "results.json"
# GAVO DaCHS 2.7 measured on these machines with the same client and bench shape:
# GET of a job document 1.9 to 2.1 ms median, a whole lifecycle 1.04 to 2.04 s.
DACHS_GET_MS = 2.0
DACHS_LIFECYCLE_MS = 1040


@contextlib.contextmanager
def quiet_stdout() -> Iterator[Any]:
    """Send fd 1 (where Lambda logs go) to /dev/null; yield a stream to the real terminal."""
    sys.stdout.flush()
    saved = os.dup(1)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    terminal = os.fdopen(os.dup(saved), "w", buffering=1)
    try:
        yield terminal
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)
        os.close(devnull)
        terminal.close()


def table(results: dict[str, Any]) -> str:
    lines = ["", "1. AWS calls per operation"]
    for row in results["calls"]["operations"]:
        calls_ = ", ".join(f"{k.split('.')[1]} x{v}" for k, v in row["calls"].items()) or "none"
        mark = "ok " if row["met"] else "MISS"
        lines.append(f"  {mark} {row['operation']:<40} {calls_:<48} items {row['items_read']}")
    cold = results["cold_start"]
    lines += ["", f"2. Cold start (import boto3 = {cold['floor_import_boto3_ms']} ms)"]
    for name, row in cold["functions"].items():
        lines.append(f"  {name:<28} {row['ms']:>7} ms   ratio {row['ratio']}")
    lines.append(
        f"  worst ratio {cold['worst_ratio']}, median {cold['median_ratio']} (target ≤ 1.3);"
        f" none imports {' or '.join(cold['imports_neither'])}"
    )
    cold_tap = results["cold_start_tap"]
    lines.append(f"  TAP's (import boto3 = {cold_tap['floor_import_boto3_ms']} ms; report):")
    for name, row in cold_tap["functions"].items():
        lines.append(f"  {name:<28} {row['ms']:>7} ms   ratio {row['ratio']}"
                     f"   imports {', '.join(row['imports']) or 'neither'}")  # fmt: skip
    layer = results["lambda_layer"]
    if "skipped" in layer:
        lines.append(f"  as Lambda imports the built layer: skipped ({layer['skipped']})")
    else:
        lines.append(
            f"  as Lambda imports the built layer (python3.12, read-only): PhaseFunction"
            f" {layer['phase_function_shipped_ms']} ms, ratio {layer['ratio_shipped']};"
            f" without the shipped .pyc {layer['phase_function_without_pyc_ms']} ms,"
            f" ratio {layer['ratio_without_pyc']}"
        )
    warm = results["warm"]
    lines += ["", "3. Warm GET of a job document",
              f"  bare GetItem {warm['floor_getitem_ms']} ms, handler {warm['handler_get_job_ms']} ms,"
              f" ratio {warm['ratio']} (target ≤ 1.3)"]  # fmt: skip
    sc = results["scale"]
    lines += ["", "4. Scale (1,000 vs 100,000 jobs stored, 10 expired)"]
    for size in ("small", "large"):
        r = sc[size]
        lines.append(
            f"  {r['jobs']:>7} jobs: list LAST=10 reads {r['list_items_read']} items, ours"
            f" {r['list_our_ms']} ms (moto {r['list_moto_wall_ms']} ms); sweep reads"
            f" {r['sweep_items_read']} items, ours {r['sweep_our_ms']} ms (moto {r['sweep_moto_wall_ms']} ms)"
        )
    lines.append(f"  our-time ratio 100k/1k: list {sc['list_our_time_ratio']}, sweep"
                 f" {sc['sweep_our_time_ratio']} (target ≤ 1.2)")  # fmt: skip
    http = results["http"]
    lines += [
        "",
        f"5. Over HTTP (floor: a TRACE API Gateway answers, {http['floor_gateway_answer']['median_ms']} ms)",
    ]
    for name in ("get_job", "create", "run"):
        r = http[name]
        lines.append(
            f"  {name:<8} median {r['median_ms']} ms  p95 {r['p95_ms']} ms  ratio {r['ratio_to_floor']}"
        )
    alone = http["lifecycle_alone"]
    lines.append(f"  one lifecycle alone (create+RUN, WAITs, result, DELETE): median {alone['median_ms']} ms,"
                 f" p95 {alone['p95_ms']} ms")  # fmt: skip
    lines.append(
        f"  against GAVO DaCHS 2.7 on these machines (GET {DACHS_GET_MS} ms, lifecycle ~1 s):"
        f" GET {round(http['get_job']['median_ms'] / DACHS_GET_MS, 2)}x (target ≤ 1.5),"
        f" lifecycle {round(DACHS_LIFECYCLE_MS / alone['median_ms'], 1)}x faster (target ≥ 20,"
        f" i.e. ≤ 50 ms)"
    )
    lines.append(
        f"  full lifecycles: {http['lifecycles_per_second']}/s with {http['lifecycle_clients']} clients"
    )
    mem = results["memory"]
    lines += ["", f"6. Memory: {mem['serving_rss_mb']} MB peak after {mem['requests']} requests"
              f" (bare boto3 {mem['floor_boto3_getitem_rss_mb']} MB; target ≤ 100)"]  # fmt: skip
    money = results["cost"]
    lines += ["", "7. On AWS, per month (us-east-1 list prices, no free tier; README: assumptions)"]
    lines.append(f"  a lifecycle: {money['lifecycle']['api_requests']} API requests,"
                 f" {len(money['lifecycle']['invocations'])} invocations,"
                 f" {money['lifecycle']['lambda_ms']} ms of Lambda")  # fmt: skip
    for volume, month in money["per_month"].items():
        lines.append(f"  {int(volume):>12,} lifecycles: ${month['total']:>9,.2f}"
                     f"   (a DaCHS server: ${money['dachs_server_month']:,.2f})")  # fmt: skip
    if "hats" in money:
        lines += cost.hats_rows(money["hats"])
    lines += floods.rows(results)
    lines += tap.rows(results)
    return "\n".join(lines)


def cold_import_seconds(results: dict[str, Any]) -> float:
    """The median function's cold import this run measured, in seconds."""
    rows = sorted(r["ms"] for r in results["cold_start"]["functions"].values())
    return rows[len(rows) // 2] / 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller samples (a smoke run)")
    args = parser.parse_args()
    quick = args.quick
    started = time.monotonic()
    results: dict[str, Any] = {"machine": platform.platform(), "python": platform.python_version()}
    with quiet_stdout() as out:
        steps = [
            ("calls", calls.run),
            ("cold_start", lambda: startup.cold_start(2 if quick else 7)),
            ("cold_start_tap", lambda: startup.tap_cold_start(2 if quick else 7)),
            ("lambda_layer", lambda: startup.lambda_layer_import(2 if quick else 7)),
            ("warm", lambda: startup.warm_overhead(100 if quick else 400)),
            ("scale", lambda: scale.run(1000, 5000 if quick else 100_000)),
            ("http", lambda: overhttp.run(30 if quick else 200, 3 if quick else 10)),
            ("memory", lambda: memory.run(100 if quick else 1000)),
            ("tap", lambda: tap.run(5 if quick else 20)),
            ("floods", lambda: floods.run(150, 10 if quick else 50, 2 if quick else 6)),
            (
                "cost",
                lambda: cost.run(5 if quick else 20, cold_import_s=cold_import_seconds(results)),
            ),
        ]
        for name, step in steps:
            print(f"running {name} …", file=out)
            results[name] = step()
        print("running hats (HATS cones; builds its catalogues once, minutes) …", file=out)
        results["hats"] = hats_bench.run([100_000] if quick else [1_000_000, 10_000_000])
        results["cost"]["hats"] = cost.hats(results["hats"])
        results["cold_start"]["median_ratio"] = sorted(
            r["ratio"] for r in results["cold_start"]["functions"].values()
        )[len(results["cold_start"]["functions"]) // 2]
        results["seconds"] = round(time.monotonic() - started, 1)
        RESULTS.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")
        print(table(results), file=out)
        print(hats_bench.table(results["hats"]), file=out)
        print(f"\n{results['seconds']} s; figures in {RESULTS}", file=out)


if __name__ == "__main__":
    main()
