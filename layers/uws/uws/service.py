"""Service: what the actions, the worker and the reaper work with, and the verbs of a
job's life that more than one resource uses.

:class:`Service` holds the stores, the run queue, the deployment's settings and the clock,
built once per request (the clients inside are created once per container; tests swap the
clock and ``sleep``). :class:`JobHandle` is a job as a caller may touch it; ``queue_job``,
``enqueue`` and ``abort_job`` are RUN and ABORT, for ``{job}/phase`` and for creation with
PHASE=RUN.
"""

from __future__ import annotations

import contextlib
import datetime
import time
from collections.abc import Callable
from dataclasses import dataclass

from .config import LAMBDA_MAX_EXECUTION_DURATION, Settings, settings
from .containers import ContainerTasks, runs_in_container
from .errors import BadRequest, Forbidden, NotFound, ServiceUnavailable
from .files import FileStore
from .isodt import utcnow
from .job import Caller, Job, is_job_id, queue_deadline
from .jobtypes import JobType, job_type
from .phases import Phase
from .queue import RunQueue
from .store import JobStore, QuotaReached, StateConflict
from .telemetry import count


@dataclass
class Service:
    """What every verb needs: settings, the store, the files, the runners (the worker's queue
    and the container tasks), a clock."""

    settings: Settings
    store: JobStore
    files: FileStore
    queue: RunQueue
    clock: Callable[[], datetime.datetime]
    tasks: ContainerTasks
    sleep: Callable[[float], None] = time.sleep

    @property
    def job_type(self) -> JobType:
        """The type new jobs get: the deployment's JOB_TYPE."""
        return job_type(self.settings.job_type)

    def job_type_of(self, job: Job) -> JobType:
        return job_type(job.job_type)

    def in_container(self, job: Job) -> bool:
        """Whether the job runs (or would run) as a container task rather than on the worker."""
        return job.task_arn is not None or runs_in_container(
            self.job_type_of(job), job.execution_duration
        )

    def queued_duration_limit(self, job_type: JobType) -> int | None:
        """The most seconds a QUEUED job of this type may be given: a job queued for the
        Lambda worker cannot move to a container (its message is on the worker's queue)."""
        return None if job_type.container else LAMBDA_MAX_EXECUTION_DURATION

    def stop_task(self, job: Job, reason: str) -> None:
        """Stop the container of a job that was QUEUED or EXECUTING there."""
        if job.phase in (Phase.QUEUED, Phase.EXECUTING) and self.in_container(job):
            self.tasks.stop(job, reason)


def build_service() -> Service:
    config = settings()
    return Service(
        settings=config,
        store=JobStore(config.table, config.max_active_jobs_per_owner),
        files=FileStore(config.bucket),
        queue=RunQueue(config.queue_url),
        clock=utcnow,
        tasks=ContainerTasks(config.tasks),
    )


class JobHandle:
    """A job as the caller may touch it: loaded or changed only through the store's guards."""

    def __init__(self, job_id: str, caller: Caller, service: Service) -> None:
        if not is_job_id(job_id):
            raise NotFound("No such job: the id is not one this service hands out.")
        self.id = job_id
        self.caller = caller
        self.service = service

    @property
    def store(self) -> JobStore:
        return self.service.store

    def now(self) -> datetime.datetime:
        return self.service.clock()

    def load(self) -> Job:
        return self.store.load(self.id, self.caller, self.now())


def queue_job(job: JobHandle) -> None:
    """RUN: PENDING (or HELD) → QUEUED in one conditional write, then one message to the
    worker's queue. With a quota, a RUN beyond the owner's limit puts the job in HELD instead
    (UWS 1.1: the client sends RUN again later).

    RUN on a queued or executing job changes nothing; on a finished job it is a 403. A required
    parameter missing is a 400 and the job stays PENDING.
    """
    service = job.service
    required = [p.name for p in service.job_type.parameters if p.required]
    try:
        queued = job.store.mark_queued(
            job.id, job.caller, job.now(), queue_deadline(job.now(), service.settings), required
        )
    except QuotaReached:
        count("JobsHeld")
        with contextlib.suppress(StateConflict):  # HELD already, or changed meanwhile
            job.store.mark_held(job.id, job.caller, job.now())
        return
    except StateConflict as conflict:
        current = conflict.job
        if current.phase in (Phase.QUEUED, Phase.EXECUTING):
            return
        if current.phase == Phase.PENDING:
            missing = ", ".join(service.job_type.missing(current.parameters))
            raise BadRequest(
                f"The job cannot run without its required parameters: {missing}."
            ) from None
        raise Forbidden(f"A job in phase {current.phase} cannot be run again.") from None
    enqueue(job, queued)


def enqueue(job: JobHandle, queued: Job) -> None:
    """Hand a QUEUED job to its runner: one message to the worker's queue, or one RunTask for
    a container job. If that fails, put the job back to PENDING and say 503."""
    service = job.service
    in_container = service.in_container(queued)
    try:
        if in_container:
            service.tasks.start(job.id, queued.execution_duration, queued.version)
        else:
            service.queue.send(job.id, queued.execution_duration)
        count("JobsQueued")
    except Exception as failure:
        job.store.unqueue(job.id, job.caller, job.now())
        if isinstance(failure, ServiceUnavailable) and in_container:
            raise ServiceUnavailable(f"{failure.message[:-1]}; the job stays PENDING.") from None
        raise ServiceUnavailable("The job queue is unavailable; the job stays PENDING.") from None


def abort_job(job: JobHandle) -> None:
    """ABORT: any active phase → ABORTED, and a container job's task stopped; aborting a
    finished job changes nothing."""
    try:
        was = job.store.mark_aborted(job.id, job.caller, job.now())
    except StateConflict:
        return  # already finished
    count("JobsAborted")
    job.service.stop_task(was, "The UWS job was aborted.")
