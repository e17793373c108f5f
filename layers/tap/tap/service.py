"""Running TAP queries: the ``tap`` job's run (declared in :mod:`tap.jobtype`) and the query
engine of this container, shared by the worker, /sync and /tables.

The catalogue lives under ``TAP_CATALOGUE`` (``s3://bucket/prefix/``, or a directory), its
metadata in ``catalogue.yaml`` there; the engine is made on first use and kept while the
container lives (a changed catalogue is seen by containers started after the change).
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from pathlib import Path

from uws import aws
from uws.worker import JobContext, JobFailed

from .engine import QueryEngine
from .fetch import fetch_upload
from .request import Limits, TapError, TapQuery, parse_tap_query

WORKDIR = Path(os.environ.get("TAP_WORKDIR", "/tmp/tap"))  # Lambda's writable disk


def _read_text(url: str) -> str:
    if not url.startswith("s3://"):
        return Path(url).read_text(encoding="utf-8")
    bucket, _, key = url.removeprefix("s3://").partition("/")
    return aws.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read().decode("utf-8")


@functools.cache
def engine() -> QueryEngine:
    """This container's query engine (its DuckDB database and catalogue)."""
    memory = os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE")
    return QueryEngine(
        os.environ["TAP_CATALOGUE"], _read_text, aws.s3_access, WORKDIR,
        memory_mb=int(memory) if memory else None,
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


def run_query(ctx: JobContext) -> None:
    """The ``tap`` job: the query's result is the job's ``result``; what cannot run ends the
    job in ERROR with a message naming the problem (and where in the query it is)."""
    limits = Limits.from_environment()
    try:
        query = parse_tap_query(ctx.parameters, limits)
        uploads = uploads_of(
            query,
            lambda part: ctx.read_upload(part) if part in ctx.job.uploads else None,
            limits,
        )
        outcome = engine().run(query, uploads, check=ctx.check, on_full_scan=say_full_scan(ctx))
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


def say_full_scan(ctx: JobContext) -> Callable[[tuple[str, ...]], None]:
    """The jobInfo entry of a query reading big tables whole (no cone, box or polygon on
    their positions narrowed it): ``fullScan`` names them, while it runs and after."""

    def say(tables: tuple[str, ...]) -> None:
        ctx.progress(fullScan=", ".join(tables))

    return say
