"""The UWS REST actions, after DaCHS's ``gavo.protocols.uwsactions``.

One class per child resource of a job, named by its path below the job, with one ``do<METHOD>``
method per HTTP verb it answers; :class:`JobActions` maps names to classes and dispatches.
Redirects are raised (:class:`~uws.errors.SeeOther`), like DaCHS's ``svcs.SeeOther``, and
become 303s in :mod:`uws.service`; so do errors. A method the class lacks is a 405 that names
the ones it has.

GETs read the job once (strongly consistent); every change is one of the store's named
transitions, one conditional write whose refusal tells us the job's state without another read.
The job list (``/async``) is in :mod:`uws.joblist`.
"""

from __future__ import annotations

import datetime
import os
from typing import Any, ClassVar

from . import files as filekeys
from . import jsondoc
from .errors import (
    BadRequest,
    Forbidden,
    MethodNotAllowed,
    NotFound,
    SeeOther,
    shown,
)
from .http import TEXT, Request, Response, UploadedFile
from .isodt import formatISODT
from .job import (
    Job,
    Upload,
    clamp_execution_duration,
    latest_destruction,
)
from .params import (
    parse_execution_duration,
    parse_phase,
    parse_run_id,
    parse_time,
    parse_wait,
)
from .phases import Phase
from .service import JobHandle, Service, abort_job, queue_job
from .store import StateConflict
from .telemetry import count, logger
from .waiting import wait_for_change
from .xml import MIME as XML
from .xml import job_document, parameters_document, results_document

METHODS = ("GET", "POST", "PUT", "DELETE", "PATCH")


def _text(body: str) -> Response:
    return Response(200, body, TEXT)


def _required(request: Request, name: str) -> str:
    value = request.value(name)
    if value is None:
        raise BadRequest(f"Parameter {name} is required here.")
    return value


def _sole(request: Request, name: str, resource: str) -> str:
    """The one parameter a POST to ``resource`` takes; another is a 400, never dropped
    unseen (EXECUTIONDURATION sent along with PHASE=RUN would otherwise be lost)."""
    others = sorted(request.names() - {name})
    if others:
        raise BadRequest(f"POST to {resource} takes only {name}, not {shown(others[0])}.")
    return _required(request, name)


class Resource:
    """Something answering HTTP methods through ``do<METHOD>`` methods."""

    @classmethod
    def allowed(cls) -> list[str]:
        return [m for m in METHODS if hasattr(cls, f"do{m}")]


class JobAction(Resource):
    """An action done to a job: ``do<METHOD>(job, request)`` methods, dispatched by JobActions.

    ``name`` is the child resource's path below the job, as in the UWS spec and the API's
    routes ('' for the job itself, ``results/{id}`` for one result).
    """

    name: ClassVar[str]
    mime: ClassVar[str] = XML  # the content type of the resource's own representation

    def answer(self, body: str | bytes) -> Response:
        """A 200 with the resource's representation, typed as ``mime``."""
        return Response(200, body if isinstance(body, str) else body.decode("utf-8"), self.mime)


def negotiated(
    request: Request, subject: Any, as_xml: Any, as_json: Any, as_html: Any = None
) -> Response:
    """A 200 with ``subject``'s UWS document: JSON when the client's Accept prefers it, an
    HTML page (``as_html``, a whole response) when a browser asks, else XML; ``Vary: Accept``
    on all (docs/uws.md, JSON and Browsers)."""
    if request.wants_html and as_html is not None:
        return as_html(subject)
    if request.wants_json:
        response = Response(200, jsondoc.dumps(as_json(subject, request.links)), jsondoc.MIME)
    else:
        response = Response(200, as_xml(subject, request.links).decode("utf-8"), XML)
    response.headers["Vary"] = "Accept"
    return response


def job_page(job: JobHandle, request: Request) -> Any:
    """The job's HTML page, for a browser (uws.pages, imported only then)."""

    def render(current: Job) -> Response:
        from .pages import job_page

        return job_page(current, request.links, job.service.job_type)

    return render


class RootAction(JobAction):
    """``{job}``: the job document (with WAIT blocking), DELETE, and POST ACTION=DELETE."""

    name = ""

    def doGET(self, job: JobHandle, request: Request) -> Response:
        wait = parse_wait(request, job.service.settings.wait_cap)
        awaited = parse_phase(request)
        current = job.load()
        if wait is not None:
            current = wait_for_change(job, current, awaited, wait)
        return negotiated(request, current, job_document, jsondoc.job_json, job_page(job, request))

    def doDELETE(self, job: JobHandle, request: Request) -> Response:
        """The item goes first (one conditional delete): from then on the job is gone for
        everyone. The files it lists (results, uploads) follow in one call, without listing
        the bucket; a file never recorded (a run or an upload that died between S3 and
        DynamoDB) and any S3 leaves behind, the bucket's lifecycle rule removes."""
        deleted = job.service.store.delete(job.id, job.caller, job.service.clock())
        count("JobsDeleted")
        job.service.stop_task(deleted, "The UWS job was deleted.")
        keys = [r.key for r in deleted.results] + [u.key for u in deleted.uploads.values()]
        try:
            job.service.files.delete_keys(keys)
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


class PhaseAction(JobAction):
    """``{job}/phase``: the phase as text; POST PHASE=RUN queues the job, PHASE=ABORT ends it."""

    name = "phase"
    mime = TEXT

    def doGET(self, job: JobHandle, request: Request) -> Response:
        return self.answer(str(job.load().phase))

    def doPOST(self, job: JobHandle, request: Request) -> Response:
        phase = _sole(request, "PHASE", "{job}/phase")
        if phase == "RUN":
            queue_job(job)
        elif phase == "ABORT":
            abort_job(job)
        else:
            raise BadRequest(
                f"PHASE must be RUN or ABORT (case matters), not {shown(phase or '')}."
            )
        raise SeeOther(f"async/{job.id}")


class _SettableAction(JobAction):
    """A job attribute with GET as text and POST to change it, as DaCHS's _SettableAction."""

    mime = TEXT
    attName: ClassVar[str]
    parameter: ClassVar[str]

    def doGET(self, job: JobHandle, request: Request) -> Response:
        return self.answer(self.serializeValue(getattr(job.load(), self.attName)))

    def doPOST(self, job: JobHandle, request: Request) -> Response:
        literal = _sole(request, self.parameter, f"{{job}}/{self.name}")
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
        limit = job.service.queued_duration_limit(job.service.job_type)
        try:
            job.store.set_execution_duration(job.id, job.caller, job.now(), seconds, limit)
        except StateConflict as conflict:
            raise Forbidden(
                "executionDuration can be changed only while PENDING or QUEUED, "
                f"not {conflict.job.phase}."
            ) from None


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
        longest = datetime.timedelta(days=settings.max_destruction_days)
        try:
            job.store.set_destruction(job.id, job.caller, job.now(), value, longest)
        except StateConflict as conflict:
            clamped = latest_destruction(conflict.job.creation_time, settings)
            job.store.set_destruction(job.id, job.caller, job.now(), min(value, clamped))


class ErrorAction(JobAction):
    """``{job}/error``: the error message of a job in ERROR; 404 for any other job. A job
    type's traceback is never shown: it is in the logs, with the job id."""

    name = "error"
    mime = TEXT

    def doGET(self, job: JobHandle, request: Request) -> Response:
        current = job.load()
        if current.phase != Phase.ERROR:
            raise NotFound(f"The job is {current.phase}, not ERROR, so it has no error.")
        summary = current.error_summary
        return self.answer(summary.message if summary else "The job failed.")


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
    """``{job}/parameters``: the parameters; POST changes them while PENDING."""

    name = "parameters"

    def doGET(self, job: JobHandle, request: Request) -> Response:
        return negotiated(request, job.load(), parameters_document, jsondoc.parameters_json)

    def doPOST(self, job: JobHandle, request: Request) -> Response:
        """Declared parameters, and RUNID (the job's runId, as DaCHS and CADC accept here)."""
        service = job.service
        parameters = service.job_type.validate(
            (k, v) for k, v in request.params if k.upper() != "RUNID"
        )
        run_id = parse_run_id(request)
        new_uploads = store_uploads(service, job.id, request.files)
        uploads = {name: upload for name, (upload, _) in new_uploads.items()}
        parameters.update({name: [filename] for name, (_, filename) in new_uploads.items()})
        if not parameters and run_id is None:
            raise SeeOther(f"async/{job.id}")
        try:
            replaced = job.store.set_parameters(
                job.id, job.caller, job.now(), parameters, uploads, run_id
            )
        except (StateConflict, NotFound, Forbidden) as error:
            service.files.delete_keys([upload.key for upload in uploads.values()])
            if isinstance(error, StateConflict):
                raise Forbidden(
                    f"Parameters can be changed only while PENDING, not {error.job.phase}."
                ) from None
            raise
        # Only what this write displaced: a POST at the same moment has its own files.
        service.files.delete_keys([upload.key for upload in replaced])
        raise SeeOther(f"async/{job.id}")


class ParameterValueAction(JobAction):
    """``{job}/parameters/{name}``: one parameter's value as text, or an uploaded file by a
    303 to a short-lived URL. Read only: parameters change at ``{job}/parameters``."""

    name = "parameters/{name}"

    def doGET(self, job: JobHandle, request: Request) -> Response:
        current = job.load()
        wanted = request.path_parameters.get("name", "")
        name = next((n for n in current.parameters if n.upper() == wanted.upper()), None)
        if name is None:
            raise NotFound(f"The job has no parameter {shown(wanted)}.")
        upload = current.uploads.get(name)
        if upload is None:
            return _text("\n".join(current.parameters[name]))
        seconds = job.service.settings.presign_seconds
        raise SeeOther(
            job.service.files.presigned_get(upload.key, upload.mime_type, seconds, attachment=True)
        )


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
        size = service.files.put(key, uploaded.content, uploaded.content_type, attachment=True)
        stored[parameter.name] = (Upload(key, uploaded.content_type, size), uploaded.filename)
    return stored


class ResultsAction(JobAction):
    """``{job}/results``: the result list."""

    name = "results"

    def doGET(self, job: JobHandle, request: Request) -> Response:
        return negotiated(request, job.load(), results_document, jsondoc.results_json)


class ResultAction(JobAction):
    """``{job}/results/{id}``: one result, by a 303 to a short-lived presigned URL."""

    name = "results/{id}"

    def doGET(self, job: JobHandle, request: Request) -> Response:
        current = job.load()
        wanted = request.path_parameters.get("id", "")
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
    ParameterValueAction,
    ResultsAction,
    ResultAction,
    StartTimeAction,
):
    JobActions.addStandardAction(_action)
