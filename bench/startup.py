"""2. Cold start (import in a fresh interpreter, against `import boto3`) and 3. warm overhead
(a GET of a job document through its handler, against one bare GetItem on the same moto).

The UWS functions are timed apart from TAP's: a UWS function must import neither DuckDB nor
the ADQL translator (sqlglot), which each sample checks, so its cold start is what it was
before TAP; the query-running functions' cold start is reported beside them."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

from local.inprocess import in_process_aws
from local.template import ROOT, conditions, functions, load, parameter_defaults

from .common import bench_api, counter_on_layer_clients, median_ms, timed

FLOOR = "import time; t = time.perf_counter(); import boto3; print(time.perf_counter() - t)"
# Lambda's runtime has importlib loaded before it imports a handler: load it before the clock.
# The handler's module by file path; with a second argument, then the job type it names, as
# the worker's first job of that type imports it (uws.jobtypes, JOB_TYPE_MODULES). Printed
# after the clock stops: the heavy modules the interpreter holds, then the seconds.
HEAVY = ("duckdb", "sqlglot")
FUNCTION = (
    "import importlib.util, sys, time; t = time.perf_counter(); "
    "spec = importlib.util.spec_from_file_location('app', sys.argv[1]); "
    "module = importlib.util.module_from_spec(spec); spec.loader.exec_module(module); "
    "sys.argv[2:] and __import__('uws.jobtypes').jobtypes.job_type(sys.argv[2]); "
    "sys.argv[3:] and __import__(sys.argv[3]); "
    "d = time.perf_counter() - t; "
    f"print(','.join(m for m in {HEAVY!r} if m in sys.modules)); print(d)"
)


def _fresh(code: str, *args: str, env: dict[str, str] | None = None) -> float:
    return _fresh_heavy(code, *args, env=env)[0]


def _fresh_heavy(code: str, *args: str, env: dict[str, str] | None = None) -> tuple[float, str]:
    """Seconds the fresh interpreter printed last, and the line before (FUNCTION's heavy
    modules, comma-separated)."""
    out = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True,
                         check=True, cwd=ROOT, env=env)  # fmt: skip
    lines = ["", *out.stdout.splitlines()]
    return float(lines[-1]), lines[-2].strip()


def _compile() -> None:
    """The layers and the functions compiled, as `sam build` ships them and as boto3 is
    installed (without that, PYTHONDONTWRITEBYTECODE would have them compiled every time)."""
    import compileall

    for folder in ("layers/uws", "layers/tap", "functions"):
        compileall.compile_dir(ROOT / folder, quiet=1)


def uws_functions() -> dict[str, Any]:
    """The functions every deployment has (JobType demo, the default): TAP's are not among them."""
    template = load()
    return functions(template, conditions(template, parameter_defaults(template)))


def cold_start(rounds: int = 7) -> dict[str, Any]:
    """Interleave the floor and each UWS function so that machine noise hits both alike;
    each sample asserts the function imported neither DuckDB nor sqlglot."""
    _compile()
    specs = uws_functions()
    floor: list[float] = []
    samples: dict[str, list[float]] = {name: [] for name in specs}
    ratios: dict[str, list[float]] = {name: [] for name in specs}
    for _ in range(rounds):
        for name, spec in specs.items():
            floor.append(_fresh(FLOOR))
            seconds, heavy = _fresh_heavy(FUNCTION, str(spec.file))
            assert not heavy, f"{name} imports {heavy}: a UWS function must not"
            samples[name].append(seconds)
            ratios[name].append(samples[name][-1] / floor[-1])  # each against its neighbour
    floor_ms = statistics.median(floor) * 1000
    rows = {
        name: {
            "ms": round(statistics.median(s) * 1000, 1),
            "ratio": round(statistics.median(ratios[name]), 2),
        }
        for name, s in samples.items()
    }
    worst = max(r["ratio"] for r in rows.values())
    return {"floor_import_boto3_ms": round(floor_ms, 1), "functions": rows,
            "worst_ratio": worst, "target": 1.3, "met": worst <= 1.3,
            "imports_neither": list(HEAVY)}  # fmt: skip


def tap_cold_start(rounds: int = 7) -> dict[str, Any]:
    """The query-running functions' cold import, each beside its own `import boto3`: TAP's
    /sync and VOSI functions, and the worker with its first tap job's import of the engine
    (tap.service: DuckDB, sqlglot). Reported, no target: what a first query pays. Also the
    jobs function's first create in a TAP deployment, which knows the tap type from
    tap.jobtype alone and must import neither (it has no engine layer on Lambda)."""
    _compile()
    template = load()
    specs = functions(template)
    cases = {name: [str(spec.file)] for name, spec in specs.items() if name not in uws_functions()}
    cases["WorkerFunction+tap.service"] = [str(specs["WorkerFunction"].file), "tap", "tap.service"]
    cases["JobsFunction+tap.jobtype"] = [str(specs["JobsFunction"].file), "tap"]
    env = {**os.environ, "JOB_TYPE_MODULES": "tap.jobtype"}
    floor: list[float] = []
    samples: dict[str, list[float]] = {name: [] for name in cases}
    ratios: dict[str, list[float]] = {name: [] for name in cases}
    heavy: dict[str, str] = {}
    for _ in range(rounds):
        for name, args in cases.items():
            floor.append(_fresh(FLOOR))
            seconds, heavy[name] = _fresh_heavy(FUNCTION, *args, env=env)
            samples[name].append(seconds)
            ratios[name].append(seconds / floor[-1])
    rows = {
        name: {
            "ms": round(statistics.median(s) * 1000, 1),
            "ratio": round(statistics.median(ratios[name]), 2),
            "imports": heavy[name].split(",") if heavy[name] else [],
        }
        for name, s in samples.items()
    }
    return {"floor_import_boto3_ms": round(statistics.median(floor) * 1000, 1), "functions": rows}


def lambda_layer_import(rounds: int = 7) -> dict[str, Any]:
    """A function's import as Lambda does it: Python 3.12, the layer on a read-only path (no
    .pyc written), built by the layer's own Makefile for this machine's platform, once as
    shipped (compiled .pyc) and once with the .pyc files removed. The floor is `import boto3`
    from a normal, compiled install, as Lambda's runtime has it."""
    import platform
    import shutil
    import tempfile

    env = {**os.environ, "PYENV_VERSION": "3.12.1:3.11.7"}
    python = shutil.which("python3.12", path=env.get("PATH"))
    probe = python and subprocess.run([python, "--version"], env=env, capture_output=True)
    if not probe or probe.returncode != 0:
        return {"skipped": "no python3.12 on PATH"}
    arch = "aarch64" if platform.machine() in ("aarch64", "arm64") else "x86_64"
    work = Path(tempfile.mkdtemp(prefix="uws-layer-"))
    try:
        shipped, bare, base = work / "shipped", work / "bare", work / "boto3"
        subprocess.run(
            ["make", "-s", "-C", str(ROOT / "layers/uws"), "build-UwsLayer",
             f"ARTIFACTS_DIR={shipped}", f"PLATFORM=manylinux2014_{arch}"],
            env=env, check=True, capture_output=True,
        )  # fmt: skip
        shutil.copytree(shipped, bare)
        for cache in bare.rglob("__pycache__"):
            shutil.rmtree(cache)
        subprocess.run([python, "-m", "pip", "install", "-q", "boto3", "-t", str(base)],
                       env=env, check=True, capture_output=True)  # fmt: skip
        app = str(ROOT / "functions/phase/app.py")

        def one(layer: Path | None) -> float:
            paths = [str(base)] + ([str(layer / "python")] if layer else [])
            run_env = {**env, "PYTHONDONTWRITEBYTECODE": "1", "PYTHONPATH": ":".join(paths)}
            code = FLOOR if layer is None else FUNCTION
            args = [] if layer is None else [app]
            out = subprocess.run([python, "-c", code, *args], env=run_env, capture_output=True,
                                 text=True, check=True)  # fmt: skip
            return float(out.stdout.strip().splitlines()[-1])

        floor, with_pyc, without = [], [], []
        for _ in range(rounds):
            floor.append(one(None))
            with_pyc.append(one(shipped))
            without.append(one(bare))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    floor_ms = statistics.median(floor) * 1000
    return {
        "floor_import_boto3_ms": round(floor_ms, 1),
        "phase_function_shipped_ms": round(statistics.median(with_pyc) * 1000, 1),
        "phase_function_without_pyc_ms": round(statistics.median(without) * 1000, 1),
        "ratio_shipped": round(statistics.median(with_pyc) * 1000 / floor_ms, 2),
        "ratio_without_pyc": round(statistics.median(without) * 1000 / floor_ms, 2),
    }


def warm_overhead(repeat: int = 400) -> dict[str, Any]:
    with in_process_aws() as refs:
        h = bench_api()
        job_id = h.create(TEXT="warm")
        function, event = h.event("GET", f"/async/{job_id}")
        spec = h.functions[function]
        from uws import aws

        from local.lambdas import invoke

        client = aws.client("dynamodb")
        key = {"jobId": {"S": job_id}}

        def bare() -> None:
            client.get_item(TableName=refs["JobsTable"], Key=key, ConsistentRead=True)

        def handler() -> None:
            assert invoke(spec, event)["statusCode"] == 200

        for _ in range(50):  # warm both paths
            bare(), handler()
        floor, ours = [], []
        for _ in range(repeat):  # interleaved, so noise hits both alike
            floor += timed(bare, 1)
            ours += timed(handler, 1)
        counter = counter_on_layer_clients()
        handler()
        calls = dict(counter.calls)
    ratio = statistics.median(ours) / statistics.median(floor)
    return {"floor_getitem_ms": median_ms(floor), "handler_get_job_ms": median_ms(ours),
            "ratio": round(ratio, 2), "target": 1.3, "met": ratio <= 1.3,
            "calls_per_get": calls}  # fmt: skip


if __name__ == "__main__":
    print(json.dumps({"cold": cold_start(3), "tap": tap_cold_start(3),
                      "warm": warm_overhead(200)}, indent=2))  # fmt: skip
