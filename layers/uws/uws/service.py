"""The job service: the verbs of a job's life, and what they work with.

:class:`Service` holds the stores, the runners, the deployment's settings and the clock (built
once per request; the clients inside are created once per container; tests swap the clock and
``sleep``), and offers the verbs a client's request comes down to: ``create``, ``run``,
``abort``, ``delete`` and the changes (``change_parameters``, ``change_execution_duration``,
``change_destruction``). The web room (:mod:`uws.web`) parses requests into these calls, the
browser pages post to the same resources, and the worker and the reaper use the same service.
:class:`JobHandle` is a job as a caller names it.
"""

from __future__ import annotations

import contextlib
import datetime
import os
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from . import files
from .config import LAMBDA_MAX_EXECUTION_DURATION, Settings, settings
from .containers import ContainerTasks, runs_in_container
from .errors import BadRequest, Conflict, Forbidden, NotFound, ServiceUnavailable, shown
from .files import FileStore
from .isodt import utcnow
from .job import (
    Caller,
    Job,
    Upload,
    UploadedFile,
    clamp_execution_duration,
    is_job_id,
    latest_destruction,
    new_job,
    queue_deadline,
)
from .jobtypes import JobType, job_type
from .phases import Phase
from .queue import RunQueue
from .store import JobStore, QuotaReached, StateConflict
from .telemetry import count, logger

# A file field of a type that takes files by any name: a name a URL and a key can carry.
FILE_FIELD = re.compile(r"[A-Za-z][A-Za-z0-9_.-]{0,63}")


@dataclass
class NewJob:
    """What a client asks for when it creates a job, its values already parsed."""

    parameters: list[tuple[str, str]] = field(default_factory=list)  # names as sent
    files: dict[str, UploadedFile] = field(default_factory=dict)
    run_id: str | None = None
    execution_duration: int | None = None
    destruction: datetime.datetime | None = None
    run: bool = False  # PHASE=RUN: start it at once


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
    def new_job_type(self) -> JobType:
        """The type of the jobs this deployment creates (its JOB_TYPE)."""
        return job_type(self.settings.job_type)

    def job_type_of(self, job: Job) -> JobType:
        """The type of an existing job (created before a redeploy, it may differ from
        :attr:`new_job_type`)."""
        return job_type(job.job_type)

    def in_container(self, job: Job) -> bool:
        """Whether the job runs (or would run) as a container task rather than on the worker."""
        return (
            job.task_arn is not None
            or job.in_container
            or runs_in_container(self.job_type_of(job), job.execution_duration)
        )

    def stop_task(self, job: Job, reason: str) -> None:
        """Stop the container of a job that was QUEUED or EXECUTING there."""
        if job.phase in (Phase.QUEUED, Phase.EXECUTING) and self.in_container(job):
            self.tasks.stop(job, reason)

    # ---- the verbs -------------------------------------------------------------------------

    def create(self, caller: Caller, wanted: NewJob) -> Job:
        """A new job, PENDING (QUEUED with ``run``), stored in one write; its files first."""
        now = self.clock()
        jobtype = self.new_job_type
        job = new_job(caller.owner, jobtype.name, now, self.settings)
        job.parameters = jobtype.validate(wanted.parameters)
        job.run_id = wanted.run_id
        if wanted.execution_duration is not None:
            job.execution_duration = clamp_execution_duration(
                wanted.execution_duration, self.settings
            )
        if wanted.destruction is not None:
            if wanted.destruction <= now:  # the 303 would lead to a 404 (docs/uws.md, Values)
                raise BadRequest("DESTRUCTION is in the past; a new job would be gone at once.")
            job.destruction = min(wanted.destruction, latest_destruction(now, self.settings))
        if wanted.run:
            _check_required(jobtype, job.parameters)
        for name, (upload, filename) in self._store_uploads(jobtype, job.job_id, wanted.files):
            job.parameters[name] = [filename]
            job.uploads[name] = upload
        if wanted.run:
            job.phase = Phase.QUEUED
            job.deadline = queue_deadline(now, self.settings)
        try:
            self.store.create(job)
        except QuotaReached:  # the owner's quota is full: HELD, as a later RUN would be
            job.phase, job.deadline = Phase.HELD, None
            self.store.create(job)
            count("JobsHeld")
        count("JobsCreated")
        if job.phase == Phase.QUEUED:
            try:
                self._hand_over(JobHandle(job.job_id, caller, self), job)
            except ServiceUnavailable:
                # The client hears 503 and never learns of this job: it goes, so that a retry
                # (with the same Idempotency-Key or none) leaves one job, not two.
                with contextlib.suppress(Exception):
                    self.store.delete(job.job_id, caller, self.clock())
                raise
        return job

    def run(self, job: JobHandle) -> None:
        """RUN: PENDING (or HELD) → QUEUED in one conditional write, then one message to the
        worker's queue or one RunTask. With a quota, a RUN beyond the owner's limit puts the
        job in HELD instead (UWS 1.1: the client sends RUN again later).

        RUN on a queued or executing job changes nothing; on a finished job it is a 403. A
        required parameter missing is a 400 and the job stays PENDING.
        """
        jobtype = self.new_job_type
        for _ in range(3):  # the deployment's type; a job's own, if it is of another
            required = [p.name for p in jobtype.parameters if p.required]
            deadline = queue_deadline(job.now(), self.settings)
            try:
                queued = self.store.mark_queued(
                    job.id, job.caller, job.now(), deadline, jobtype.name, required
                )
            except QuotaReached:
                count("JobsHeld")
                with contextlib.suppress(StateConflict):  # HELD already, or changed meanwhile
                    self.store.mark_held(job.id, job.caller, job.now())
                return
            except StateConflict as conflict:
                current = conflict.job
                if current.phase in (Phase.QUEUED, Phase.EXECUTING):
                    return
                if current.phase not in (Phase.PENDING, Phase.HELD):
                    raise Forbidden(
                        f"A job in phase {current.phase} cannot be run again."
                    ) from None
                if current.job_type != jobtype.name:
                    jobtype = self.job_type_of(current)
                    continue
                _check_required(jobtype, current.parameters)
                continue  # a parameter came and went meanwhile: look again
            self._hand_over(job, queued)
            return
        raise Conflict("The job changed while it was being run; please send RUN again.")

    def abort(self, job: JobHandle) -> None:
        """ABORT: any active phase → ABORTED, and a container job's task stopped; aborting a
        finished job changes nothing."""
        try:
            was = self.store.mark_aborted(job.id, job.caller, job.now())
        except StateConflict:
            return  # already finished
        count("JobsAborted")
        self.stop_task(was, "The UWS job was aborted.")

    def delete(self, job: JobHandle) -> None:
        """The item goes first (one conditional delete): from then on the job is gone for
        everyone. The files it lists (results, uploads) follow in one call, without listing
        the bucket; a file never recorded (a run or an upload that died between S3 and
        DynamoDB) and any S3 leaves behind, the bucket's lifecycle rule removes."""
        deleted = self.store.delete(job.id, job.caller, job.now())
        count("JobsDeleted")
        self.stop_task(deleted, "The UWS job was deleted.")
        keys = [r.key for r in deleted.results] + [u.key for u in deleted.uploads.values()]
        try:
            self.files.delete_keys(keys)
        except Exception:
            logger.exception("job deleted, its files left to the lifecycle rule")
            count("FilesLeftBehind")

    def change_parameters(
        self, job: JobHandle, parameters: list[tuple[str, str]],
        uploaded: dict[str, UploadedFile], run_id: str | None,
    ) -> None:  # fmt: skip
        """Set declared parameters, uploaded files and the runId, while PENDING, in one write.
        Files go to S3 first, each under a fresh key; a refused write deletes them, and a
        done one deletes only the files it displaced (a POST at the same moment has its own)."""
        jobtype = self.new_job_type
        for _ in range(2):  # the deployment's type; a job's own, if it is of another
            try:
                values = jobtype.validate(parameters)
            except BadRequest:  # a job of another type may declare them: one read tells
                current = job.load()
                if current.job_type == jobtype.name:
                    raise
                jobtype = self.job_type_of(current)
                values = jobtype.validate(parameters)
            new_uploads = self._store_uploads(jobtype, job.id, uploaded)
            uploads = {name: upload for name, (upload, _) in new_uploads}
            values.update({name: [filename] for name, (_, filename) in new_uploads})
            if not values and run_id is None:
                return
            try:
                replaced = self.store.set_parameters(
                    job.id, job.caller, job.now(), jobtype.name, values, uploads, run_id
                )
            except (StateConflict, NotFound, Forbidden) as error:
                self.files.delete_keys([upload.key for upload in uploads.values()])
                if not isinstance(error, StateConflict):
                    raise
                if error.job.phase == Phase.PENDING and error.job.job_type != jobtype.name:
                    jobtype = self.job_type_of(error.job)
                    continue
                raise Forbidden(
                    f"Parameters can be changed only while PENDING, not {error.job.phase}."
                ) from None
            self.files.delete_keys([upload.key for upload in replaced])
            return
        raise Conflict("The job changed while its parameters were set; please send them again.")

    def change_execution_duration(self, job: JobHandle, seconds: int) -> None:
        """Whole seconds (0: the maximum), while PENDING, HELD or QUEUED; a QUEUED job on the
        worker's queue keeps at most what the worker can run (its runner was chosen at RUN)."""
        seconds = clamp_execution_duration(seconds, self.settings)
        limit = None if self.new_job_type.container else LAMBDA_MAX_EXECUTION_DURATION
        try:
            self.store.set_execution_duration(job.id, job.caller, job.now(), seconds, limit)
        except StateConflict as conflict:
            raise Forbidden(
                "executionDuration can be changed only while PENDING or QUEUED, "
                f"not {conflict.job.phase}."
            ) from None

    def change_destruction(self, job: JobHandle, when: datetime.datetime) -> None:
        """Any phase; one write when ``when`` is within the maximum after the job's creation,
        a second only to clamp a later one. A past time destroys the job."""
        longest = datetime.timedelta(days=self.settings.max_destruction_days)
        try:
            self.store.set_destruction(job.id, job.caller, job.now(), when, longest)
        except StateConflict as conflict:
            clamped = latest_destruction(conflict.job.creation_time, self.settings)
            self.store.set_destruction(job.id, job.caller, job.now(), min(when, clamped))

    # ---- their parts -----------------------------------------------------------------------

    def _hand_over(self, job: JobHandle, queued: Job) -> None:
        """Hand a QUEUED job to its runner: one message to the worker's queue, or one RunTask
        for a container job. If that fails, put the job back to PENDING and say 503."""
        in_container = self.in_container(queued)
        try:
            if in_container:
                self.tasks.start(job.id, queued.execution_duration, queued.version)
            else:
                self.queue.send(job.id, queued.execution_duration)
            count("JobsQueued")
        except Exception as failure:
            self.store.unqueue(job.id, job.caller, job.now())
            if isinstance(failure, ServiceUnavailable) and in_container:
                raise ServiceUnavailable(
                    f"{failure.message[:-1]}; the job stays PENDING."
                ) from None
            raise ServiceUnavailable(
                "The job queue is unavailable; the job stays PENDING."
            ) from None

    def _store_uploads(
        self, jobtype: JobType, job_id: str, uploaded: dict[str, UploadedFile]
    ) -> list[tuple[str, tuple[Upload, str]]]:
        """Put files sent for declared ``file`` parameters into S3, each under a fresh key (so
        a change that is then refused leaves older files untouched)."""
        stored = []
        for field_name, sent in uploaded.items():
            parameter = jobtype.parameter(field_name)
            if parameter is not None and parameter.type == "file":
                name = parameter.name
            elif (
                parameter is None and jobtype.files_by_any_name and FILE_FIELD.fullmatch(field_name)
            ):
                name = field_name
            else:
                raise BadRequest(f"Parameter {shown(field_name)} does not take a file upload.")
            key = files.upload_key(job_id, f"{os.urandom(4).hex()}-{name}")
            size = self.files.put(key, sent.content, sent.content_type, attachment=True)
            stored.append((name, (Upload(key, sent.content_type, size), sent.filename)))
        return stored


def _check_required(jobtype: JobType, parameters: dict[str, list[str]]) -> None:
    missing = jobtype.missing(parameters)
    if missing:
        raise BadRequest(
            f"The job cannot run without its required parameters: {', '.join(missing)}."
        )


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
    """A job as a caller names it (an id of ours, or a 404 without a lookup); loaded or
    changed only through the store's guards."""

    def __init__(self, job_id: str, caller: Caller, service: Service) -> None:
        if not is_job_id(job_id):
            raise NotFound("No such job: the id is not one this service hands out.")
        self.id = job_id
        self.caller = caller
        self.service = service

    def now(self) -> datetime.datetime:
        return self.service.clock()

    def load(self) -> Job:
        return self.service.store.load(self.id, self.caller, self.now())
