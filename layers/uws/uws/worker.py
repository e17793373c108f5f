"""Running jobs: the context a job type's callable gets, and one run from QUEUED to its end.

A run takes the job QUEUED → EXECUTING in one conditional write (so a redelivered message,
or one for an aborted or deleted job, does nothing), calls the job type, and ends the job
COMPLETED, ERROR or ABORTED. Every write is conditional on the job still EXECUTING: when the
client aborted meanwhile, the run's own writes fail their condition and change nothing.

A job type's callable gets a :class:`JobContext`::

    def run(ctx: JobContext) -> None:
        ctx.parameters["TEXT"]          # the job's parameters (single values as str)
        ctx.check()                     # raises if the job was aborted or ran out of time
        ctx.progress(done="50%")        # shown in the job's jobInfo
        ctx.write_result("result", b"...", "text/plain")   # main result: "result"
        ctx.read_upload("UPLOAD")       # the bytes of an uploaded parameter
        ctx.deadline, ctx.logger, ctx.job_id
"""

from __future__ import annotations

import datetime
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from .errors import NotFound, PayloadTooLarge, ServiceUnavailable
from .files import result_key
from .job import (
    INFO_KEY,
    MAX_ERROR_MESSAGE,
    MAX_INFO_ENTRIES,
    MAX_INFO_VALUE,
    MAX_RESULTS,
    RESULT_NAME,
    SYSTEM,
    ErrorSummary,
    Job,
    Result,
    xml_safe,
)
from .phases import FINAL, Phase
from .service import Service
from .store import StateConflict
from .telemetry import count, logger

DEADLINE_MESSAGE = "The job exceeded its execution duration and was stopped."
CHECK_INTERVAL = 1.0  # seconds between reads of the job's phase in check()
# How long a run keeps trying a write AWS refuses as busy (a 503 after the SDK's retries:
# throttling, a transaction conflict, a 500): on Lambda, the invocation's remaining time less
# LAMBDA_MARGIN (for the reply); in a container task, which has no time limit, TASK_PATIENCE.
LAMBDA_MARGIN = 5.0
TASK_PATIENCE = 600.0
PAUSE_CAP = 8.0  # the longest pause between two tries

T = TypeVar("T")


def persevering(write: Callable[[], T], until: float, what: str, job_id: str) -> T:
    """``write``, tried again while AWS answers busy (ServiceUnavailable), with doubling pauses
    of full jitter (AWS Architecture Blog, "Exponential Backoff And Jitter") until the
    ``time.monotonic()`` instant ``until``; then the last refusal propagates. A job's outcome
    must not be lost to an error that a later try would not meet."""
    attempt = 0
    while True:
        try:
            return write()
        except ServiceUnavailable:
            pause = random.uniform(0, min(PAUSE_CAP, 0.1 * 2**attempt))
            if time.monotonic() + pause >= until:
                raise
            attempt += 1
            logger.warning("AWS busy; trying again", extra={"job_id": job_id, "write": what,
                                                            "attempt": attempt})  # fmt: skip
            time.sleep(pause)


class JobStopped(Exception):
    """Raised by :meth:`JobContext.check`: the job must stop now."""


class JobAborted(JobStopped):
    pass


class JobDeleted(JobAborted):
    pass


class DeadlineExceeded(JobStopped):
    pass


class JobFailed(Exception):
    """Raise this from a job type to end the job in ERROR with exactly this message."""


@dataclass
class JobContext:
    """What a job type's callable gets: parameters, result writing, check(), progress."""

    job: Job
    service: Service
    deadline: datetime.datetime
    results: list[Result] = field(default_factory=list)
    info_keys: set[str] = field(default_factory=set)
    until: float = field(default_factory=lambda: time.monotonic() + TASK_PATIENCE)  # persevering
    in_container: bool = False  # run by a container task (uws.task), not the Lambda worker
    # What the job type's needs_container hook prepared (TAP: the query and its uploads), kept
    # for the run of the same job, so that nothing is fetched twice.
    prepared: dict[str, Any] = field(default_factory=dict)
    _last_check: float = field(default_factory=time.monotonic)  # marked EXECUTING just now

    @property
    def job_id(self) -> str:
        return self.job.job_id

    @property
    def logger(self) -> Any:
        return logger

    @property
    def parameters(self) -> dict[str, str | list[str]]:
        """Single-valued parameters as their value, multi-valued ones as lists; declared
        defaults fill in what the client left out."""
        declared = self.service.job_type_of(self.job).parameters
        values: dict[str, str | list[str]] = {
            p.name: p.default for p in declared if p.default is not None
        }
        for parameter in declared:
            given = self.job.parameters.get(parameter.name)
            if given:
                values[parameter.name] = given if parameter.multiple else given[0]
        return values

    def read_upload(self, name: str) -> bytes:
        key = self.job.uploads[name].key
        return self.persevering(lambda: self.service.files.read(key), "read upload")

    def persevering(self, call: Callable[[], T], what: str) -> T:
        """``call``, tried again while AWS is busy, as long as this run may (``until``)."""
        return persevering(call, self.until, what, self.job_id)

    def check(self) -> None:
        """Raise JobStopped if the deadline passed or (read at most once a second) the job
        was aborted or deleted."""
        if self.service.clock() >= self.deadline:
            raise DeadlineExceeded(DEADLINE_MESSAGE)
        now = time.monotonic()
        if now - self._last_check < CHECK_INTERVAL:
            return
        self._last_check = now
        try:
            current = self.service.store.get(self.job_id)
        except ServiceUnavailable:  # AWS busy: the next check reads again
            logger.warning("check skipped: AWS busy", extra={"job_id": self.job_id})
            return
        if current is None or current.phase != Phase.EXECUTING:
            raise JobAborted("The job was aborted or deleted.")

    def progress(self, **info: str) -> None:
        """Show progress in the job's jobInfo (kept only while the job executes).

        Names are like result names, values at most MAX_INFO_VALUE characters, and a job
        keeps at most MAX_INFO_ENTRIES of them: what goes beyond is dropped with a warning,
        and so is progress that would not fit the item, since it must never fail the job.
        """
        entries = {}
        for key, value in info.items():
            if not INFO_KEY.fullmatch(key):
                logger.warning("progress name refused", extra={"name": key[:64]})
                continue
            entries[key] = xml_safe(str(value), MAX_INFO_VALUE)
        kept = []
        for key in entries:
            if key in self.info_keys or len(self.info_keys) < MAX_INFO_ENTRIES:
                self.info_keys.add(key)
                kept.append(key)
        if len(kept) < len(entries):
            logger.warning("progress entries over the limit dropped", extra={"job_id": self.job_id})
        if not kept:
            return
        try:
            self._while_executing(
                self.service.store.record_progress, {k: entries[k] for k in kept}, patient=False
            )
        except PayloadTooLarge:
            logger.warning("progress too large for the job's item", extra={"job_id": self.job_id})
        except ServiceUnavailable:  # progress is a courtesy: never wait for it
            logger.warning("progress dropped: AWS busy", extra={"job_id": self.job_id})

    def write_result(
        self, name: str, data: bytes | str | Path, mime_type: str = "application/octet-stream"
    ) -> Result:
        """Store a result file under the job's prefix and list it in the job at once, so
        results written before an abort stay listed."""
        if not RESULT_NAME.fullmatch(name):
            raise ValueError(f"result names are letters, digits, '.', '_' and '-': {name[:70]!r}")
        if len(self.results) >= MAX_RESULTS and all(r.id != name for r in self.results):
            raise ValueError(f"a job writes at most {MAX_RESULTS} results")
        if isinstance(data, Path):
            data = data.read_bytes()
        elif isinstance(data, str):
            data = data.encode("utf-8")
        key = result_key(self.job_id, name)
        size = self.persevering(lambda: self.service.files.put(key, data, mime_type), "result")
        result = Result(name, key, mime_type, size)
        results = [r for r in self.results if r.id != name] + [result]
        try:
            self._while_executing(self.service.store.record_results, results)
        except Exception as failure:  # nothing will list the file: leave nothing behind
            if isinstance(failure, JobDeleted) or all(r.key != key for r in self.results):
                self.service.files.delete_keys([key])
            raise
        self.results = results
        return result

    def _while_executing(self, record: Any, value: Any, patient: bool = True) -> None:
        """A write the store makes only while the job executes (else the run must stop),
        ``patient``ly: tried again while AWS is busy."""

        def write() -> None:
            record(self.job_id, self.service.clock(), value)

        try:
            self.persevering(write, record.__name__) if patient else write()
        except StateConflict:
            raise JobAborted("The job was aborted.") from None
        except NotFound:
            raise JobDeleted("The job was deleted.") from None


UNRECORDED = "The job ended, but its outcome was too large to record."


def execute_job(
    job_id: str, service: Service, execution_duration: int | None = None,
    task_arn: str | None = None, seconds_left: Callable[[], float] | None = None,
    in_container: bool = False,
) -> Phase | None:  # fmt: skip
    """Run one queued job to its end; return its final phase, or None if it was not ours to run
    (or the worker handed it to the container runner: :func:`_handed_to_container`).

    ``execution_duration`` is the job's when it was queued (the message or the task names
    it): the job starts in one conditional write, without a read, unless the duration changed
    meanwhile. ``task_arn``: the container task running it (uws.task), recorded in that write;
    ``in_container``: this is that task. ``seconds_left``: what remains of the Lambda
    invocation, the run's patience with a busy AWS (a container task has TASK_PATIENCE).
    """
    now = service.clock()
    patience = TASK_PATIENCE if seconds_left is None else seconds_left() - LAMBDA_MARGIN
    until = time.monotonic() + patience
    prepared: dict[str, Any] = {}
    try:
        if not in_container and _handed_to_container(job_id, service, until, prepared):
            return None
        job = persevering(
            lambda: _start(job_id, service, now, execution_duration, task_arn, in_container),
            until, "start", job_id,
        )  # fmt: skip
    except NotFound:
        logger.info("job gone before it ran", extra={"job_id": job_id})
        return None
    if job is None:
        return None
    deadline = now + datetime.timedelta(seconds=job.execution_duration)
    context = JobContext(job, service, deadline, until=until, in_container=in_container,
                         prepared=prepared)  # fmt: skip
    logger.info("job started", extra={"job_id": job_id, "job_type": job.job_type})
    try:
        service.job_type_of(job).run(context)  # type: ignore[misc]
    except JobAborted:
        logger.info("job stopped: aborted", extra={"job_id": job_id})
        return Phase.ABORTED
    except DeadlineExceeded:
        return _finish(context, Phase.ERROR, ErrorSummary(DEADLINE_MESSAGE))
    except JobFailed as failure:
        return _finish(context, Phase.ERROR, _summary(str(failure)))
    except Exception as error:
        # The traceback is ours, not the client's: it goes to the logs with the job id, and
        # the job shows the exception's message.
        logger.exception("job failed", extra={"job_id": job_id})
        return _finish(context, Phase.ERROR, _summary(f"{type(error).__name__}: {error}"))
    return _finish(context, Phase.COMPLETED, None)


def _handed_to_container(
    job_id: str, service: Service, until: float, prepared: dict[str, Any]
) -> bool:
    """Whether the worker handed the job to the container runner instead of running it: its
    type's ``needs_container`` (asked only when the deployment has that runner, after one
    read of the job) said why, and a RunTask and a conditional write (still QUEUED, now the
    container's: TO_CONTAINER) followed. A hook that fails, or an ECS that starts no task,
    leaves the job to the worker, as it was before the hook existed. What the hook prepares
    stays in ``prepared`` for the worker's run."""
    if service.new_job_type.needs_container is None or not service.tasks.available:
        return False
    now = service.clock()
    job = persevering(lambda: service.store.load(job_id, SYSTEM, now), until, "read", job_id)
    needs = service.job_type_of(job).needs_container
    if job.phase != Phase.QUEUED or job.in_container or needs is None:
        return job.in_container  # a redelivered message of a job handed over already
    deadline = now + datetime.timedelta(seconds=job.execution_duration)
    try:
        why = needs(JobContext(job, service, deadline, until=until, prepared=prepared))
    except Exception:
        logger.exception("needs_container failed; the worker runs it", extra={"job_id": job_id})
        return False
    if not why:
        return False
    try:  # RunTask first: a failed write leaves a task that finds the job not QUEUED
        service.tasks.start(job_id, job.execution_duration, job.version)
    except ServiceUnavailable:
        logger.warning("no container for the job; the worker runs it", extra={"job_id": job_id})
        return False
    try:
        persevering(
            lambda: service.store.mark_in_container(job_id, now, dict(why)),
            until, "to container", job_id,
        )  # fmt: skip
    except StateConflict as conflict:
        if conflict.job.phase in FINAL:  # ABORT came first, and found no task to stop: stop it
            service.tasks.stop(conflict.job, "The job ended before its container took it up.")
        # else the task has taken it up already
        logger.info("not handed over", extra={"job_id": job_id, "phase": conflict.job.phase})
        return True
    except NotFound:  # deleted meanwhile; DELETE found no task to stop either
        service.tasks.stop(job, "The job was deleted before its container took it up.")
        return True
    except ServiceUnavailable:  # the task is started and takes the job up without the mark
        logger.warning("handed over unmarked: AWS busy", extra={"job_id": job_id})
        return True
    logger.info("job handed to the container runner", extra={"job_id": job_id, "why": dict(why)})
    return True


def _start(
    job_id: str, service: Service, now: datetime.datetime, execution_duration: int | None,
    task_arn: str | None, in_container: bool = False,
) -> Job | None:  # fmt: skip
    """QUEUED → EXECUTING in one write; None if the job is not (or no longer) queued, or is
    the container runner's and this is not its task.

    A refused write hands back the job: still QUEUED means its execution duration changed
    since the RUN, so the write is tried again with the new one; EXECUTING since ``now``
    means our own write succeeded and boto3 retried it after a lost reply.
    """
    store = service.store
    if execution_duration is None:  # a message from before messages named it
        execution_duration = store.load(job_id, SYSTEM, now).execution_duration
    for _ in range(5):
        try:
            return store.mark_executing(job_id, now, execution_duration, task_arn, in_container)
        except StateConflict as conflict:
            current = conflict.job
            if current.phase == Phase.EXECUTING and current.start_time == now:
                return current
            if current.phase != Phase.QUEUED or (current.in_container and not in_container):
                logger.info("not running", extra={"job_id": job_id, "phase": current.phase})
                return None
            execution_duration = current.execution_duration
    raise RuntimeError("the job's execution duration keeps changing; SQS delivers it again")


def _summary(message: str) -> ErrorSummary:
    """An error summary any item and any document can hold, whatever the job raised."""
    return ErrorSummary(xml_safe(message, MAX_ERROR_MESSAGE))


def _finish(context: JobContext, phase: Phase, summary: ErrorSummary | None) -> Phase:
    """EXECUTING → the end phase, in one conditional write; an aborted job stays ABORTED."""
    service = context.service
    store, job_id = service.store, context.job_id

    def record_end() -> Phase:
        """The end, tried again while AWS is busy: a write AWS refused changed nothing, and
        one it applied before a lost reply is found done (StateConflict, below)."""
        try:
            if summary is None:
                store.mark_completed(job_id, service.clock())
            else:
                store.mark_failed(job_id, service.clock(), summary)
            return phase
        except PayloadTooLarge:
            # The outcome does not fit the item (its parameters take most of it): a job must
            # never stay EXECUTING for that, so record a bare ERROR, dropping what the run had
            # added.
            logger.exception("final write too large", extra={"job_id": job_id})
            bare = ErrorSummary(UNRECORDED)
            store.mark_failed(job_id, service.clock(), bare, dropping_progress=True)
            return Phase.ERROR

    if summary is not None:
        count("JobsFailed")
    try:
        # What outlasts the run's patience returns the message (or fails the task); the
        # reaper ends the job at its deadline if no later write succeeds.
        phase = context.persevering(record_end, "end")
    except StateConflict as conflict:
        logger.info("job ended elsewhere", extra={"job_id": job_id, "phase": conflict.job.phase})
        return conflict.job.phase
    except NotFound:  # deleted while running: remove what the run wrote
        service.files.delete_job(job_id)
        return Phase.ABORTED
    logger.info("job ended", extra={"job_id": job_id, "phase": str(phase)})
    if phase == Phase.COMPLETED:
        count("JobsCompleted")
    return phase
