"""The job record, its defaults and its limits: plain data, no AWS and no HTTP."""

from __future__ import annotations

import base64
import datetime
import os
import re
from dataclasses import dataclass, field

from .config import Settings
from .phases import Phase

MAX_RUN_ID_LENGTH = 64

# What a run may record, so that no write of the worker can push an item past DynamoDB's
# 400 KB (DynamoDB Developer Guide, "Service, account, and table quotas": item size).
# Parameters take what the item leaves; these are small beside it.
MAX_ERROR_MESSAGE = 1000  # characters of an errorSummary message
MAX_INFO_ENTRIES = 32  # progress entries in jobInfo
MAX_INFO_VALUE = 1000  # characters of one progress value
MAX_RESULTS = 100
RESULT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
INFO_KEY = RESULT_NAME

# What XML 1.0 cannot carry (and lone surrogates, which UTF-8 cannot): every text a job
# records is shown in a UWS document.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def has_non_xml(text: str) -> bool:
    return _NOT_XML.search(text) is not None


def xml_safe(text: str, limit: int | None = None) -> str:
    """``text`` with what XML cannot carry replaced by U+FFFD, cut to ``limit`` characters
    (an ellipsis marks the cut)."""
    text = _NOT_XML.sub("\ufffd", text)
    if limit is not None and len(text) > limit:
        text = text[: limit - 1] + "…"
    return text


# 16 random bytes, URL-safe base64 without padding: 128 bits, 22 characters.
_JOB_ID = re.compile(r"[A-Za-z0-9_-]{22}")


def new_job_id() -> str:
    """128 bits from the OS's CSPRNG (what secrets.token_urlsafe does, without its imports)."""
    return base64.urlsafe_b64encode(os.urandom(16)).rstrip(b"=").decode()


def is_job_id(text: str) -> bool:
    """Whether ``text`` could be one of our ids; anything else is a 404 without a lookup."""
    return _JOB_ID.fullmatch(text) is not None


@dataclass(frozen=True)
class Caller:
    """Who is asking: the owner id from the API Gateway request context, None if anonymous.

    ``system`` is the service itself (worker, reaper): it may touch any job.
    """

    owner: str | None
    system: bool = False


SYSTEM = Caller(owner=None, system=True)


@dataclass(frozen=True)
class Result:
    """A result file of a job: its id in UWS, its S3 key, type and size."""

    id: str
    key: str  # the S3 object key
    mime_type: str
    size: int


@dataclass(frozen=True)
class Upload:
    """A parameter whose value arrived as a file and is kept in S3 (``byReference``)."""

    key: str
    mime_type: str
    size: int


@dataclass(frozen=True)
class ErrorSummary:
    """UWS's errorSummary: the message a failed job shows."""

    message: str
    type: str = "fatal"  # or "transient"
    has_detail: bool = False


@dataclass
class Job:
    """A job as stored and as UWS shows it."""

    job_id: str
    owner: str | None
    phase: Phase
    creation_time: datetime.datetime
    execution_duration: int
    destruction: datetime.datetime
    job_type: str
    run_id: str | None = None
    start_time: datetime.datetime | None = None
    end_time: datetime.datetime | None = None
    quote: datetime.datetime | None = None
    parameters: dict[str, list[str]] = field(default_factory=dict)
    uploads: dict[str, Upload] = field(default_factory=dict)
    results: list[Result] = field(default_factory=list)
    error_summary: ErrorSummary | None = None
    job_info: dict[str, str] = field(default_factory=dict)
    deadline: datetime.datetime | None = None  # set only while QUEUED or EXECUTING
    version: int = 0
    holds_place: bool = False  # in its owner's quota of active jobs (docs/uws.md, Quotas)
    task_arn: str | None = None  # the container task running the job (docs/architecture.md)
    # handed to the container runner by the worker, its type asking for it (uws.worker)
    in_container: bool = False

    def is_destroyed(self, now: datetime.datetime) -> bool:
        """A job past its destruction time is gone, whether or not the reaper has run yet."""
        return self.destruction <= now

    def result(self, result_id: str) -> Result | None:
        return next((r for r in self.results if r.id == result_id), None)


def new_job(owner: str | None, job_type: str, now: datetime.datetime, settings: Settings) -> Job:
    """A PENDING job with the deployment's default execution duration and destruction time."""
    return Job(
        job_id=new_job_id(),
        owner=owner,
        phase=Phase.PENDING,
        creation_time=now,
        execution_duration=settings.default_execution_duration,
        destruction=now + datetime.timedelta(days=settings.default_destruction_days),
        job_type=job_type,
    )


def clamp_execution_duration(seconds: int, settings: Settings) -> int:
    """0 asks for the maximum (UWS's "unlimited" is what this deployment can run: its
    MaxExecutionDuration on a container, or the Lambda worker's limit without one)."""
    limit = settings.execution_duration_limit
    if seconds == 0 or seconds > limit:
        return limit
    return seconds


def queue_deadline(now: datetime.datetime, settings: Settings) -> datetime.datetime:
    """When a job entering QUEUED now must have been taken up by a worker (else the reaper
    ends it)."""
    return now + datetime.timedelta(seconds=settings.queue_timeout)


def latest_destruction(creation_time: datetime.datetime, settings: Settings) -> datetime.datetime:
    return creation_time + datetime.timedelta(days=settings.max_destruction_days)


@dataclass(frozen=True)
class JobRef:
    """What the job list shows of a job (read from the owner index, not the full item)."""

    job_id: str
    phase: Phase
    owner: str | None
    run_id: str | None
    creation_time: datetime.datetime


@dataclass(frozen=True)
class ListPosition:
    """Where a page of a caller's job list ended: the last job shown (its creation time and
    id; the next page holds older jobs)."""

    creation_time: datetime.datetime
    job_id: str


@dataclass(frozen=True)
class UploadedFile:
    """A file a client sent for a parameter (a part of a multipart/form-data body)."""

    filename: str
    content_type: str
    content: bytes
