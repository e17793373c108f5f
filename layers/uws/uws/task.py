"""A container task's main: run the one job RunTask named, then exit (uws.containers).

The task definition's command loads this layer and calls :func:`main` with the job in its
environment (``UWS_JOB_ID``, ``UWS_EXECUTION_DURATION``). The job runs exactly as on the
Lambda worker (``uws.worker.execute_job``), recording the task's ARN, read from ECS's task
metadata endpoint, so that ABORT and the reaper can stop it.

Writes AWS refuses as busy are tried again for up to ``uws.worker.TASK_PATIENCE``. Exit
status 0 means the job's end is recorded (or it was not ours to run); anything else
leaves the job to the reaper, which ends it in ERROR with what ECS says of the task. ECS
stops a task with SIGTERM, and SIGKILL after the task definition's stop timeout: on SIGTERM
the run stops at once, and a job still EXECUTING ends in ERROR saying so.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time
import urllib.request
from types import FrameType

from .errors import NotFound
from .job import ErrorSummary
from .phases import Phase
from .service import Service, build_service
from .store import StateConflict
from .telemetry import logger
from .worker import execute_job, persevering

STOPPED_MESSAGE = "The job's container was stopped before the job ended."
# ECS sends SIGKILL StopTimeout (30 s in template.yaml) after SIGTERM
# (ECS Developer Guide, "Task definition parameters": stopTimeout); the end is tried until then.
STOP_PATIENCE = 25.0


class TaskStopped(BaseException):
    """Raised in the job's thread on SIGTERM: a BaseException, so that no job type's
    ``except Exception`` keeps the run going."""


def _stop(signum: int, frame: FrameType | None) -> None:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)  # once is enough
    raise TaskStopped


def own_task_arn() -> str | None:
    """This task's ARN from the task metadata endpoint (version 4), which ECS gives every
    Fargate task (ECS Developer Guide, "Amazon ECS task metadata endpoint version 4")."""
    base = os.environ.get("ECS_CONTAINER_METADATA_URI_V4")
    if not base:
        return None
    try:
        with urllib.request.urlopen(f"{base}/task", timeout=5) as reply:
            return str(json.load(reply)["TaskARN"])
    except (OSError, ValueError, KeyError):
        logger.warning("no task metadata: the job will not name its task")
        return None


def main() -> int:
    job_id = os.environ["UWS_JOB_ID"]
    duration = int(os.environ["UWS_EXECUTION_DURATION"])
    logger.append_keys(job_id=job_id)
    signal.signal(signal.SIGTERM, _stop)
    service = build_service()
    task_arn = own_task_arn()
    try:
        phase = execute_job(job_id, service, duration, task_arn, in_container=True)
    except TaskStopped:
        logger.info("task stopped")
        return _end_stopped(job_id, service)
    logger.info("task done", extra={"phase": str(phase)})
    return 0


def _end_stopped(job_id: str, service: Service) -> int:
    """ERROR for a job the stop interrupted; 0 if its end is recorded now or was already
    (ABORT and the reaper stop tasks after ending their jobs), 1 for one not yet started,
    which the reaper ends once the task has stopped."""

    def record() -> None:
        service.store.mark_failed(job_id, service.clock(), ErrorSummary(STOPPED_MESSAGE))

    try:
        persevering(record, time.monotonic() + STOP_PATIENCE, "stopped", job_id)
    except StateConflict as conflict:
        return 1 if conflict.job.phase == Phase.QUEUED else 0
    except NotFound:
        return 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
