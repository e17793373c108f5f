"""The job list, ``/async``: GET lists the caller's jobs, POST creates a job.

Not a child of a job, so not a :class:`~uws.web.actions.JobAction`: :class:`JobList` answers
through the same ``do<METHOD>`` dispatch (:func:`~uws.web.resources.call_method`); creation
is :meth:`uws.service.Service.create`.
"""

from __future__ import annotations

import base64
import binascii
import datetime
from dataclasses import dataclass
from urllib.parse import urlencode

from ..errors import BadRequest, SeeOther, shown
from ..job import Caller, JobRef, ListPosition, is_job_id
from ..phases import Phase
from ..service import NewJob, Service
from . import jsondoc
from .http import Request, Response, fits_lambda_response
from .params import (
    parse_execution_duration,
    parse_integer,
    parse_phases,
    parse_run_id,
    parse_time,
)
from .resources import Resource, negotiated
from .xml import jobs_document

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
        if request.wants_html:  # a browser: the page, with a link to the next one
            from .pages import jobs_page

            following = query.next_page(refs) if more else None
            next_url = (
                None if following is None else f"{request.links.jobs()}?{urlencode(following)}"
            )
            return jobs_page(refs, request.links, service.new_job_type, query.phases, next_url)
        response = negotiated(request, refs, jobs_document, jsondoc.jobs_json)
        while not fits_lambda_response(response.body) and len(refs) > 1:  # unusually long ids
            refs, more = refs[: len(refs) // 2], True
            response = negotiated(request, refs, jobs_document, jsondoc.jobs_json)
        following = query.next_page(refs) if more else None
        if following is not None:
            next_url = f"{request.links.jobs()}?{urlencode(following)}"
            response.headers["Link"] = f'<{next_url}>; rel="next"'
        return response

    def doPOST(self, service: Service, request: Request) -> Response:
        """A new job; with an Idempotency-Key, at most one per owner and key (uws.web.idempotency,
        imported only then: other creations never pay for it)."""
        if request.idempotency_key is None:
            job_id = service.create(request.caller, new_job(request)).job_id
        else:
            from .idempotency import create_once

            job_id = create_once(
                service, request, lambda: service.create(request.caller, new_job(request)).job_id
            )
        raise SeeOther(f"async/{job_id}")


@dataclass(frozen=True)
class JobListQuery:
    """The job list's filters: PHASE (repeatable), AFTER, LAST, and CURSOR for paging."""

    phases: frozenset[Phase]
    after: datetime.datetime | None
    after_literal: str | None  # as given, for the next page's URL
    last: int | None
    cursor: ListPosition | None

    @classmethod
    def parse(cls, request: Request) -> JobListQuery:
        after_literal = request.value("AFTER")
        after = None if after_literal is None else parse_time("AFTER", after_literal)
        last_literal = request.value("LAST")
        last = None
        if last_literal is not None:
            last = parse_integer(last_literal)
            if last is None or last < 1:
                raise BadRequest(f"LAST must be a positive integer, not {shown(last_literal)}.")
        cursor = request.value("CURSOR")
        return cls(
            parse_phases(request), after, after_literal, last,
            None if cursor is None else parse_cursor(cursor),
        )  # fmt: skip

    def next_page(self, shown_refs: list[JobRef]) -> list[tuple[str, str]] | None:
        """The query of the page after ``shown_refs``, or None if LAST is satisfied."""
        left = None if self.last is None else self.last - len(shown_refs)
        if not shown_refs or left == 0:
            return None
        query = [("PHASE", str(p)) for p in sorted(self.phases)]
        if self.after_literal is not None:
            query.append(("AFTER", self.after_literal))
        if left is not None:
            query.append(("LAST", str(left)))
        query.append(("CURSOR", make_cursor(shown_refs[-1])))
        return query


def getJobList(service: Service, caller: Caller, query: JobListQuery) -> tuple[list[JobRef], bool]:
    """The caller's jobs, newest first, one page of them; and whether more follow."""
    page_size = service.settings.job_list_page_size
    limit = page_size if query.last is None else min(query.last, page_size)
    # ARCHIVED jobs show only when asked for by name; this service never archives, so with
    # no PHASE every live job is listed.
    return service.store.list_for(
        caller, service.clock(), limit, query.phases or None, query.after, query.cursor
    )


def make_cursor(ref: JobRef) -> str:
    """Where a page of the job list ended: the last job's creation time and id, opaque."""
    text = f"{ref.creation_time.isoformat(timespec='microseconds')} {ref.job_id}"
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def parse_cursor(literal: str) -> ListPosition:
    """The job a CURSOR names; only its time and id are used, and only within the caller's
    own jobs (the owner comes from the request, never from the cursor)."""
    try:
        text = base64.urlsafe_b64decode(literal + "=" * (-len(literal) % 4)).decode()
        created, job_id = text.split(" ")
        if not is_job_id(job_id):
            raise ValueError(job_id)
        return ListPosition(datetime.datetime.fromisoformat(created), job_id)
    except (ValueError, UnicodeDecodeError, binascii.Error):
        raise BadRequest("CURSOR is not one this service handed out.") from None


def new_job(request: Request) -> NewJob:
    """What the creating POST asks for: the job type's parameters, the UWS ones parsed."""
    phase = request.value("PHASE")
    if phase not in (None, "RUN"):
        raise BadRequest(f"PHASE at creation may only be RUN, not {shown(phase or '')}.")
    duration = request.value("EXECUTIONDURATION")
    destruction = request.value("DESTRUCTION")
    return NewJob(
        parameters=[
            (k, v) for k, v in request.params if k.upper() not in STANDARD_CREATE_PARAMETERS
        ],
        files=request.files,
        run_id=parse_run_id(request),
        execution_duration=None if duration is None else parse_execution_duration(duration),
        destruction=None if destruction is None else parse_time("DESTRUCTION", destruction),
        run=phase == "RUN",
    )
