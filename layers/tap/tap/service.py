"""Running TAP queries: the ``tap`` job's run (declared in :mod:`tap.jobtype`) and the query
engine of this container, shared by the worker, /sync and /tables.

The catalogue lives under ``TAP_CATALOGUE`` (``s3://bucket/prefix/``, or a directory), its
metadata in ``catalogue.yaml`` there; the engine is made on first use and kept while the
container lives (a changed catalogue is seen by containers started after the change).
"""

from __future__ import annotations

import functools
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from uws import aws
from uws.telemetry import logger
from uws.worker import JobContext, JobFailed

from .engine import QueryEngine
from .fetch import fetch_upload
from .locations import bucket_prefixes
from .request import Limits, StorageBusy, TapError, TapQuery, parse_tap_query

WORKDIR = Path(os.environ.get("TAP_WORKDIR", "/tmp/tap"))  # Lambda's writable disk
# A container task's ephemeral storage (TaskStorageGiB) also holds its image and the layers
# it loads, and the result file: DuckDB spills into this share of it at most.
SPILL_SHARE = 0.75
# Runs of a query whose reads S3 refused for a moment past DuckDB's own retries, 1, 2, 4 s
# apart (S3's advice for SlowDown: back off and retry).
STORAGE_ATTEMPTS = 4
T = TypeVar("T")


def _read_text(url: str) -> str:
    if not url.startswith("s3://"):
        return Path(url).read_text(encoding="utf-8")
    bucket, _, key = url.removeprefix("s3://").partition("/")
    try:
        return aws.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read().decode("utf-8")
    except aws.ClientError as error:
        if aws.transient(error):  # SlowDown past the SDK's retries: the moment's, not the file's
            raise StorageBusy(f"S3 refused {url} for now ({aws.error_code(error)}).") from None
        raise


@functools.cache
def engine() -> QueryEngine:
    """This container's query engine (its DuckDB database and catalogue): within the Lambda
    function's memory, or in a container task (uws.task) within the task's memory and disk
    (TaskMemory, TaskStorageGiB, which its task definition names to it)."""
    memory = os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE") or os.environ.get(
        "TAP_TASK_MEMORY_MB"
    )
    disk = os.environ.get("TAP_TASK_STORAGE_GIB")
    return QueryEngine(
        os.environ["TAP_CATALOGUE"], _read_text, aws.s3_access, WORKDIR,
        memory_mb=int(memory) if memory else None,
        spill_gib=int(int(disk) * SPILL_SHARE) if disk else None,
        elsewhere=bucket_prefixes(os.environ.get("TAP_CATALOGUE_BUCKETS", "")),
    )  # fmt: skip


def uploads_of(
    query: TapQuery, parts: Callable[[str], bytes | None], limits: Limits
) -> dict[str, bytes]:
    """The VOTable of each UPLOAD table: a part of the request (``param:x``) or a URL."""
    documents = {}
    for upload in query.uploads:
        if upload.part is None:
            documents[upload.table] = fetch_upload(upload.source, limits.upload_bytes)
            continue
        document = parts(upload.part)
        if document is None:
            raise TapError(f"UPLOAD names param:{upload.part}, but no file of that name was sent.")
        documents[upload.table] = document
    return documents


def needs_container(ctx: JobContext) -> dict[str, str] | None:
    """The worker's question before it runs a ``tap`` job: a query that reads a big table
    whole (a full scan) goes to the container runner, whose DuckDB spills to the task's disk
    (TaskStorageGiB) within TaskMemory, and whose job may then be given more than Lambda's
    15 minutes; anything else, or a query that cannot run (the run says why), stays on the
    worker."""
    try:  # a cold start's catalogue read, which S3 may refuse for a moment
        tables = until_storage_answers(lambda: engine().catalogue.tables(), time.sleep)
    except StorageBusy:
        return None  # the worker's run meets it too, and says so
    if not any(table.is_big for table in tables):
        return None  # nothing to read whole: nothing to translate or fetch yet
    try:
        scans = engine().full_scans_of(*_query_and_uploads(ctx))
    except TapError:
        return None
    return {"fullScan": ", ".join(scans), "runner": "container"} if scans else None


def _query_and_uploads(ctx: JobContext) -> tuple[TapQuery, dict[str, bytes]]:
    """The job's query and its uploads' VOTables, fetched once: the worker's question
    (needs_container) prepares them for the run of the same job (``ctx.prepared``)."""
    if "query" not in ctx.prepared:
        limits = Limits.from_environment()
        query = parse_tap_query(ctx.parameters, limits)
        parts = lambda part: ctx.read_upload(part) if part in ctx.job.uploads else None  # noqa: E731
        ctx.prepared.update(query=query, uploads=uploads_of(query, parts, limits))
    return ctx.prepared["query"], ctx.prepared["uploads"]


def run_query(ctx: JobContext) -> None:
    """The ``tap`` job: the query's result is the job's ``result``; what cannot run ends the
    job in ERROR with a message naming the problem (and where in the query it is)."""
    try:
        query, uploads = _query_and_uploads(ctx)
        outcome = until_storage_answers(
            lambda: engine().run(query, uploads, check=ctx.check, on_full_scan=say_full_scan(ctx)),
            lambda seconds: _pause(ctx, seconds),
        )
    except TapError as error:
        raise JobFailed(str(error)) from None
    try:
        ctx.progress(rows=str(outcome.written.rows),
                     queryStatus="OVERFLOW" if outcome.written.overflow else "OK")  # fmt: skip
        if outcome.full_scans:
            say_full_scan(ctx)(outcome.full_scans)
        ctx.write_result("result", outcome.path, outcome.output.mime)
    finally:
        outcome.path.unlink(missing_ok=True)


def until_storage_answers(run: Callable[[], T], pause: Callable[[float], None]) -> T:
    """``run()``, run again after ``pause`` (1, 2, 4 s) while S3 refuses its reads for a
    moment past DuckDB's own retries: a query reads and writes nothing else, so running it
    again is safe. StorageBusy once STORAGE_ATTEMPTS are spent."""
    for attempt in range(STORAGE_ATTEMPTS - 1):
        try:
            return run()
        except StorageBusy:
            logger.warning("storage busy; the query runs again", extra={"attempt": attempt})
            pause(2**attempt)
    return run()


def _pause(ctx: JobContext, seconds: float) -> None:
    """Wait ``seconds``, looking at the job each second: ABORT and the deadline still end it."""
    until = time.monotonic() + seconds
    while (left := until - time.monotonic()) > 0:
        ctx.check()
        time.sleep(min(1.0, left))


def say_full_scan(ctx: JobContext) -> Callable[[tuple[str, ...]], None]:
    """The jobInfo entries of a query reading big tables whole (no cone, box or polygon on
    their positions narrowed it): ``fullScan`` names them, ``runner`` says where it runs
    (``container``: a container task; ``lambda``: the worker), while it runs and after."""

    def say(tables: tuple[str, ...]) -> None:
        where = "container" if ctx.in_container else "lambda"
        ctx.progress(fullScan=", ".join(tables), runner=where)

    return say
