"""The UWS REST actions, after DaCHS's ``gavo.protocols.uwsactions``.

One class per child resource of a job, named by its URL segment, with one ``do<METHOD>``
method per HTTP verb it answers; :class:`JobActions` maps names to classes and dispatches.
Redirects are raised (:class:`~uws.errors.SeeOther`), like DaCHS's ``svcs.SeeOther``, and
become 303s in :mod:`uws.service`; so do errors. A method the class lacks is a 405 that names
the ones it has.

GETs read the job once (strongly consistent); every change is one conditional write built as a
:class:`~uws.store.Change`, whose failure tells us the job's state without another read.
"""

from __future__ import annotations

import base64
import binascii
import datetime
import os
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar
from urllib.parse import urlencode

from . import files as filekeys
from .config import Settings
from .errors import (
    BadRequest,
    Forbidden,
    MethodNotAllowed,
    NotFound,
    SeeOther,
    ServiceUnavailable,
    shown,
)
from .files import FileStore
from .http import TEXT, Request, Response, UploadedFile, fits_lambda_response
from .isodt import formatISODT, parseISODT
from .job import (
    MAX_RUN_ID_LENGTH,
    Job,
    JobRef,
    Upload,
    clamp_execution_duration,
    is_job_id,
    latest_destruction,
    new_job,
)
from .jobtypes import JobType, check_xml_text, job_type
from .phases import (
    ACTIVE,
    EXECUTION_DURATION_CHANGEABLE,
    PARAMETERS_CHANGEABLE,
    Phase,
    sources,
)
from .queue import RunQueue
from .store import Caller, Change, JobStore, StateConflict, queue_deadline
from .telemetry import count, logger
from .xml import MIME as XML
from .xml import job_document, jobs_document, parameters_document, results_document

METHODS = ("GET", "POST", "PUT", "DELETE", "PATCH")


@dataclass
class Service:
    """What actions work with: the stores, the queue, the settings and the clock."""

    settings: Settings
    store: JobStore
    files: FileStore
    queue: RunQueue
    clock: Callable[[], datetime.datetime]
    sleep: Callable[[float], None] = time.sleep

    @property
    def job_type(self) -> JobType:
        """The type new jobs get: the deployment's JOB_TYPE."""
        return job_type(self.settings.job_type)

    def job_type_of(self, job: Job) -> JobType:
        return job_type(job.job_type)


class JobHandle:
    """A job as the caller may touch it: loaded or changed only through the store's guards."""

    def __init__(self, job_id: str, caller: Caller, service: Service) -> None:
        if not is_job_id(job_id):
            raise NotFound("No such job: the id is not one this service hands out.")
        self.id = job_id
        self.caller = caller
        self.service = service

    def load(self) -> Job:
        return self.service.store.load(self.id, self.caller, self.service.clock())

    def change(self, change: Change) -> Job:
        return self.service.store.update(self.id, self.caller, self.service.clock(), change)


def _text(body: str) -> Response:
    return Response(200, body, TEXT)


def _required(request: Request, name: str) -> str:
    value = request.value(name)
    if value is None:
        raise BadRequest(f"Parameter {name} is required here.")
    return value


class Resource:
    """Something answering HTTP methods through ``do<METHOD>`` methods."""

    @classmethod
    def allowed(cls) -> list[str]:
        return [m for m in METHODS if hasattr(cls, f"do{m}")]


class JobAction(Resource):
    """An action done to a job: ``do<METHOD>(job, request)`` methods, dispatched by JobActions.

    ``name`` is the child resource's URL segment from the UWS spec ('' for the job itself).
    """

    name: ClassVar[str]
    mime: ClassVar[str] = XML  # the content type of the resource's own representation

    def answer(self, body: str | bytes) -> Response:
        """A 200 with the resource's representation, typed as ``mime``."""
        return Response(200, body if isinstance(body, str) else body.decode("utf-8"), self.mime)


class RootAction(JobAction):
    """``{job}``: the job document (with WAIT blocking), DELETE, and POST ACTION=DELETE."""

    name = ""

    def doGET(self, job: JobHandle, request: Request) -> Response:
        wait = _wait_seconds(request, job.service.settings.wait_cap)
        awaited = _phase_filter(request)
        current = job.load()
        if wait is not None:
            current = _wait_for_change(job, current, awaited, wait)
        return self.answer(job_document(current, request.links))

    def doDELETE(self, job: JobHandle, request: Request) -> Response:
        """The item goes first (one conditional delete): from then on the job is gone for
        everyone. Its files follow; any S3 leaves behind, the bucket's lifecycle rule removes."""
        deleted = job.service.store.delete(job.id, job.caller, job.service.clock())
        count("JobsDeleted")
        try:
            job.service.files.delete_job(deleted.job_id)
        except Exception:
            logger.exception("job deleted, its files left to the lifecycle rule")
            count("FilesLeftBehind")
        raise SeeOther("async")

    def doPOST(self, job: JobHandle, request: Request) -> Response:
        """DaCHS's extension for browsers: POST ACTION=DELETE deletes the job."""
        others = request.names() - {"ACTION"}
        if others:
            raise BadRequest(
                f"POST to a job takes only ACTION=DELETE; "
                f"set {sorted(others)[0]} at its own resource."
            )
        action = _required(request, "ACTION")
        if action != "DELETE":
            raise BadRequest(f"ACTION must be DELETE, not {shown(action or '')}.")
        return self.doDELETE(job, request)


_INTEGER = re.compile(r"\s*[+-]?[0-9]{1,18}\s*")


def parse_integer(literal: str) -> int | None:
    """A plain decimal integer (ASCII digits, no separators), or None."""
    return int(literal) if _INTEGER.fullmatch(literal) else None


def _wait_seconds(request: Request, cap: int) -> float | None:
    literal = request.value("WAIT")
    if literal is None:
        return None
    seconds = parse_integer(literal)
    if seconds is None:
        raise BadRequest(f"WAIT must be an integer number of seconds, not {shown(literal)}.")
    if seconds < -1:
        raise BadRequest("WAIT must be -1 (wait as long as allowed) or a number of seconds ≥ 0.")
    return float(cap) if seconds == -1 else float(min(seconds, cap))


def _phase_filter(request: Request) -> Phase | None:
    literal = request.value("PHASE")
    if literal is None:
        return None
    try:
        return Phase(literal)
    except ValueError:
        raise BadRequest(
            f"PHASE must be a UWS phase such as EXECUTING, not {shown(literal)}."
        ) from None


def _wait_for_change(job: JobHandle, current: Job, awaited: Phase | None, seconds: float) -> Job:
    """Poll the job with backoff (0.1 s growing to 0.5 s) until its phase changes or time is up.

    Waits only while the job is active and, if PHASE was given, still in that phase.
    """
    start_phase = current.phase
    if start_phase not in ACTIVE or (awaited is not None and start_phase != awaited):
        return current
    service = job.service
    deadline = time.monotonic() + seconds
    interval = 0.1
    while (remaining := deadline - time.monotonic()) > 0:
        service.sleep(min(interval, remaining))
        current = job.load()
        if current.phase != start_phase:
            break
        interval = min(interval * 1.5, 0.5)
    return current


class PhaseAction(JobAction):
    """``{job}/phase``: the phase as text; POST PHASE=RUN queues the job, PHASE=ABORT ends it."""

    name = "phase"
    mime = TEXT

    def doGET(self, job: JobHandle, request: Request) -> Response:
        return self.answer(str(job.load().phase))

    def doPOST(self, job: JobHandle, request: Request) -> Response:
        phase = _required(request, "PHASE")
        if phase == "RUN":
            run_job(job)
        elif phase == "ABORT":
            abort_job(job)
        else:
            raise BadRequest(
                f"PHASE must be RUN or ABORT (case matters), not {shown(phase or '')}."
            )
        raise SeeOther(f"async/{job.id}")


def run_job(job: JobHandle) -> None:
    """PENDING → QUEUED in one conditional write, then one message to the worker's queue.

    RUN on a queued or executing job changes nothing; on a finished job it is a 403. A required
    parameter missing is a 400 and the job stays PENDING.
    """
    service = job.service
    required = [p.name for p in service.job_type.parameters if p.required]
    change = _queued_change(service, job.id)
    if required:
        change.names = {"#params": "parameters"}
        change.names.update({f"#req{i}": name for i, name in enumerate(required)})
        change.condition = " AND ".join(
            f"attribute_exists(#params.#req{i})" for i in range(len(required))
        )
    try:
        job.change(change)
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
    enqueue(job)


def enqueue(job: JobHandle) -> None:
    """Send the worker its message; if SQS fails, put the job back to PENDING and say 503."""
    try:
        job.service.queue.send(job.id)
        count("JobsQueued")
    except Exception:
        job.change(
            Change(
                set={"phase": Phase.PENDING},
                remove=("deadline", "deadlineShard"),
                phases={Phase.QUEUED},
            )
        )
        raise ServiceUnavailable("The job queue is unavailable; the job stays PENDING.") from None


def _queued_change(service: Service, job_id: str) -> Change:
    """Entering QUEUED also sets the deadline by which a worker must have taken the job up."""
    now = service.clock()
    return Change(
        set={"phase": Phase.QUEUED, **queue_deadline(job_id, now, service.settings)},
        phases=sources(Phase.QUEUED),
    )


def abort_job(job: JobHandle) -> None:
    """Any active phase → ABORTED; aborting a finished job changes nothing."""
    change = Change(
        set={"phase": Phase.ABORTED, "endTime": job.service.clock()},
        remove=("deadline", "deadlineShard"),
        phases=sources(Phase.ABORTED),
    )
    try:
        job.change(change)
    except StateConflict:
        return  # already finished
    count("JobsAborted")


class _SettableAction(JobAction):
    """A job attribute with GET as text and POST to change it, as DaCHS's _SettableAction."""

    mime = TEXT
    attName: ClassVar[str]
    parameter: ClassVar[str]

    def doGET(self, job: JobHandle, request: Request) -> Response:
        return self.answer(self.serializeValue(getattr(job.load(), self.attName)))

    def doPOST(self, job: JobHandle, request: Request) -> Response:
        literal = _required(request, self.parameter)
        self.store(job, self.deserializeValue(literal))
        raise SeeOther(f"async/{job.id}")

    def serializeValue(self, value: Any) -> str:
        raise NotImplementedError

    def deserializeValue(self, literal: str) -> Any:
        raise NotImplementedError

    def store(self, job: JobHandle, value: Any) -> None:
        raise NotImplementedError


class ExecDAction(_SettableAction):
    """``{job}/executionduration``: whole seconds, 0 meaning the maximum; PENDING or QUEUED."""

    name = "executionduration"
    attName = "execution_duration"
    parameter = "EXECUTIONDURATION"

    def serializeValue(self, value: int) -> str:
        return str(value)

    def deserializeValue(self, literal: str) -> int:
        return parse_execution_duration(literal)

    def store(self, job: JobHandle, value: int) -> None:
        seconds = clamp_execution_duration(value, job.service.settings)
        change = Change(set={"executionDuration": seconds}, phases=EXECUTION_DURATION_CHANGEABLE)
        try:
            job.change(change)
        except StateConflict as conflict:
            raise Forbidden(
                "executionDuration can be changed only while PENDING or QUEUED, "
                f"not {conflict.job.phase}."
            ) from None


def parse_execution_duration(literal: str) -> int:
    seconds = parse_integer(literal)
    if seconds is None:
        raise BadRequest(
            f"EXECUTIONDURATION must be a whole number of seconds, not {shown(literal)}."
        )
    if seconds < 0:
        raise BadRequest("EXECUTIONDURATION must not be negative.")
    return seconds


class DestructionAction(_SettableAction):
    """``{job}/destruction``: an ISO time, clamped to creation + the maximum; any phase."""

    name = "destruction"
    attName = "destruction"
    parameter = "DESTRUCTION"

    def serializeValue(self, value: datetime.datetime) -> str:
        return formatISODT(value) or ""

    def deserializeValue(self, literal: str) -> datetime.datetime:
        return parse_time("DESTRUCTION", literal)

    def store(self, job: JobHandle, value: datetime.datetime) -> None:
        """One write when the value is within the maximum; a second only to clamp a later one."""
        settings = job.service.settings
        try:
            earliest_creation = value - datetime.timedelta(days=settings.max_destruction_days)
        except OverflowError:  # a value in year 1: always within the maximum
            earliest_creation = datetime.datetime.min
        change = Change(
            set={"destruction": value},
            condition="#created >= :earliest",
            names={"#created": "creationTime"},
            values={":earliest": earliest_creation},
        )
        try:
            job.change(change)
        except StateConflict as conflict:
            clamped = latest_destruction(conflict.job.creation_time, settings)
            job.change(Change(set={"destruction": min(value, clamped)}))


def parse_time(parameter: str, literal: str) -> datetime.datetime:
    try:
        return parseISODT(literal)
    except ValueError as error:
        reason = str(error)
        if len(literal) > 64:  # the seed's message quotes the literal: keep it short
            reason = reason.replace(literal, shown(literal).strip("'\""))
        raise BadRequest(f"{parameter}: {reason}.") from None
    except OverflowError:
        raise BadRequest(f"{parameter}: {shown(literal)} is out of range.") from None


class ErrorAction(JobAction):
    """``{job}/error``: the error text of a job in ERROR; 404 for any other job."""

    name = "error"
    mime = TEXT

    def doGET(self, job: JobHandle, request: Request) -> Response:
        current = job.load()
        if current.phase != Phase.ERROR:
            raise NotFound(f"The job is {current.phase}, not ERROR, so it has no error.")
        summary = current.error_summary
        return self.answer(
            current.error_detail or (summary.message if summary else "The job failed.")
        )


class QuoteAction(JobAction):
    """``{job}/quote``: when the job is expected to finish; empty when unknown."""

    name = "quote"
    mime = TEXT

    def doGET(self, job: JobHandle, request: Request) -> Response:
        return self.answer(formatISODT(job.load().quote) or "")


class OwnerAction(JobAction):
    """``{job}/owner``: the owner id, or NULL for an anonymous job (as DaCHS)."""

    name = "owner"
    mime = TEXT

    def doGET(self, job: JobHandle, request: Request) -> Response:
        return self.answer(job.load().owner or "NULL")


class StartTimeAction(JobAction):
    """``{job}/startTime`` (DaCHS extension): when the job started executing, or NULL."""

    name = "startTime"
    mime = TEXT

    def doGET(self, job: JobHandle, request: Request) -> Response:
        return self.answer(formatISODT(job.load().start_time) or "NULL")


class ParameterAction(JobAction):
    """``{job}/parameters[/{name}]``: the parameters; POST changes them while PENDING."""

    name = "parameters"

    def doGET(self, job: JobHandle, request: Request) -> Response:
        current = job.load()
        wanted = request.path_parameters.get("name")
        if wanted is None:
            return self.answer(parameters_document(current, request.links))
        name = next((n for n in current.parameters if n.upper() == wanted.upper()), None)
        if name is None:
            raise NotFound(f"The job has no parameter {shown(wanted)}.")
        upload = current.uploads.get(name)
        if upload is None:
            return _text("\n".join(current.parameters[name]))
        settings = job.service.settings
        raise SeeOther(
            job.service.files.presigned_get(upload.key, upload.mime_type, settings.presign_seconds)
        )

    def doPOST(self, job: JobHandle, request: Request) -> Response:
        """Declared parameters, and RUNID (the job's runId, as DaCHS and CADC accept here)."""
        service = job.service
        parameters = service.job_type.validate(
            (k, v) for k, v in request.params if k.upper() != "RUNID"
        )
        run_id = parse_run_id(request)
        new_uploads = store_uploads(service, job.id, request.files)
        change = Change(phases=PARAMETERS_CHANGEABLE)
        if run_id is not None:
            change.set["runId"] = run_id
        for name, values in parameters.items():
            change.set[f"parameters.{name}"] = values
        for name, (upload, filename) in new_uploads.items():
            change.set[f"parameters.{name}"] = [filename]
            change.set[f"uploads.{name}"] = {
                "key": upload.key,
                "mimeType": upload.mime_type,
                "size": upload.size,
            }
        if not change.set:
            raise SeeOther(f"async/{job.id}")
        try:
            changed = job.change(change)
        except (StateConflict, NotFound, Forbidden) as error:
            service.files.delete_keys([upload.key for upload, _ in new_uploads.values()])
            if isinstance(error, StateConflict):
                raise Forbidden(
                    f"Parameters can be changed only while PENDING, not {error.job.phase}."
                ) from None
            raise
        if new_uploads:  # files the new ones replaced are no longer referenced
            kept = {upload.key for upload in changed.uploads.values()}
            stale = service.files.keys(filekeys.upload_key(job.id, ""))
            service.files.delete_keys([key for key in stale if key not in kept])
        raise SeeOther(f"async/{job.id}")


def store_uploads(
    service: Service, job_id: str, uploads: dict[str, UploadedFile]
) -> dict[str, tuple[Upload, str]]:
    """Put uploaded files of declared ``file`` parameters into S3, each under a fresh key.

    A fresh key per upload means a change that is then refused leaves older files untouched.
    """
    stored: dict[str, tuple[Upload, str]] = {}
    for field_name, uploaded in uploads.items():
        parameter = service.job_type.parameter(field_name)
        if parameter is None or parameter.type != "file":
            raise BadRequest(f"Parameter {shown(field_name)} does not take a file upload.")
        key = filekeys.upload_key(job_id, f"{os.urandom(4).hex()}-{parameter.name}")
        size = service.files.put(key, uploaded.content, uploaded.content_type)
        stored[parameter.name] = (Upload(key, uploaded.content_type, size), uploaded.filename)
    return stored


class ResultsAction(JobAction):
    """``{job}/results[/{id}]``: the result list; one result is a 303 to a presigned URL."""

    name = "results"

    def doGET(self, job: JobHandle, request: Request) -> Response:
        current = job.load()
        wanted = request.path_parameters.get("id")
        if wanted is None:
            return self.answer(results_document(current, request.links))
        result = current.result(wanted)
        if result is None:
            raise NotFound(f"The job has no result {shown(wanted)}.")
        seconds = job.service.settings.presign_seconds
        raise SeeOther(job.service.files.presigned_get(result.key, result.mime_type, seconds))


class JobActions:
    """A collection of actions on UWS jobs, keyed by child resource name.

    Pass extra JobAction subclasses to add resources or, with a standard name, to override one.
    """

    standardActions: ClassVar[dict[str, type[JobAction]]] = {}

    def __init__(self, *additionalActions: type[JobAction]) -> None:
        self.actions = {**self.standardActions, **{a.name: a for a in additionalActions}}

    @classmethod
    def addStandardAction(cls, actionClass: type[JobAction]) -> None:
        cls.standardActions[actionClass.name] = actionClass

    def dispatch(self, action: str, job: JobHandle, request: Request) -> Response:
        try:
            action_class = self.actions[action]
        except KeyError:
            raise NotFound(f"Jobs have no resource {shown(action)}.") from None
        return call_method(action_class(), job, request)


def call_method(resource: Any, *args: Any) -> Response:
    """Call ``do<METHOD>``; a missing method is a 405.

    HEAD is answered as GET, body and all: the HTTP front end (API Gateway, or the local
    runtime) sends the headers only, with the Content-Length of the GET (RFC 9110, 9.3.2).
    """
    request: Request = args[-1]
    method = "GET" if request.method == "HEAD" else request.method
    handler = getattr(resource, f"do{method}", None)
    if handler is None:
        raise MethodNotAllowed(request.method, type(resource).allowed())
    return handler(*args)


for _action in (
    RootAction,
    PhaseAction,
    ExecDAction,
    DestructionAction,
    ErrorAction,
    QuoteAction,
    OwnerAction,
    ParameterAction,
    ResultsAction,
    StartTimeAction,
):
    JobActions.addStandardAction(_action)


# ---- the job list: /async ----------------------------------------------------------------------


STANDARD_CREATE_PARAMETERS = frozenset({"RUNID", "PHASE", "EXECUTIONDURATION", "DESTRUCTION"})


class JobList(Resource):
    """``/async``: GET lists the caller's jobs (PHASE, AFTER, LAST); POST creates a job.

    A response holds at most ``job_list_page_size`` jobs and fits Lambda's 6 MB response
    limit; when more match, a ``Link: <…>; rel="next"`` header (RFC 8288) gives the URL of
    the next page: the same query and a CURSOR. UWS clients that ignore it see the newest jobs.
    """

    def doGET(self, service: Service, request: Request) -> Response:
        query = JobListQuery.parse(request)
        refs, more = getJobList(service, request.caller, query)
        body = jobs_document(refs, request.links).decode("utf-8")
        while not fits_lambda_response(body) and len(refs) > 1:  # unusually long ids
            refs, more = refs[: len(refs) // 2], True
            body = jobs_document(refs, request.links).decode("utf-8")
        response = Response(200, body, XML)
        following = query.next_page(refs) if more else None
        if following is not None:
            next_url = f"{request.links.jobs()}?{urlencode(following)}"
            response.headers["Link"] = f'<{next_url}>; rel="next"'
        return response

    def doPOST(self, service: Service, request: Request) -> Response:
        job = create_job(service, request)
        raise SeeOther(f"async/{job.job_id}")


@dataclass(frozen=True)
class JobListQuery:
    """The job list's filters: PHASE (repeatable), AFTER, LAST, and CURSOR for paging."""

    phases: frozenset[Phase]
    after: str | None  # as given, for the next page's URL
    last: int | None
    cursor: JobRef | None

    @classmethod
    def parse(cls, request: Request) -> JobListQuery:
        phases: set[Phase] = set()
        for literal in request.values("PHASE"):
            try:
                phases.add(Phase(literal))
            except ValueError:
                raise BadRequest(
                    f"PHASE must be a UWS phase such as COMPLETED, not {shown(literal)}."
                ) from None
        after = request.value("AFTER")
        if after is not None:
            parse_time("AFTER", after)
        last_literal = request.value("LAST")
        last = None
        if last_literal is not None:
            last = parse_integer(last_literal)
            if last is None or last < 1:
                raise BadRequest(f"LAST must be a positive integer, not {shown(last_literal)}.")
        cursor = request.value("CURSOR")
        return cls(frozenset(phases), after, last, None if cursor is None else parse_cursor(cursor))

    def next_page(self, shown_refs: list[JobRef]) -> list[tuple[str, str]] | None:
        """The query of the page after ``shown_refs``, or None if LAST is satisfied."""
        left = None if self.last is None else self.last - len(shown_refs)
        if not shown_refs or left == 0:
            return None
        query = [("PHASE", str(p)) for p in sorted(self.phases)]
        if self.after is not None:
            query.append(("AFTER", self.after))
        if left is not None:
            query.append(("LAST", str(left)))
        query.append(("CURSOR", make_cursor(shown_refs[-1])))
        return query


def getJobList(service: Service, caller: Caller, query: JobListQuery) -> tuple[list[JobRef], bool]:
    """The caller's jobs, newest first, one page of them; and whether more follow."""
    page_size = service.settings.job_list_page_size
    limit = page_size if query.last is None else min(query.last, page_size)
    after = None if query.after is None else parse_time("AFTER", query.after)
    # ARCHIVED jobs show only when asked for by name; this service never archives, so with
    # no PHASE every live job is listed.
    return service.store.list_for(
        caller, service.clock(), limit, query.phases or None, after, query.cursor
    )


def make_cursor(ref: JobRef) -> str:
    """Where a page of the job list ended: the last job's creation time and id, opaque."""
    text = f"{ref.creation_time.isoformat(timespec='microseconds')} {ref.job_id}"
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def parse_cursor(literal: str) -> JobRef:
    """The job a CURSOR names; only its time and id are used, and only within the caller's
    own jobs (the owner comes from the request, never from the cursor)."""
    try:
        text = base64.urlsafe_b64decode(literal + "=" * (-len(literal) % 4)).decode()
        created, job_id = text.split(" ")
        if not is_job_id(job_id):
            raise ValueError(job_id)
        return JobRef(job_id, Phase.PENDING, None, None, datetime.datetime.fromisoformat(created))
    except (ValueError, UnicodeDecodeError, binascii.Error):
        raise BadRequest("CURSOR is not one this service handed out.") from None


def parse_run_id(request: Request) -> str | None:
    run_id = request.value("RUNID")
    if run_id is not None:
        if len(run_id) > MAX_RUN_ID_LENGTH:
            raise BadRequest(f"RUNID must be at most {MAX_RUN_ID_LENGTH} characters long.")
        check_xml_text("RUNID", run_id)
    return run_id


def create_job(service: Service, request: Request) -> Job:
    """Build a PENDING job from the POST (or QUEUED with PHASE=RUN) and store it in one write."""
    settings = service.settings
    now = service.clock()
    jobtype = service.job_type
    job = new_job(request.caller.owner, jobtype.name, now, settings)
    job.parameters = jobtype.validate(
        (k, v) for k, v in request.params if k.upper() not in STANDARD_CREATE_PARAMETERS
    )
    job.run_id = parse_run_id(request)
    duration = request.value("EXECUTIONDURATION")
    if duration is not None:
        job.execution_duration = clamp_execution_duration(
            parse_execution_duration(duration), settings
        )
    destruction = request.value("DESTRUCTION")
    if destruction is not None:
        job.destruction = min(
            parse_time("DESTRUCTION", destruction), latest_destruction(now, settings)
        )
    phase = request.value("PHASE")
    if phase not in (None, "RUN"):
        raise BadRequest(f"PHASE at creation may only be RUN, not {shown(phase or '')}.")
    if phase == "RUN":
        missing = jobtype.missing(job.parameters)
        if missing:
            raise BadRequest(
                f"The job cannot run without its required parameters: {', '.join(missing)}."
            )
    for name, (upload, filename) in store_uploads(service, job.job_id, request.files).items():
        job.parameters[name] = [filename]
        job.uploads[name] = upload
    if phase == "RUN":
        job.phase = Phase.QUEUED
        job.deadline = queue_deadline(job.job_id, now, settings)["deadline"]
    service.store.create(job)
    count("JobsCreated")
    if phase == "RUN":
        enqueue(JobHandle(job.job_id, request.caller, service))
    return job
