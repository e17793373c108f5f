"""The UWS REST actions, after DaCHS's ``gavo.protocols.uwsactions``.

One class per child resource of a job, named by its path below the job, with one ``do<METHOD>``
method per HTTP verb it answers; :class:`JobActions` maps names to classes and dispatches.
Redirects are raised (:class:`~uws.errors.SeeOther`), like DaCHS's ``svcs.SeeOther``, and
become 303s in :mod:`uws.entrypoints`; so do errors. A method the class lacks is a 405 that
names the ones it has.

GETs read the job once (strongly consistent); every change is a verb of
:class:`~uws.service.Service`, one conditional write whose refusal tells the job's state
without another read. Attributes are declared, as the seed declares its settables: a name, the
job's attribute, how it is shown and (for the settable ones) parsed and changed.
The job list (``/async``) is in :mod:`uws.web.joblist`.
"""

from __future__ import annotations

import datetime
from typing import Any, ClassVar

from ..errors import BadRequest, NotFound, SeeOther, shown
from ..isodt import formatISODT
from ..job import Job
from ..phases import Phase
from ..service import JobHandle
from . import jsondoc
from .http import TEXT, Request, Response
from .params import parse_execution_duration, parse_phase, parse_run_id, parse_time, parse_wait
from .resources import Resource, call_method, negotiated
from .waiting import wait_for_change
from .xml import MIME as XML
from .xml import job_document, parameters_document, results_document


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


def job_page(job: JobHandle, request: Request) -> Any:
    """The job's HTML page, for a browser (uws.web.pages, imported only then)."""

    def render(current: Job) -> Response:
        from .pages import job_page

        return job_page(current, request.links, job.service.job_type_of(current))

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
        job.service.delete(job)
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
            job.service.run(job)
        elif phase == "ABORT":
            job.service.abort(job)
        else:
            raise BadRequest(
                f"PHASE must be RUN or ABORT (case matters), not {shown(phase or '')}."
            )
        raise SeeOther(f"async/{job.id}")


def _time_or(empty: str) -> Any:
    """A serializer: an ISO time, or ``empty`` when the job has none."""
    return staticmethod(lambda value: formatISODT(value) or empty)


class _AttributeAction(JobAction):
    """A job attribute as text: ``attName`` read from the job, shown by ``serializeValue``."""

    mime = TEXT
    attName: ClassVar[str]
    serializeValue: Any = staticmethod(str)

    def doGET(self, job: JobHandle, request: Request) -> Response:
        return self.answer(self.serializeValue(getattr(job.load(), self.attName)))


class _SettableAction(_AttributeAction):
    """An attribute that POST changes, as DaCHS's _SettableAction: ``parameter`` parsed by
    ``deserializeValue`` and handed to the service's verb ``change``."""

    parameter: ClassVar[str]

    def doPOST(self, job: JobHandle, request: Request) -> Response:
        literal = _sole(request, self.parameter, f"{{job}}/{self.name}")
        self.change(job, self.deserializeValue(literal))
        raise SeeOther(f"async/{job.id}")

    def deserializeValue(self, literal: str) -> Any:
        raise NotImplementedError

    def change(self, job: JobHandle, value: Any) -> None:
        raise NotImplementedError


class ExecDAction(_SettableAction):
    """``{job}/executionduration``: whole seconds, 0 meaning the maximum; PENDING or QUEUED."""

    name = "executionduration"
    attName = "execution_duration"
    parameter = "EXECUTIONDURATION"

    def deserializeValue(self, literal: str) -> int:
        return parse_execution_duration(literal)

    def change(self, job: JobHandle, value: int) -> None:
        job.service.change_execution_duration(job, value)


class DestructionAction(_SettableAction):
    """``{job}/destruction``: an ISO time, clamped to creation + the maximum; any phase."""

    name = "destruction"
    attName = "destruction"
    parameter = "DESTRUCTION"
    serializeValue = _time_or("")

    def deserializeValue(self, literal: str) -> datetime.datetime:
        return parse_time("DESTRUCTION", literal)

    def change(self, job: JobHandle, value: datetime.datetime) -> None:
        job.service.change_destruction(job, value)


class QuoteAction(_AttributeAction):
    """``{job}/quote``: when the job is expected to finish; empty when unknown."""

    name = "quote"
    attName = "quote"
    serializeValue = _time_or("")


class OwnerAction(_AttributeAction):
    """``{job}/owner``: the owner id, or NULL for an anonymous job (as DaCHS)."""

    name = "owner"
    attName = "owner"
    serializeValue = staticmethod(lambda owner: owner or "NULL")


class StartTimeAction(_AttributeAction):
    """``{job}/startTime`` (DaCHS extension): when the job started executing, or NULL."""

    name = "startTime"
    attName = "start_time"
    serializeValue = _time_or("NULL")


class ErrorAction(JobAction):
    """``{job}/error``: the error message of a job in ERROR; 404 for any other job. A job
    type's traceback is never shown: it is in the logs, with the job id."""

    name = "error"
    mime = TEXT

    def doGET(self, job: JobHandle, request: Request) -> Response:
        current = job.load()
        if current.phase != Phase.ERROR:
            raise NotFound(f"The job is {current.phase}, not ERROR, so it has no error.")
        message = current.error_summary.message if current.error_summary else "The job failed."
        document = job.service.job_type_of(current).error_document
        if document is None:
            return self.answer(message)
        body, media_type = document(message)
        return Response(200, body, media_type)


class ParameterAction(JobAction):
    """``{job}/parameters``: the parameters; POST changes them while PENDING."""

    name = "parameters"

    def doGET(self, job: JobHandle, request: Request) -> Response:
        return negotiated(request, job.load(), parameters_document, jsondoc.parameters_json)

    def doPOST(self, job: JobHandle, request: Request) -> Response:
        """Declared parameters, and RUNID (the job's runId, as DaCHS and CADC accept here)."""
        parameters = [(k, v) for k, v in request.params if k.upper() != "RUNID"]
        job.service.change_parameters(job, parameters, request.files, parse_run_id(request))
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
