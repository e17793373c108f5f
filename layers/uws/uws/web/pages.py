"""The browser's view (docs/uws.md, Browsers): the job list and each job as HTML pages with
forms that post UWS's own parameters to UWS's own resources.

Only for requests whose Accept prefers text/html (a browser's); every other client gets the XML
as before. Rendered by Jinja2 with autoescape on, imported only for those requests (the XML
path and the cold start never pay for it). No asset comes from another host: the style and
the one script (following a running job through WAIT) are inline, allowed by their hashes in
a strict Content-Security-Policy.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
from http import HTTPStatus
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape

from ..isodt import formatISODT
from ..job import Job, JobRef
from ..jobtypes import JobType
from ..phases import Phase
from .http import Response
from .links import Links

MIME = "text/html; charset=utf-8"
FOLLOWED = (Phase.QUEUED, Phase.EXECUTING)

TEMPLATES = Path(__file__).parent / "templates"
CSS = (TEMPLATES / "style.css").read_text()
SCRIPT = (TEMPLATES / "follow.js").read_text()  # follows a running job through WAIT


def _hash(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


# Nothing but this page's own style and script, its own host for fetch and forms, no frames.
CONTENT_SECURITY_POLICY = (
    f"default-src 'none'; style-src {_hash(CSS)}; script-src {_hash(SCRIPT)}; "
    "connect-src 'self'; form-action 'self'; img-src 'self'; base-uri 'none'; "
    "frame-ancestors 'none'"
)
HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Vary": "Accept",
}

_ENV = Environment(
    loader=FileSystemLoader(TEMPLATES),
    autoescape=select_autoescape(default=True),
    trim_blocks=True,
    lstrip_blocks=True,
)


def _time(value: datetime.datetime | None) -> str:
    return formatISODT(value) or ""


def _render(template: str, http_status: int = 200, **values: Any) -> Response:
    links: Links = values["links"]
    page = _ENV.get_template(template).render(
        css=CSS, script=SCRIPT, time=_time, jobs_url=links.jobs(), **values
    )
    return Response(http_status, page, MIME, dict(HEADERS))


def job_page(job: Job, links: Links, job_type: JobType) -> Response:
    current = {name: values[0] for name, values in job.parameters.items() if values}
    return _render(
        "job.html", job=job, links=links, job_type=job_type, job_url=links.job(job.job_id),
        follows=job.phase in FOLLOWED, current=current,
    )  # fmt: skip


def jobs_page(
    refs: list[JobRef], links: Links, job_type: JobType, shown: frozenset[Phase],
    next_url: str | None,
) -> Response:  # fmt: skip
    phases = [p for p in Phase if p not in (Phase.UNKNOWN, Phase.SUSPENDED, Phase.ARCHIVED)]
    return _render(
        "jobs.html", refs=refs, links=links, job_type=job_type, phases=phases,
        shown_phases={str(p) for p in shown}, next_url=next_url,
    )  # fmt: skip


def error_page(status: int, message: str, links: Links, job_type: JobType) -> Response:
    reason = HTTPStatus(status).phrase
    return _render(
        "error.html", http_status=status, status=status, reason=reason, message=message,
        links=links, job_type=job_type,
    )  # fmt: skip
