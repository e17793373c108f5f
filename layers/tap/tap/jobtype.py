"""The ``tap`` job type, as every function of a TAP deployment knows it: its parameters, its
error document and how to run it (``JobTypeModules=tap.jobtype``).

Creating, changing and showing a job happens in functions that carry no DuckDB (only the
query functions have the engine's layer), so this module imports neither DuckDB nor sqlglot
nor PyYAML; running the query imports :mod:`tap.service` then, in the worker.
"""

from __future__ import annotations

from typing import Any

from uws.jobtypes import JobType, Parameter, register

from .votable import MIME as VOTABLE_MIME
from .votable import error_document


def run_query(ctx: Any) -> None:
    from .service import run_query as run  # DuckDB and the translator: the worker's alone

    run(ctx)


def needs_container(ctx: Any) -> dict[str, str] | None:
    from .service import needs_container as needs  # the worker's, as run_query

    return needs(ctx)


def _error_document(message: str) -> tuple[str, str]:
    return error_document(message).decode("utf-8"), VOTABLE_MIME


TAP_PARAMETERS: tuple[Parameter, ...] = (
    Parameter("REQUEST", description="doQuery (the only request TAP 1.1 has; optional)."),
    Parameter("LANG", default="ADQL", description="ADQL, ADQL-2.0 or ADQL-2.1."),
    Parameter("QUERY", type="text", required=True, description="The ADQL query."),
    Parameter("MAXREC", type="integer", minimum=0, description="At most this many rows."),
    Parameter("RESPONSEFORMAT", description="votable, votable/b2, csv, tsv or parquet."),
    Parameter("FORMAT", description="RESPONSEFORMAT's older name."),
    Parameter("UPLOAD", description="name,param:part or name,URL pairs, ';' between them."),
    Parameter("VERSION", description="1.0 or 1.1."),
)

TAP = register(
    JobType(
        "tap",
        description="An ADQL query (TAP 1.1): its result table is the job's result.",
        run=run_query,
        needs_container=needs_container,  # a full scan of a big table (tap.service)
        parameters=TAP_PARAMETERS,
        files_by_any_name=True,
        keeps_unknown_parameters=True,
        error_document=_error_document,
    )
)
