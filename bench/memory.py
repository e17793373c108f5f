"""6. Peak RSS of a process serving 1,000 requests of each kind through the handlers, with
moto's server in another process (so only what a Lambda would hold is measured); the floor is
a process that imports boto3 and makes as many bare GetItem calls."""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time
from typing import Any

import requests

from local import resources
from local.embedded import free_port
from local.events import REGION
from local.template import ROOT, load

CHILD = "bench.memory"


def peak_rss_mb() -> float:
    """VmHWM: this process's peak resident set. (ru_maxrss would carry the parent's over exec.)"""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def serve_requests(endpoint: str, refs: dict[str, str], count: int) -> dict[str, Any]:
    """In the measured process: 1,000 requests of each kind, then the peak RSS."""
    from local.runtime import LocalDeployment

    from .common import bench_api

    LocalDeployment().attach(endpoint, refs)
    os.environ["POWERTOOLS_LOG_LEVEL"] = "WARNING"
    h = bench_api()
    job = h.create(TEXT="memory")
    kinds = {
        "create": lambda i: h.call("POST", "/async", data={"TEXT": f"t{i}"}),
        "get_job": lambda i: h.call("GET", f"/async/{job}"),
        "parameters": lambda i: h.call("POST", f"/async/{job}/parameters", data={"TEXT": f"{i}"}),
        "list_last_10": lambda i: h.call("GET", "/async", query={"LAST": "10"}),
        "phase": lambda i: h.call("GET", f"/async/{job}/phase"),
    }
    for call in kinds.values():
        for i in range(count):
            assert call(i)["statusCode"] in (200, 303)
    return {"peak_rss_mb": peak_rss_mb(),
            "requests": count * len(kinds)}  # fmt: skip


def floor_requests(endpoint: str, refs: dict[str, str], count: int) -> dict[str, Any]:
    import boto3

    client = boto3.client("dynamodb", endpoint_url=endpoint, region_name=REGION)
    for _ in range(count):
        client.get_item(TableName=refs["JobsTable"], Key={"jobId": {"S": "x"}})
    return {"peak_rss_mb": peak_rss_mb()}


def run(count: int = 1000) -> dict[str, Any]:
    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    env = {**os.environ, "AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local",
           "AWS_DEFAULT_REGION": REGION}  # fmt: skip
    env.pop("AWS_SESSION_TOKEN", None)
    moto = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        for _ in range(100):
            try:
                requests.get(endpoint, timeout=1)
                break
            except requests.ConnectionError:
                time.sleep(0.1)
        saved = dict(os.environ)
        os.environ.update(env, AWS_ENDPOINT_URL=endpoint)
        try:
            refs = resources.create_all(load(), prefix="uws-mem", region=REGION)
        finally:
            os.environ.clear()
            os.environ.update(saved)
        results = {}
        for mode in ("floor", "serve"):
            out = subprocess.run(
                [sys.executable, "-m", CHILD, mode, endpoint, json.dumps(refs), str(count)],
                cwd=ROOT, env=env, capture_output=True, text=True, check=True,
            )  # fmt: skip
            results[mode] = json.loads(out.stdout.strip().splitlines()[-1])
    finally:
        moto.terminate()
        moto.wait(timeout=10)
    peak = results["serve"]["peak_rss_mb"]
    return {"floor_boto3_getitem_rss_mb": results["floor"]["peak_rss_mb"], "serving_rss_mb": peak,
            "requests": results["serve"]["requests"], "target_mb": 100, "met": peak <= 100}  # fmt: skip


if __name__ == "__main__":
    mode, endpoint, refs, count = (
        sys.argv[1],
        sys.argv[2],
        json.loads(sys.argv[3]),
        int(sys.argv[4]),
    )
    work = serve_requests if mode == "serve" else floor_requests
    print(json.dumps(work(endpoint, refs, count)))
