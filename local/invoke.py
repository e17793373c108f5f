"""``make invoke FUNCTION=<logical id> EVENT=events/<file>.json``: what `sam local invoke` does,
without Docker.

It runs the function from template.yaml with the event against the embedded AWS: the one a
running ``make serve`` uses, or else a fresh one holding the job the sample events name
(so that ``events/phase-get.json`` finds a job). It prints the function's response.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .lambdas import invoke
from .runtime import LocalDeployment, dumps
from .statefile import running_service


def seed_sample_job(phase: str) -> None:
    """The job the files in events/ name, with a parameter and a result; a running service
    keeps the one it has."""
    from uws.config import settings
    from uws.files import FileStore, result_key
    from uws.isodt import utcnow
    from uws.job import Result, new_job
    from uws.phases import Phase
    from uws.store import JobStore

    from .make_events import JOB

    store = JobStore(settings().table)
    if store.get(JOB) is not None:
        return
    job = new_job(None, "demo", utcnow(), settings())
    job.job_id, job.phase = JOB, Phase(phase)
    job.parameters = {"TEXT": ["hello"]}
    key = result_key(JOB, "result")
    size = FileStore(settings().bucket).put(key, b"<VOTABLE/>", "application/x-votable+xml")
    if job.phase != Phase.QUEUED:
        job.results = [Result("result", key, "application/x-votable+xml", size)]
    store.create(job)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Invoke one function with one event file.")
    parser.add_argument("function", help="the logical id in template.yaml, e.g. PhaseFunction")
    parser.add_argument("event", type=Path, help="an event file, e.g. events/phase-get.json")
    args = parser.parse_args(argv)
    event = json.loads(args.event.read_text())

    running = running_service()
    deployment = LocalDeployment()
    if running:
        deployment.attach(running["endpoint"], running["refs"], running.get("harness"))
        print(f"using the embedded AWS of make serve at {running['endpoint']}", file=sys.stderr)
    else:
        deployment.start()
    seed_sample_job("QUEUED" if args.function == "WorkerFunction" else "PENDING")
    try:
        spec = deployment.functions.get(args.function)
        if spec is None:
            parser.error(
                f"no function {args.function}; choose from {', '.join(deployment.functions)}"
            )
        print(dumps(invoke(spec, event)))
    finally:
        if not running:
            deployment.stop()


if __name__ == "__main__":
    main()
