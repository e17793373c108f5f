"""7. What it costs on AWS: one lifecycle priced from this run's AWS calls, log bytes and
function durations, then 1 thousand, 100 thousand and 10 million lifecycles a month beside
the always-on server a DaCHS needs.

A lifecycle is what the HTTP benchmark's clients do: create with PHASE=RUN, WAIT until the job
document shows it done, GET the result (a 303 to S3, then the download), DELETE; plus the
worker's invocation and the events function's (the stream's records of the life: five
EventBridge events). The functions run in-process on moto; a function's Lambda duration is its
measured time outside moto, stretched by the share of a vCPU its memory buys (Lambda gives a
whole vCPU at 1,769 MB, proportionally less below), plus a typical in-region latency per AWS
call (AWS_LATENCY below), rounded up to the millisecond as Lambda bills. Cold starts are billed
too (Lambda bills the INIT phase since August 2025): the measured cold import, stretched alike,
for at most one new environment per function every ten minutes. Prices are AWS's us-east-1 list prices without
free tiers; the assumptions are printed with the table and in README.md. ``hats`` prices one
1° cone and one full scan of the largest HATS catalogue bench/hats.py measured in the same run
(its figures, not a run of its own: the catalogue takes minutes to build).
"""

from __future__ import annotations

import math
import os
import statistics
import sys
import tempfile
import time
from typing import Any

import boto3

from local.events import sqs_event, stream_event
from local.inprocess import in_process_aws
from local.pollers import StreamReader

from .common import bench_api, counter_on_layer_clients

# US East (N. Virginia) list prices (aws.amazon.com/<service>/pricing), without free tiers.
PRICES = {
    "api_gateway_rest_per_million": 3.50,  # REST API requests, first 333 million
    "lambda_arm_gb_second": 0.0000133334,
    "lambda_per_million": 0.20,
    "dynamodb_write_unit_per_million": 0.625,  # on-demand write request units
    "dynamodb_read_unit_per_million": 0.125,  # on-demand read request units
    "sqs_per_million": 0.40,  # standard queue requests (64 KB chunks)
    "s3_put_list_per_thousand": 0.005,
    "s3_get_per_thousand": 0.0004,
    "logs_ingested_per_gb": 0.50,  # CloudWatch Logs, standard class
    "xray_traces_per_million": 5.00,
    "data_out_per_gb": 0.09,  # to the internet, after the first 100 GB
    "alarm_month": 0.10,  # standard-resolution alarm
    "dashboard_month": 3.00,
    "custom_metric_month": 0.30,  # the first 10,000 metrics
    "eventbridge_events_per_million": 1.00,  # custom events put on a bus (64 KB chunks)
    "fargate_arm_vcpu_hour": 0.03238,  # AWS Fargate, Linux/ARM, per second, a minute at least
    "fargate_arm_gb_hour": 0.00356,
}
CUSTOM_METRICS = 13  # the names telemetry.count() emits, one dimension each
FULL_VCPU_MB = 1769  # Lambda: memory at which a function has one vCPU
COLD_STARTS_PER_FUNCTION_MONTH = 730 * 6  # at most one new environment every ten minutes (assumed)
# A DaCHS needs a machine on all month: an EC2 t4g.medium (2 vCPU, 4 GiB: DaCHS and its
# PostgreSQL) on demand, 730 hours, with a 30 GB gp3 volume.
DACHS_MONTH = round(0.0336 * 730 + 30 * 0.08, 2)
# Typical latency of one call from Lambda within a region (assumed, not measured here).
AWS_LATENCY = {"dynamodb": 0.005, "sqs": 0.010, "s3": 0.020, "events": 0.015}
# Lambda's own START, END and REPORT lines for each invocation, in bytes.
PLATFORM_LOG_BYTES = 350
# Write units per write: one for the item (under 1 KB) and one for each of the table's three
# indexes, as if every write changed them all (an upper bound).
UNITS_PER_WRITE = 4
WRITES = {"PutItem", "UpdateItem", "DeleteItem"}
# X-Ray's default sampling rule: the first request each second, then 5% of the rest.
SAMPLED_FIRST_PER_SECOND, SAMPLED_SHARE = 1, 0.05
MONTH_SECONDS = 730 * 3600
VOLUMES = (1_000, 100_000, 10_000_000)
# A HATS query (bench/hats.py's figures): DuckDB reads a file's HEAD, footer and data in turn,
# files in parallel on its threads (assumed two); a Fargate task is billed from the pull of its
# image (assumed 30 s with its start) to its end, and for a minute at least.
HATS_PARALLEL_FILES = 2
FARGATE_START_S, FARGATE_MINIMUM_S = 30, 60


def profile(rounds: int = 20) -> dict[str, Any]:
    """Run ``rounds`` lifecycles in-process; the median lifecycle's invocations, calls, log
    bytes and response bytes."""
    samples = []
    with in_process_aws(env={"POWERTOOLS_METRICS_DISABLED": "false",
                             "POWERTOOLS_LOG_LEVEL": "INFO"}) as refs:  # fmt: skip
        h = bench_api()
        counter = counter_on_layer_clients()
        for _ in range(rounds + 2):
            samples.append(_one_lifecycle(h, refs, counter))
    samples = samples[2:]  # the first ones import and create clients
    middle = sorted(samples, key=lambda s: s["lambda_ms"])[len(samples) // 2]
    return {**middle, "lambda_ms_median": statistics.median(s["lambda_ms"] for s in samples)}


def _one_lifecycle(h: Any, refs: dict[str, str], counter: Any) -> dict[str, Any]:
    invocations: list[dict[str, Any]] = []

    def invoke(function: str, event: dict[str, Any]) -> dict[str, Any]:
        counter.reset()
        with _StdoutBytes() as logged:
            started = time.perf_counter()
            reply = h.call_function(function, event)
            seconds = time.perf_counter() - started
        calls = dict(counter.calls)
        memory = h.functions[function].memory
        outside = (seconds - counter.seconds_in_aws) / min(1.0, memory / FULL_VCPU_MB)
        aws = sum(AWS_LATENCY[c.split(".")[0]] * n for c, n in calls.items())
        invocations.append({"function": function, "memory_mb": memory, "calls": calls,
                            "ms": math.ceil((outside + aws) * 1000),
                            "log_bytes": logged() + PLATFORM_LOG_BYTES,
                            "response_bytes": len((reply or {}).get("body") or "")})  # fmt: skip
        return reply

    stream = StreamReader(refs["JobsTable.StreamArn"])  # from here on
    created = invoke(*h.event("POST", "/async", data={"PHASE": "RUN", "DURATION": "0"}))
    job = created["headers"]["Location"].rsplit("/", 1)[1]
    path = f"/async/{job}"
    sqs = boto3.client("sqs")
    got = sqs.receive_message(QueueUrl=refs["JobsQueue"], MaxNumberOfMessages=1)["Messages"]
    invoke("WorkerFunction", sqs_event(refs["JobsQueue"], got))
    sqs.delete_message(QueueUrl=refs["JobsQueue"], ReceiptHandle=got[0]["ReceiptHandle"])
    # the job took no time: the WAIT answers at once (a WAIT through a job of T seconds holds
    # its function T seconds longer; README.md prices that)
    waited = invoke(*h.event("GET", path, query={"WAIT": "5", "PHASE": "QUEUED"}))
    assert "COMPLETED" in waited["body"], waited["body"]
    result = invoke(*h.event("GET", f"{path}/results/result"))
    assert result["statusCode"] == 303
    download = boto3.client("s3").head_object(Bucket=refs["ResultsBucket"],
                                              Key=f"jobs/{job}/results/result")  # fmt: skip
    invoke(*h.event("DELETE", path))
    # the stream's records of this life, in one batch (on AWS, batches gather up to a second
    # of changes: one invocation a lifecycle is the most it takes)
    events = invoke("EventsFunction", stream_event(stream.read(100), stream.arn))["published"]
    requests = [i for i in invocations if i["function"] not in ("WorkerFunction", "EventsFunction")]
    return {
        "invocations": invocations,
        "api_requests": len(requests),
        "lambda_ms": sum(i["ms"] for i in invocations),
        # the worker's SQS event source receives and deletes its message
        "sqs_requests": 2 + sum(i["calls"].get("sqs.SendMessage", 0) for i in invocations),
        "download_bytes": download["ContentLength"],
        "events": events,
    }


class _StdoutBytes:
    """Bytes the functions log (Powertools writes JSON lines to stdout, as on Lambda)."""

    def __enter__(self) -> Any:
        sys.stdout.flush()
        self._file = tempfile.TemporaryFile()
        self._saved = os.dup(1)
        os.dup2(self._file.fileno(), 1)
        return lambda: self._size

    def __exit__(self, *exc: Any) -> None:
        sys.stdout.flush()
        os.dup2(self._saved, 1)
        os.close(self._saved)
        self._size = self._file.seek(0, os.SEEK_END)
        self._file.close()


def price(lifecycle: dict[str, Any], per_month: int) -> dict[str, float]:
    """Dollars a month for ``per_month`` lifecycles like ``lifecycle``, by service."""
    p = PRICES
    inv = lifecycle["invocations"]
    calls: dict[str, int] = {}
    for i in inv:
        for name, n in i["calls"].items():
            calls[name] = calls.get(name, 0) + n
    writes = sum(n for c, n in calls.items() if c.split(".")[1] in WRITES)
    reads = sum(n for c, n in calls.items() if c.startswith("dynamodb.") and c.split(".")[1]
                not in WRITES)  # fmt: skip
    s3_puts = sum(n for c, n in calls.items() if c in ("s3.PutObject", "s3.ListObjectsV2",
                                                       "s3.DeleteObjects"))  # fmt: skip
    s3_gets = calls.get("s3.GetObject", 0) + 1  # the client's download of the result
    gb_seconds = sum(i["ms"] / 1000 * i["memory_mb"] / 1024 for i in inv)
    out_bytes = sum(i["response_bytes"] for i in inv) + lifecycle["download_bytes"]
    requests_per_second = per_month * len(inv) / MONTH_SECONDS
    sampled = min(1.0, (SAMPLED_FIRST_PER_SECOND + SAMPLED_SHARE * max(0.0, requests_per_second - 1))
                  / requests_per_second)  # fmt: skip
    per_lifecycle = {
        "API Gateway": lifecycle["api_requests"] * p["api_gateway_rest_per_million"] / 1e6,
        "Lambda": gb_seconds * p["lambda_arm_gb_second"] + len(inv) * p["lambda_per_million"] / 1e6,
        "DynamoDB": (writes * UNITS_PER_WRITE * p["dynamodb_write_unit_per_million"]
                     + reads * p["dynamodb_read_unit_per_million"]) / 1e6,
        "SQS": lifecycle["sqs_requests"] * p["sqs_per_million"] / 1e6,
        "S3": s3_puts * p["s3_put_list_per_thousand"] / 1e3 + s3_gets * p["s3_get_per_thousand"] / 1e3,
        "CloudWatch Logs": sum(i["log_bytes"] for i in inv) / 1e9 * p["logs_ingested_per_gb"],
        "X-Ray": len(inv) * sampled * p["xray_traces_per_million"] / 1e6,
        "Data out": out_bytes / 1e9 * p["data_out_per_gb"],
        "EventBridge": lifecycle["events"] * p["eventbridge_events_per_million"] / 1e6,
    }  # fmt: skip
    month = {k: v * per_month for k, v in per_lifecycle.items()}
    memory = {i["function"]: i["memory_mb"] for i in inv}
    for function, mb in memory.items():  # cold starts: the import, at the function's vCPU share
        invoked = per_month * sum(i["function"] == function for i in inv)
        starts = min(invoked, COLD_STARTS_PER_FUNCTION_MONTH)
        init = lifecycle["cold_import_s"] / min(1.0, mb / FULL_VCPU_MB)
        month["Lambda"] += starts * init * mb / 1024 * p["lambda_arm_gb_second"]
    month["Alarms, dashboard, metrics"] = (
        7 * p["alarm_month"] + p["dashboard_month"] + CUSTOM_METRICS * p["custom_metric_month"]
    )
    # Lambda's SQS event source long-polls (20 s) with five pollers while the queue is idle.
    month["SQS"] += 5 * MONTH_SECONDS / 20 * p["sqs_per_million"] / 1e6
    return month


def run(rounds: int = 20, cold_import_s: float = 0.2) -> dict[str, Any]:
    """``cold_import_s``: a function's cold import as the cold-start benchmark measured it."""
    lifecycle = {**profile(rounds), "cold_import_s": cold_import_s}
    months = {}
    for volume in VOLUMES:
        by_service = price(lifecycle, volume)
        months[str(volume)] = {"total": round(sum(by_service.values()), 2),
                               "by_service": {k: round(v, 4) for k, v in by_service.items()}}  # fmt: skip
    return {
        "lifecycle": {
            "invocations": [
                {k: i[k] for k in ("function", "ms", "memory_mb", "calls", "log_bytes")}
                for i in lifecycle["invocations"]
            ],
            "lambda_ms": lifecycle["lambda_ms"],
            "api_requests": lifecycle["api_requests"],
        },
        "per_month": months,
        "dachs_server_month": DACHS_MONTH,
        "assumptions": {
            "full_vcpu_mb": FULL_VCPU_MB,
            "cold_starts_per_function_month": COLD_STARTS_PER_FUNCTION_MONTH,
            "cold_import_s": cold_import_s,
            "custom_metrics": CUSTOM_METRICS,
            "aws_latency_s": AWS_LATENCY,
            "units_per_write": UNITS_PER_WRITE,
            "platform_log_bytes": PLATFORM_LOG_BYTES,
            "prices": PRICES,
        },
    }


def hats(measured: dict[str, Any]) -> dict[str, Any]:
    """What one 1° cone (TapSyncFunction) and one full scan (a Fargate task, as full scans of
    big tables run) on the largest HATS catalogue bench/hats.py measured cost: its compute time
    from local disk (our two cores; on Fargate stretched to the task's vCPUs) plus an in-region
    S3 latency per request in sequence, and its S3 requests as DuckDB counted them."""
    from local.template import load, parameter_defaults

    p = PRICES
    rows = max(measured, key=int)
    figures = measured[rows]
    template = load()
    memory_mb = int(template["Resources"]["TapSyncFunction"]["Properties"]["MemorySize"])
    defaults = parameter_defaults(template)
    vcpus, task_gb = int(defaults["TaskCpu"]) / 1024, int(defaults["TaskMemory"]) / 1024

    def s3(q: dict[str, Any]) -> tuple[float, float]:
        requests = q["gets_median"] + q["heads_median"]
        rounds = requests / max(1, min(q["files_median"], HATS_PARALLEL_FILES))
        return requests, rounds * AWS_LATENCY["s3"]

    cone = figures["cone_1deg"]
    requests, waiting = s3(cone)
    ms = math.ceil(cone["disk_ms"] / min(1.0, memory_mb / FULL_VCPU_MB) + waiting * 1000)
    gb_s = ms / 1000 * memory_mb / 1024
    cone_cost = {"Lambda": gb_s * p["lambda_arm_gb_second"] + p["lambda_per_million"] / 1e6,
                 "API Gateway": p["api_gateway_rest_per_million"] / 1e6,
                 "S3": requests * p["s3_get_per_thousand"] / 1e3}  # fmt: skip
    scan = figures["full_scan"]
    scan_requests, scan_waiting = s3(scan)
    run_s = (scan["disk_ms"] / 1000 + scan_waiting) * 2 / vcpus  # measured on two cores
    billed_s = max(FARGATE_MINIMUM_S, math.ceil(FARGATE_START_S + run_s))
    task_hour = vcpus * p["fargate_arm_vcpu_hour"] + task_gb * p["fargate_arm_gb_hour"]
    scan_cost = {
        "Fargate": billed_s / 3600 * task_hour,
        "S3": scan_requests * p["s3_get_per_thousand"] / 1e3,
    }
    return {
        "rows": int(rows),
        "cone_1deg": {
            "lambda_ms": ms,
            "memory_mb": memory_mb,
            "gb_seconds": round(gb_s, 3),
            "s3_requests": requests,
            "s3_bytes": cone["bytes_median"],
            "dollars": {k: round(v, 8) for k, v in cone_cost.items()},
            "total": round(sum(cone_cost.values()), 8),
        },
        "full_scan": {
            "run_s": round(run_s, 1),
            "billed_s": billed_s,
            "task_vcpu": vcpus,
            "task_gb": task_gb,
            "s3_requests": scan_requests,
            "s3_bytes": scan["bytes_median"],
            "dollars": {k: round(v, 6) for k, v in scan_cost.items()},
            "total": round(sum(scan_cost.values()), 6),
        },
        "assumptions": {
            "parallel_files": HATS_PARALLEL_FILES,
            "s3_latency_s": AWS_LATENCY["s3"],
            "fargate_start_s": FARGATE_START_S,
            "fargate_minimum_s": FARGATE_MINIMUM_S,
        },
    }


def hats_rows(money: dict[str, Any]) -> list[str]:
    """The cost table's lines for one HATS cone and one full scan."""
    cone, scan = money["cone_1deg"], money["full_scan"]
    return [
        f"  a 1° cone on the {money['rows']:,}-row HATS catalogue (TapSyncFunction,"
        f" {cone['memory_mb']} MB): {cone['lambda_ms']} ms = {cone['gb_seconds']} GB-s,"
        f" {cone['s3_requests']:g} S3 GET/HEAD, {cone['s3_bytes'] / 1e6:.2f} MB (in-region: free):"
        f" ${cone['total']:.7f} (${cone['total'] * 1e6:,.0f} a million)",
        f"  a full scan of it (Fargate {scan['task_vcpu']:g} vCPU, {scan['task_gb']:g} GB:"
        f" {scan['run_s']} s, billed {scan['billed_s']} s): {scan['s3_requests']:g} S3 GET/HEAD,"
        f" {scan['s3_bytes'] / 1e6:.0f} MB: ${scan['total']:.5f}"
        f" (Fargate ${scan['dollars']['Fargate']:.5f}, S3 ${scan['dollars']['S3']:.5f})",
    ]
