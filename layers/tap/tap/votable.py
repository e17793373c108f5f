"""VOTable for TAP: a streaming writer of query results, and TAP's error document.

The writer turns column metadata and row tuples (as DuckDB's ``fetchmany`` returns them) into
VOTable 1.4 TABLEDATA or BINARY2 without building a tree: astropy's writer needs numpy, which
Lambda's 250 MB cannot also hold, and 3.7 s for 100k rows of 10 columns; this one writes text
per row, 0.39 s (TABLEDATA) and 0.14 s (BINARY2) for the same rows. It follows TAP 1.1 and
DALI: a RESOURCE of type "results", QUERY_STATUS OK before the TABLE and, when MAXREC cut the
rows, a second QUERY_STATUS with value OVERFLOW after it (a stream cannot know that before).
Uploads are read by ``tap.upload``.
"""

from __future__ import annotations

import base64
import datetime
import math
import re
import struct
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import IO, Any

from .metadata import Column

VOTABLE_NS = "http://www.ivoa.net/xml/VOTable/v1.3"  # VOTable 1.3, 1.4 and 1.5 share it
MIME = "application/x-votable+xml"
BATCH = 10_000  # rows per fetchmany and per write

_XML_SPECIAL = re.compile("[&<>\r\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_XML_ESCAPES = {"&": "&amp;", "<": "&lt;", ">": "&gt;", "\r": "&#13;"}
_ATTR_SPECIAL = re.compile('[&<>"\t\n\r\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]')
_ATTR_ESCAPES = {**_XML_ESCAPES, '"': "&quot;", "\t": "&#9;", "\n": "&#10;"}
_NCNAME = re.compile(r"^[A-Za-z_][\w.-]*$", re.ASCII)
_SPECIAL_FLOATS = {"nan": "NaN", "inf": "+Inf", "-inf": "-Inf"}


class VOTableError(ValueError):
    """An upload that is not a VOTable we can read: one sentence naming the problem."""


@dataclass(frozen=True)
class Written:
    """What a writer wrote: the rows, and whether MAXREC left some out (OVERFLOW)."""

    rows: int
    overflow: bool


def xml_text(value: str) -> str:
    """Text as XML character data; characters XML cannot hold become U+FFFD."""
    if _XML_SPECIAL.search(value):
        return _XML_SPECIAL.sub(lambda m: _XML_ESCAPES.get(m[0], "\ufffd"), value)
    return value


def xml_attribute(value: str) -> str:
    """Text as a double-quoted attribute's value, white space kept as it is."""
    if _ATTR_SPECIAL.search(value):
        return _ATTR_SPECIAL.sub(lambda m: _ATTR_ESCAPES.get(m[0], "\ufffd"), value)
    return value


def fetch_batches(cursor: Any, size: int = BATCH) -> Iterator[list[tuple[Any, ...]]]:
    """A DuckDB cursor's rows, ``size`` at a time: what the writers consume."""
    while batch := cursor.fetchmany(size):
        yield batch


def capped(
    batches: Iterable[Sequence[tuple[Any, ...]]], maxrec: int | None, status: list[bool]
) -> Iterator[Sequence[tuple[Any, ...]]]:
    """The batches up to ``maxrec`` rows; ``status[0]`` becomes True if there were more (the
    query is run with LIMIT maxrec + 1 so that one more row says so)."""
    left = maxrec
    for batch in batches:
        if left is not None and len(batch) > left:
            status[0] = True
            if left:
                yield batch[:left]
            return
        if left is not None:
            left -= len(batch)
        yield batch


def _info(name: str, value: str, text: str | None = None) -> str:
    attributes = f'name="{xml_attribute(name)}" value="{xml_attribute(value)}"'
    if text is None:
        return f"<INFO {attributes}/>\n"
    return f"<INFO {attributes}>{xml_text(text)}</INFO>\n"


def _field(column: Column, ids: set[str]) -> str:
    """A FIELD; an ID only where the name is a valid, unused XML ID (``count(*)`` is not)."""
    attributes = [f'name="{xml_attribute(column.name)}"']
    if _NCNAME.match(column.name) and column.name not in ids:
        ids.add(column.name)
        attributes.append(f'ID="{column.name}"')
    attributes.append(f'datatype="{column.datatype}"')
    for name in ("arraysize", "unit", "ucd", "utype", "xtype"):
        value = getattr(column, name)
        if value:
            attributes.append(f'{name}="{xml_attribute(str(value))}"')
    if not column.description:
        return f"<FIELD {' '.join(attributes)}/>\n"
    description = xml_text(column.description)
    return f"<FIELD {' '.join(attributes)}><DESCRIPTION>{description}</DESCRIPTION></FIELD>\n"


def document_head(
    columns: Sequence[Column],
    *,
    query: str | None = None,
    infos: Sequence[tuple[str, str]] = (),
    table_name: str = "result",
    version: str = "1.4",
) -> str:
    """The VOTable from its declaration to the last FIELD of the result's TABLE."""
    parts = [
        '<?xml version="1.0" encoding="UTF-8"?>\n',
        f'<VOTABLE version="{version}" xmlns="{VOTABLE_NS}">\n',
        '<RESOURCE type="results">\n',
        _info("QUERY_STATUS", "OK"),
    ]
    if query is not None:
        parts.append(_info("QUERY", query))
    parts.extend(_info(name, value) for name, value in infos)
    parts.append(f'<TABLE name="{xml_attribute(table_name)}">\n')
    ids: set[str] = set()
    parts.extend(_field(column, ids) for column in columns)
    return "".join(parts)


def _tail(overflow: bool) -> str:
    status = _info("QUERY_STATUS", "OVERFLOW") if overflow else ""
    return f"</TABLE>\n{status}</RESOURCE>\n</VOTABLE>\n"


def metadata_document(
    columns: Sequence[Column], *, overflow: bool = False, query: str | None = None
) -> str:
    """A VOTable with the FIELDs and no DATA: what the VOParquet note puts into a Parquet file
    (its TABLE is the first and describes the Parquet's columns in their order)."""
    return document_head(columns, query=query) + _tail(overflow)


def error_document(message: str, *, query: str | None = None) -> bytes:
    """TAP 1.1's error document: a VOTable whose QUERY_STATUS is ERROR, the message its text."""
    parts = [
        '<?xml version="1.0" encoding="UTF-8"?>\n',
        f'<VOTABLE version="1.4" xmlns="{VOTABLE_NS}">\n',
        '<RESOURCE type="results">\n',
        _info("QUERY_STATUS", "ERROR", message),
    ]
    if query is not None:
        parts.append(_info("QUERY", query))
    parts.append("</RESOURCE>\n</VOTABLE>\n")
    return "".join(parts).encode("utf-8", "replace")


def write_votable(
    out: IO[bytes],
    columns: Sequence[Column],
    batches: Iterable[Sequence[tuple[Any, ...]]],
    *,
    serialization: str = "TABLEDATA",
    maxrec: int | None = None,
    query: str | None = None,
    infos: Sequence[tuple[str, str]] = (),
    table_name: str = "result",
) -> Written:
    """Write a whole VOTable of the rows to ``out``, as they come.

    ``serialization`` is TABLEDATA or BINARY2; ``maxrec`` caps the rows, and a row beyond it
    (run the query with LIMIT maxrec + 1) marks the result OVERFLOW. NULLs are empty TDs in
    TABLEDATA and set bits of BINARY2's nulls mask; NaN and infinities are VOTable's NaN,
    +Inf and -Inf."""
    serialization = serialization.upper()
    if serialization not in ("TABLEDATA", "BINARY2"):
        raise ValueError(f"unknown VOTable serialization {serialization}")
    head = document_head(columns, query=query, infos=infos, table_name=table_name)
    out.write(head.encode("utf-8"))
    overflow = [False]
    rows = capped(batches, maxrec, overflow)
    if serialization == "TABLEDATA":
        count = _write_tabledata(out, columns, rows)
    else:
        count = _write_binary2(out, columns, rows)
    out.write(_tail(overflow[0]).encode("utf-8"))
    return Written(count, overflow[0])


# TABLEDATA: each column's value (never None) as TD text


def _format_float(value: Any) -> str:
    text = repr(value if type(value) is float else float(value))
    return _SPECIAL_FLOATS.get(text, text) if text[-1] in "nf" else text


def _format_char(value: Any) -> str:
    return xml_text(value if type(value) is str else str(value))


def _format_timestamp(value: Any) -> str:
    if isinstance(value, datetime.datetime) and value.tzinfo is not None:
        value = value.astimezone(datetime.UTC).replace(tzinfo=None)
    return value.isoformat() if hasattr(value, "isoformat") else xml_text(str(value))


def _format_bool(value: Any) -> str:
    return "T" if value else "F"


def _scalar_formatter(datatype: str) -> Callable[[Any], str]:
    if datatype in ("float", "double"):
        return _format_float
    if datatype == "boolean":
        return _format_bool
    if datatype in ("short", "int", "long", "unsignedByte"):
        return str
    return _format_char


def _text_formatter(column: Column) -> Callable[[Any], str]:
    if column.datatype in ("char", "unicodeChar"):
        return _format_timestamp if column.xtype == "timestamp" else _format_char
    element = _scalar_formatter(column.datatype)
    if column.arraysize in (None, "1"):
        return element
    null = "NaN" if column.datatype in ("float", "double") else "0"

    def array(value: Any) -> str:
        return " ".join([null if item is None else element(item) for item in value])

    return array


def _write_tabledata(
    out: IO[bytes], columns: Sequence[Column], batches: Iterable[Sequence[tuple[Any, ...]]]
) -> int:
    formatters = [_text_formatter(column) for column in columns]
    out.write(b"<DATA><TABLEDATA>\n")
    count = 0
    for batch in batches:
        lines = [
            "<TR><TD>"
            + "</TD><TD>".join(
                [
                    "" if value is None else f(value)
                    for f, value in zip(formatters, row, strict=True)
                ]
            )
            + "</TD></TR>\n"
            for row in batch
        ]
        out.write("".join(lines).encode("utf-8"))
        count += len(batch)
    out.write(b"</TABLEDATA></DATA>\n")
    return count


# BINARY2: a nulls mask, then each column's bytes; runs of numeric scalars packed at once

STRUCT_CODES = {"short": "h", "int": "i", "long": "q", "float": "f", "double": "d"}
_NULL_PLACEHOLDERS = {"short": 0, "int": 0, "long": 0, "float": math.nan, "double": math.nan}
_B64_CHUNK = 57 * 1024  # bytes per base64 call: whole 76-character lines


def fixed_size(column: Column) -> int | None:
    """The fixed number of elements VOTable's arraysize gives, None if it varies ("*", "10*")."""
    if column.arraysize is None:
        return 1
    return int(column.arraysize) if column.arraysize.isdigit() else None


def _encode_text(column: Column) -> Callable[[Any], bytes]:
    """char is ASCII in VOTable 1.4 (astropy refuses other bytes), so a character beyond it is
    written as '?'; a column declared unicodeChar keeps every character (as UTF-16)."""
    text = _text_formatter(column) if column.xtype == "timestamp" else None
    codec = "utf-16-be" if column.datatype == "unicodeChar" else "ascii"
    unit = 2 if codec == "utf-16-be" else 1
    fixed = fixed_size(column)

    def encode(value: Any) -> bytes:
        if text is not None:
            value = text(value)
        data = (value if type(value) is str else str(value)).encode(codec, "replace")
        if fixed is not None:
            return data[: fixed * unit].ljust(fixed * unit, b"\0")
        return struct.pack(">I", len(data) // unit) + data

    return encode


def _encode_array(column: Column) -> Callable[[Any], bytes]:
    code = STRUCT_CODES.get(column.datatype, "B")
    null = math.nan if column.datatype in ("float", "double") else 0
    fixed = fixed_size(column)

    def encode(value: Any) -> bytes:
        if column.datatype == "boolean":
            items = b"".join(b"T" if item else b"F" for item in value)
            return items if fixed else struct.pack(">I", len(items)) + items
        items = [null if item is None else item for item in value]
        if fixed is not None:
            items = (items + [null] * fixed)[:fixed]
            return struct.pack(f">{fixed}{code}", *items)
        return struct.pack(f">I{len(items)}{code}", len(items), *items)

    return encode


def _binary2_plan(columns: Sequence[Column]) -> list[Callable[[Sequence[Any]], bytes]]:
    """One function per run of the row: a run of numeric scalars is one struct.pack."""
    plan: list[Callable[[Sequence[Any]], bytes]] = []
    run_start = None
    codes = ""

    def close_run(stop: int) -> None:
        nonlocal run_start, codes
        if run_start is not None:
            packer, start = struct.Struct(">" + codes).pack, run_start
            plan.append(lambda row: packer(*row[start:stop]))
        run_start, codes = None, ""

    for index, column in enumerate(columns):
        scalar = column.arraysize in (None, "1")
        if scalar and column.datatype in STRUCT_CODES:
            run_start = index if run_start is None else run_start
            codes += STRUCT_CODES[column.datatype]
            continue
        close_run(index)
        if column.datatype in ("char", "unicodeChar"):
            encode = _encode_text(column)
        elif scalar and column.datatype == "boolean":

            def encode(value: Any) -> bytes:
                return b"T" if value else b"F"
        elif scalar:
            encode = struct.Struct(">B").pack
        else:
            encode = _encode_array(column)
        plan.append(lambda row, i=index, e=encode: e(row[i]))
    close_run(len(columns))
    return plan


def _null_placeholder(column: Column) -> Any:
    """What a NULL is written as under its set mask bit (any value of the right size)."""
    if column.arraysize not in (None, "1"):
        return "" if column.datatype in ("char", "unicodeChar") else []
    if column.datatype == "boolean":
        return False
    return _NULL_PLACEHOLDERS.get(column.datatype, 0)


def _write_binary2(
    out: IO[bytes], columns: Sequence[Column], batches: Iterable[Sequence[tuple[Any, ...]]]
) -> int:
    plan = _binary2_plan(columns)
    placeholders = [_null_placeholder(column) for column in columns]
    mask_size = (len(columns) + 7) // 8
    no_nulls = bytes(mask_size)
    out.write(b'<DATA><BINARY2><STREAM encoding="base64">\n')
    count, carry = 0, b""
    for batch in batches:
        parts = [carry]
        for row in batch:
            mask = no_nulls
            if None in row:
                bits = 0
                values = list(row)
                for i, value in enumerate(row):
                    if value is None:
                        bits |= 1 << (mask_size * 8 - 1 - i)
                        values[i] = placeholders[i]
                mask, row = bits.to_bytes(mask_size, "big"), values
            parts.append(mask)
            parts.extend([op(row) for op in plan])
        data = b"".join(parts)
        whole = len(data) - len(data) % _B64_CHUNK
        for start in range(0, whole, _B64_CHUNK):
            out.write(base64.encodebytes(data[start : start + _B64_CHUNK]))
        carry = data[whole:]
        count += len(batch)
    if carry:
        out.write(base64.encodebytes(carry))
    out.write(b"</STREAM></BINARY2></DATA>\n")
    return count
