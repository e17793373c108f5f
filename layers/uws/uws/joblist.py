"""The job list, ``/async``: GET lists the caller's jobs, POST creates a job.

Not a child of a job, so not a :class:`~uws.actions.JobAction`: :class:`JobList` answers
through the same ``do<METHOD>`` dispatch (:func:`~uws.actions.call_method`).
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import datetime
from dataclasses import dataclass
from urllib.parse import urlencode

from . import jsondoc
from .actions import Resource, negotiated, store_uploads
from .errors import BadRequest, SeeOther, ServiceUnavailable, shown
from .http import Request, Response, fits_lambda_response
from .job import (
    Caller,
    Job,
    JobRef,
    clamp_execution_duration,
    is_job_id,
    latest_destruction,
    new_job,
    queue_deadline,
)
from .params import (
    parse_execution_duration,
    parse_integer,
    parse_phases,
    parse_run_id,
    parse_time,
)
from .phases import Phase
from .service import JobHandle, Service, enqueue
from .store import QuotaReached
from .telemetry import count
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
            return jobs_page(refs, request.links, service.job_type, query.phases, next_url)
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
        """A new job; with an Idempotency-Key, at most one per owner and key (uws.idempotency,
        imported only then: other creations never pay for it)."""
        if request.idempotency_key is None:
            job_id = create_job(service, request).job_id
        else:
            from .idempotency import create_once

            job_id = create_once(service, request, lambda: create_job(service, request).job_id)
        raise SeeOther(f"async/{job_id}")


@dataclass(frozen=True)
class JobListQuery:
    """The job list's filters: PHASE (repeatable), AFTER, LAST, and CURSOR for paging."""

    phases: frozenset[Phase]
    after: datetime.datetime | None
    after_literal: str | None  # as given, for the next page's URL
    last: int | None
    cursor: JobRef | None

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
        wanted = parse_time("DESTRUCTION", destruction)
        if wanted <= now:  # the 303 would lead to a 404 (a job's own can be set so: docs/uws.md)
            raise BadRequest("DESTRUCTION is in the past; a new job would be gone at once.")
        job.destruction = min(wanted, latest_destruction(now, settings))
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
        job.deadline = queue_deadline(now, settings)
    try:
        service.store.create(job)
    except QuotaReached:  # the owner's quota is full: HELD, as a later RUN would be
        job.phase, job.deadline = Phase.HELD, None
        service.store.create(job)
        count("JobsHeld")
    count("JobsCreated")
    if job.phase == Phase.QUEUED:
        try:
            enqueue(JobHandle(job.job_id, request.caller, service), job)
        except ServiceUnavailable:
            # The client hears 503 and never learns of this job: it goes, so that a retry
            # (with the same Idempotency-Key or none) leaves one job, not two.
            with contextlib.suppress(Exception):
                service.store.delete(job.job_id, request.caller, service.clock())
            raise
    return job
