"""4. Cost as the number of stored jobs grows: the job list (LAST=10) and one reaper sweep
with 1,000 and with 100,000 jobs stored, 10 of them expired.

DynamoDB bills, and its latency follows, the items a Query reads, not the items a table holds;
moto's Query instead walks every item of the table. So three figures per size: items read
(what DynamoDB would read and bill), our own time (the handler's time minus the time spent
inside AWS calls) and moto's wall time, which grows with the table for moto's reasons.
"""

from __future__ import annotations

import datetime
import gc
import statistics
import time
from typing import Any

from local.events import scheduled_event
from local.inprocess import in_process_aws

from .common import bench_api, counter_on_layer_clients


def _fill(table: str, count: int, expired: int) -> None:
    """Store jobs straight into moto's backend: the HTTP layer would only slow the setup."""
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.dynamodb.models import dynamodb_backends
    from uws.config import settings
    from uws.isodt import utcnow
    from uws.job import new_job
    from uws.store import item_from_job

    backend = dynamodb_backends[DEFAULT_ACCOUNT_ID]["us-east-1"]
    now = utcnow()
    config = settings()
    for index in range(count):
        job = new_job("alice", "demo", now - datetime.timedelta(seconds=count - index), config)
        if index < expired:
            job.destruction = now - datetime.timedelta(minutes=1)
        backend.put_item(table, item_from_job(job))


def measure(count: int, expired: int = 10, repeat: int = 5, sweeps: int = 3) -> dict[str, Any]:
    with in_process_aws() as refs:
        _fill(refs["JobsTable"], count - expired, 0)
        # moto's table lives in this process: keep the garbage collector from walking its
        # items during our code, which no Lambda would ever hold in memory.
        gc.collect()
        gc.freeze()
        h = bench_api()
        counter = counter_on_layer_clients()
        walls, ours, items = [], [], []
        for _ in range(repeat):
            counter.reset()
            start = time.perf_counter()
            reply = h.call("GET", "/async", query={"LAST": "10"}, owner="alice")
            wall = time.perf_counter() - start
            assert reply["statusCode"] == 200 and reply["body"].count("<uws:jobref") == 10
            walls.append(wall)
            ours.append(wall - counter.seconds_in_aws)
            items.append(counter.items_read)
        from local.lambdas import invoke

        sweep_walls, sweep_ours, sweep_items = [], [], []
        for _ in range(sweeps):  # each sweep finds `expired` freshly expired jobs
            _fill(refs["JobsTable"], expired, expired)
            counter.reset()
            start = time.perf_counter()
            report = invoke(h.functions["ReaperFunction"], scheduled_event())
            wall = time.perf_counter() - start
            assert report["destroyed"] == expired, report
            sweep_walls.append(wall)
            sweep_ours.append(wall - counter.seconds_in_aws)
            sweep_items.append(counter.items_read)
        calls = dict(counter.calls)
        gc.unfreeze()
        return {
            "jobs": count,
            "list_items_read": max(items),
            "list_our_ms": round(statistics.median(ours) * 1000, 3),
            "list_moto_wall_ms": round(statistics.median(walls) * 1000, 2),
            "sweep_items_read": max(sweep_items),
            "sweep_calls": calls,
            "sweep_our_ms": round(statistics.median(sweep_ours) * 1000, 2),
            "sweep_moto_wall_ms": round(statistics.median(sweep_walls) * 1000, 1),
        }


def run(small: int = 1000, large: int = 100_000) -> dict[str, Any]:
    low, high = measure(small), measure(large)
    list_ratio = high["list_our_ms"] / low["list_our_ms"]
    sweep_ratio = high["sweep_our_ms"] / low["sweep_our_ms"]
    return {
        "small": low,
        "large": high,
        "list_our_time_ratio": round(list_ratio, 2),
        "sweep_our_time_ratio": round(sweep_ratio, 2),
        "items_read_equal": low["list_items_read"] == high["list_items_read"]
        and low["sweep_items_read"] == high["sweep_items_read"],
        "target": 1.2,
        "met": list_ratio <= 1.2
        and sweep_ratio <= 1.2
        and low["sweep_items_read"] == high["sweep_items_read"],
    }
