"""TAP's output formats: RESPONSEFORMAT (or FORMAT) to a writer and the result's media type.

TAP 1.1 and DALI name the formats by media type or short name; ``resolve`` takes either, in any
case and spacing, and refuses others with a sentence listing the known ones. Each writer runs
the query's SQL on a DuckDB connection with LIMIT MAXREC + 1, writes at most MAXREC rows to a
file path (results go to S3 from there) and reports the rows and whether the extra row showed
an OVERFLOW. VOTable, CSV and TSV stream the rows as DuckDB fetches them; Parquet is written by
DuckDB itself (COPY … TO, 0.03 s for 100k rows) with the VOTable metadata embedded as the IVOA
VOParquet note 1.0 says.
"""

from __future__ import annotations

import csv
import datetime
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any

import duckdb

from .metadata import Column, quote_identifier, sql_literal
from .votable import MIME as VOTABLE_MIME
from .votable import Written, capped, fetch_batches, metadata_document, write_votable

VOPARQUET_VERSION = "1.0"


class UnknownFormat(ValueError):
    """A RESPONSEFORMAT this service does not write; the message lists those it does."""


Columns = Sequence[Column] | Callable[[Sequence[Any]], Sequence[Column]] | None


@dataclass(frozen=True)
class Result:
    """A query to write: its SQL, the connection to run it on, the columns' VOTable metadata
    (or a function of the cursor's description making them; None: from DuckDB's types),
    MAXREC (None: no cap) and the ADQL text for INFO QUERY."""

    con: duckdb.DuckDBPyConnection
    sql: str
    columns: Columns = None
    maxrec: int | None = None
    query: str | None = None


@dataclass(frozen=True)
class Format:
    """An output format: its short name, the media type its results carry, a file extension,
    and the writer of a Result to a path."""

    name: str
    mime: str
    extension: str
    write: Callable[[Result, str], Written]


def _limited(result: Result) -> str:
    """The query with LIMIT MAXREC + 1: the one extra row tells OVERFLOW."""
    sql = result.sql.strip().rstrip(";")
    if result.maxrec is None:
        return sql
    return f"SELECT * FROM ({sql}) AS result LIMIT {int(result.maxrec) + 1}"


def result_columns(description: Sequence[Any], columns: Columns) -> list[Column]:
    """The given columns (or those a function makes of the cursor's description), or columns
    from DuckDB's cursor description (name and type)."""
    if callable(columns):
        columns = columns(description)
    if columns is None:
        return [Column.from_sql(entry[0], str(entry[1])) for entry in description]
    if len(columns) != len(description):
        raise ValueError(f"{len(columns)} columns described for a result of {len(description)}")
    return list(columns)


def _votable_writer(serialization: str) -> Callable[[Result, str], Written]:
    def write(result: Result, path: str) -> Written:
        cursor = result.con.execute(_limited(result))
        columns = result_columns(cursor.description, result.columns)
        with open(path, "wb") as out:
            return write_votable(
                out,
                columns,
                fetch_batches(cursor),
                serialization=serialization,
                maxrec=result.maxrec,
                query=result.query,
            )

    return write


def _csv_cell(column: Column) -> Callable[[Any], Any] | None:
    """What a CSV cell needs beyond str(): ISO 8601 times, lower-case booleans."""
    if column.xtype == "timestamp":
        return lambda v: v.isoformat() if isinstance(v, datetime.date) else v
    if column.datatype == "boolean" and column.arraysize in (None, "1"):
        return lambda v: v if v is None else ("true" if v else "false")
    return None


def _delimited_writer(delimiter: str) -> Callable[[Result, str], Written]:
    """CSV (RFC 4180 quoting, header present) or TSV; NULL is an empty field."""

    def write(result: Result, path: str) -> Written:
        cursor = result.con.execute(_limited(result))
        columns = result_columns(cursor.description, result.columns)
        cells = [(i, f) for i, c in enumerate(columns) if (f := _csv_cell(c)) is not None]
        overflow = [False]
        count = 0
        with open(path, "w", encoding="utf-8", newline="") as out:
            writer = csv.writer(out, delimiter=delimiter, lineterminator="\r\n")
            writer.writerow([column.name for column in columns])
            for batch in capped(fetch_batches(cursor), result.maxrec, overflow):
                writer.writerows(_converted(batch, cells) if cells else batch)
                count += len(batch)
        return Written(count, overflow[0])

    return write


def _converted(
    batch: Iterable[tuple[Any, ...]], cells: list[tuple[int, Callable[[Any], Any]]]
) -> Iterable[list[Any]]:
    for row in batch:
        values = list(row)
        for index, convert in cells:
            values[index] = convert(values[index])
        yield values


def _parquet_column(name: str, sql_type: str, column: Column) -> str:
    """The column as the Parquet stores it: of the type its FIELD declares, since readers
    (astropy among them) refuse a DECIMAL or a timestamp described as a double or a string."""
    quoted = quote_identifier(name)
    if sql_type.startswith("DECIMAL") and column.datatype in ("float", "double"):
        return f"CAST({quoted} AS DOUBLE)"
    if column.datatype in ("char", "unicodeChar") and sql_type != "VARCHAR":
        if column.xtype == "timestamp" and sql_type.startswith(("TIMESTAMP", "DATE")):
            value = f"timezone('UTC', {quoted})" if "TIME ZONE" in sql_type else quoted
            return f"replace(CAST({value} AS VARCHAR), ' ', 'T')"
        return f"CAST({quoted} AS VARCHAR)"
    return quoted


def _fixed_strings(
    con: duckdb.DuckDBPyConnection, staging: str, columns: list[Column], expressions: list[str]
) -> list[Column]:
    """String FIELDs with arraysize "*" declared as long as their longest value: astropy's
    VOParquet reader stacks the FIELDs' empty table on the Parquet's and refuses a
    variable-length string (numpy object) over a fixed one; VOParquet readers take the data's
    types from the Parquet, so the size only describes."""
    strings = [
        i
        for i, c in enumerate(columns)
        if c.datatype in ("char", "unicodeChar") and c.arraysize == "*"
    ]
    if not strings:
        return columns
    lengths = ", ".join(f"max(length({expressions[i]}))" for i in strings)
    found = con.execute(f"SELECT {lengths} FROM {staging}").fetchone() or ()
    fixed = list(columns)
    for i, length in zip(strings, found, strict=True):
        fixed[i] = replace(columns[i], arraysize=str(max(int(length or 0), 1)))
    return fixed


def _write_parquet(result: Result, path: str) -> Written:
    """DuckDB writes the Parquet; the key-value metadata holds the VOParquet VOTable (FIELDs
    in the columns' order, no DATA; an OVERFLOW INFO after the TABLE when MAXREC cut it)."""
    con = result.con
    staging = quote_identifier("tap_result_staging")
    con.execute(f"CREATE OR REPLACE TEMP TABLE {staging} AS {_limited(result)}")
    try:
        # (con.execute answers with con itself: its description is that of the last query)
        description = con.execute(f"SELECT * FROM {staging} LIMIT 0").description
        columns = result_columns(description, result.columns)
        found = con.execute(f"SELECT count(*) FROM {staging}").fetchone()
        rows = int(found[0]) if found else 0
        overflow = result.maxrec is not None and rows > result.maxrec
        if overflow:
            rows = int(result.maxrec or 0)
        expressions = [
            _parquet_column(entry[0], str(entry[1]), column)
            for entry, column in zip(description, columns, strict=True)
        ]
        columns = _fixed_strings(con, staging, columns, expressions)
        document = metadata_document(columns, overflow=overflow, query=result.query)
        selected = ", ".join(
            f"{expression} AS {quote_identifier(column.name)}"
            for expression, column in zip(expressions, columns, strict=True)
        )
        metadata = (
            f"{{'IVOA.VOTable-Parquet.version': {sql_literal(VOPARQUET_VERSION)}, "
            f"'IVOA.VOTable-Parquet.content': {sql_literal(document)}}}"
        )
        con.execute(
            f"COPY (SELECT {selected} FROM {staging} LIMIT {rows}) TO {sql_literal(path)}"
            f" (FORMAT parquet, COMPRESSION zstd, KV_METADATA {metadata})"
        )
    finally:
        con.execute(f"DROP TABLE IF EXISTS {staging}")
    return Written(rows, overflow)


FORMATS: dict[str, Format] = {
    "votable": Format("votable", VOTABLE_MIME, "xml", _votable_writer("TABLEDATA")),
    "votable/b2": Format(
        "votable/b2",
        f"{VOTABLE_MIME};serialization=BINARY2",
        "xml",
        _votable_writer("BINARY2"),
    ),
    "csv": Format("csv", "text/csv;header=present", "csv", _delimited_writer(",")),
    "tsv": Format("tsv", "text/tab-separated-values", "tsv", _delimited_writer("\t")),
    "parquet": Format("parquet", "application/vnd.apache.parquet", "parquet", _write_parquet),
}

# Every spelling clients send, compared in lower case without spaces.
ALIASES: dict[str, str] = {
    "votable": "votable",
    "votable/td": "votable",
    "votabletd": "votable",
    "application/x-votable+xml": "votable",
    "application/x-votable+xml;serialization=tabledata": "votable",
    "text/xml": "votable",
    "votable/b2": "votable/b2",
    "votableb2": "votable/b2",
    "application/x-votable+xml;serialization=binary2": "votable/b2",
    "csv": "csv",
    "text/csv": "csv",
    "text/csv;header=present": "csv",
    "tsv": "tsv",
    "text/tab-separated-values": "tsv",
    "parquet": "parquet",
    "application/vnd.apache.parquet": "parquet",
}


def resolve(value: str | None) -> Format:
    """The format RESPONSEFORMAT (or FORMAT) names; none given is VOTable TABLEDATA."""
    if value is None or not value.strip():
        return FORMATS["votable"]
    key = "".join(value.split()).lower()
    if key not in ALIASES:
        known = ", ".join(f"{f.name} ({f.mime})" for f in FORMATS.values())
        raise UnknownFormat(f"RESPONSEFORMAT {value!r} is not one this service writes: {known}")
    return FORMATS[ALIASES[key]]


def write_result(result: Result, responseformat: str | None, path: str) -> tuple[Format, Written]:
    """Write the result in the format RESPONSEFORMAT names; the format (for its media type)
    and what was written."""
    output = resolve(responseformat)
    return output, output.write(result, path)
