"""The scheduled sweep: destroy jobs past their destruction time, end jobs past their
deadline (stopping their containers), and end the jobs of container tasks that stopped
without ending them (out of memory, killed, never started).

A job past its destruction time is already gone for clients before a sweep removes it: every
read and every write of the store refuses it (``uws.store.writes.access_condition`` and
``explain``, through ``Job.is_destroyed``); the sweep only frees its item and files.

Both come from index queries over the few shards of the destruction and deadline indexes, so
a sweep reads what is due, never the whole table. Each change is conditional, so two sweeps
that overlap (or a client acting at the same moment) do each thing at most once. A sweep is
bounded; what it leaves is still due and the next sweep takes it up.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from .errors import NotFound
from .phases import Phase
from .service import Service
from .store import StateConflict
from .telemetry import count, logger
from .worker import DEADLINE_MESSAGE

# RUN of a job in ERROR is refused, so "again" means as a new job.
NEVER_STARTED = "No worker started the job while its run request was kept; please submit it again."
GRACE = datetime.timedelta(seconds=30)  # a running job's own check() ends it first


@dataclass
class SweepReport:
    """What one sweep did, for the reaper's log line and its tests."""

    destroyed: int = 0
    timed_out: int = 0
    recovered: int = 0
    lost: int = 0  # jobs whose container task stopped without ending them


def sweep(service: Service, limit: int = 1000) -> SweepReport:
    report = SweepReport()
    now = service.clock()
    for job_id in list(service.store.expired(now, limit)):
        if service.store.destroy_expired(job_id, now):
            service.files.delete_job(job_id)
            report.destroyed += 1
            count("JobsDestroyed")
    for job_id, phase in list(service.store.overdue(now - GRACE, limit)):
        outcome = _end_overdue(service, job_id, phase, now)
        if outcome == Phase.EXECUTING:
            report.timed_out += 1
            count("JobsTimedOut")
        elif outcome == Phase.QUEUED:
            report.recovered += 1
            count("JobsRecovered")
    report.lost = _end_lost_tasks(service, now)
    logger.info("sweep done", extra=vars(report))
    return report


def _end_overdue(
    service: Service, job_id: str, phase: Phase, now: datetime.datetime
) -> Phase | None:
    """End a job stuck in QUEUED or EXECUTING past its deadline in ERROR; return the phase it
    was in, or None if it had moved on meanwhile."""
    message = DEADLINE_MESSAGE if phase == Phase.EXECUTING else NEVER_STARTED
    try:
        was = service.store.end_overdue(job_id, phase, now, now - GRACE, message)
    except (StateConflict, NotFound):
        return None
    logger.info("overdue job ended", extra={"job_id": job_id, "was": str(phase)})
    service.stop_task(was, message)
    return phase


def _end_lost_tasks(service: Service, now: datetime.datetime) -> int:
    """End in ERROR each job still QUEUED or EXECUTING whose task has stopped. A task that
    exited 0 ended its job itself (or found it ended); any other end may have left it."""
    lost = 0
    for task in service.tasks.stopped():
        if task.exit_code == 0:
            continue
        try:
            service.store.end_lost_task(task.job_id, task.task_arn, now, task.message)
        except (StateConflict, NotFound):
            continue  # ended already (aborted, deleted, timed out), or another task's job
        logger.warning("job of a stopped task ended", extra={"job_id": task.job_id,
                                                              "why": task.message})  # fmt: skip
        count("JobsLost")
        lost += 1
    return lost
