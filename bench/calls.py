"""1. AWS calls per UWS operation, for every route and method, against the targets."""

from __future__ import annotations

import datetime
import time
from typing import Any

import boto3

from local.inprocess import in_process_aws
from local.lambdas import ApiClient

from .common import CallCounter, bench_api, counter_on_layer_clients

GET = {"dynamodb.GetItem": 1}


def tomorrow() -> str:
    return (datetime.datetime.now(datetime.UTC) + datetime.timedelta(days=1)).strftime(
        "%Y-%m-%dT%H:%M:%SZ"
    )


CHANGE = {"dynamodb.UpdateItem": 1}


def operations(h: ApiClient, refs: dict[str, str]) -> list[tuple[str, Any, dict[str, int], str]]:
    """(name, a call that performs it, the target calls, a note) for each operation."""

    def job(**params: Any) -> str:
        return h.create(TEXT="t", **params)

    def with_result() -> str:
        """A job in ERROR with one result file: every child has something to show."""
        from uws.config import settings
        from uws.isodt import utcnow
        from uws.job import ErrorSummary, Result, new_job
        from uws.phases import Phase
        from uws.store import JobStore

        stored = new_job(None, "demo", utcnow(), settings())
        key = f"jobs/{stored.job_id}/results/result"
        boto3.client("s3").put_object(Bucket=refs["ResultsBucket"], Key=key, Body=b"x")
        stored.phase, stored.error_summary = Phase.ERROR, ErrorSummary("failed")
        stored.parameters = {"TEXT": ["t"]}
        stored.results = [Result("result", key, "text/plain", 1)]
        JobStore(settings().table).create(stored)
        return stored.job_id

    p = "/async/{}"
    ops: list[tuple[str, Any, dict[str, int], str]] = [
        ("POST /async (create)", lambda: (None, ("POST", "/async", {"data": {"TEXT": "x"}})),
         {"dynamodb.PutItem": 1}, ""),
        ("POST /async PHASE=RUN", lambda: (None, ("POST", "/async", {"data": {"PHASE": "RUN"}})),
         {"dynamodb.PutItem": 1, "sqs.SendMessage": 1}, ""),
        ("GET /async LAST=10 (50 stored)", lambda: (None, ("GET", "/async", {"query": {"LAST": "10"}})),
         {"dynamodb.Query": 1}, "items read ≤ 11 (one tells of a next page)"),
        ("GET {job}", lambda: (job(), ("GET", p, {})), GET, ""),
        ("GET {job}?WAIT=2 (PENDING)", lambda: (job(), ("GET", p, {"query": {"WAIT": "2"}})),
         {}, "reads: 10 ms doubling to 0.5 s"),
    ]  # fmt: skip
    for child in ("phase", "executionduration", "destruction", "quote", "owner", "startTime",
                  "parameters", "parameters/TEXT", "results"):  # fmt: skip
        ops.append(
            (f"GET {{job}}/{child}", lambda c=child: (job(), ("GET", p + "/" + c, {})), GET, "")
        )
    ops += [
        ("GET {job}/error", lambda: (with_result(), ("GET", p + "/error", {})), GET, ""),
        ("GET {job}/results/result (303)", lambda: (with_result(), ("GET", p + "/results/result", {})),
         GET, "presigning makes no call"),
        ("POST {job}/phase RUN", lambda: (job(), ("POST", p + "/phase", {"data": {"PHASE": "RUN"}})),
         {"dynamodb.UpdateItem": 1, "sqs.SendMessage": 1}, ""),
        ("POST {job}/phase ABORT", lambda: (job(), ("POST", p + "/phase", {"data": {"PHASE": "ABORT"}})),
         CHANGE, ""),
        ("POST {job}/executionduration", lambda: (job(), ("POST", p + "/executionduration",
         {"data": {"EXECUTIONDURATION": "60"}})), CHANGE, ""),
        ("POST {job}/destruction", lambda: (job(), ("POST", p + "/destruction",
         {"data": {"DESTRUCTION": tomorrow()}})), CHANGE, ""),
        ("POST {job}/destruction (clamped)", lambda: (job(), ("POST", p + "/destruction",
         {"data": {"DESTRUCTION": "2999-01-01T00:00:00Z"}})), {"dynamodb.UpdateItem": 2},
         "a later value than the maximum: the second write clamps"),
        ("POST {job}/parameters", lambda: (job(), ("POST", p + "/parameters", {"data": {"TEXT": "u"}})),
         CHANGE, ""),
        ("DELETE {job} (1 result file)", lambda: (with_result(), ("DELETE", p, {})),
         {"dynamodb.DeleteItem": 1, "s3.DeleteObjects": 1}, "the files the item lists, per 1,000"),
        ("POST {job} ACTION=DELETE (no files)", lambda: (job(), ("POST", p, {"data": {"ACTION": "DELETE"}})),
         {"dynamodb.DeleteItem": 1}, ""),
        ("PUT {job}/phase (405)", lambda: (job(), ("PUT", p + "/phase", {})), {}, "no AWS call"),
        ("GET /async/not-an-id (404)", lambda: (None, ("GET", "/async/nope", {})), {}, "no AWS call"),
    ]  # fmt: skip
    return ops


def reads_while_waiting(seconds: float) -> int:
    """How many reads WAIT makes in ``seconds`` on a job that does not change."""
    from uws.web.waiting import wait_pauses

    pauses, waited, reads = wait_pauses(), 0.0, 0
    while waited < seconds:
        waited, reads = waited + next(pauses), reads + 1
    return reads


def run() -> dict[str, Any]:
    rows = []
    with in_process_aws() as refs:
        h = bench_api()
        for _ in range(50):
            h.create(TEXT="filler")
        counter: CallCounter = counter_on_layer_clients()
        for name, prepare, target, note in operations(h, refs):
            job_id, (method, path, kwargs) = prepare()
            counter.reset()
            start = time.perf_counter()
            reply = h.call(method, path.format(job_id), **kwargs)
            seconds = time.perf_counter() - start
            calls = dict(counter.calls)
            if name.startswith("GET {job}?WAIT"):
                looks = 1 + reads_while_waiting(2)  # the job, then one read after each pause
                met = set(calls) == {"dynamodb.GetItem"} and calls["dynamodb.GetItem"] <= looks
            elif name.startswith("GET /async LAST"):  # one more tells whether a next page follows
                met = calls == target and counter.items_read <= 11
            else:
                met = calls == target
            rows.append({"operation": name, "status": reply["statusCode"], "calls": calls,
                         "items_read": counter.items_read, "target": target or "see note",
                         "met": met, "note": note, "ms": round(seconds * 1000, 2)})  # fmt: skip
    return {"operations": rows, "all_met": all(r["met"] for r in rows)}
