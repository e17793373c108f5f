"""TAP's request parameters (TAP 1.1, 2.3), checked once for /sync and for the ``tap`` job
type alike: REQUEST, LANG, QUERY, MAXREC, RESPONSEFORMAT (or its old name FORMAT), UPLOAD,
VERSION. A bad value is a :class:`TapError` whose message is one sentence naming the
parameter; /sync answers it as a 400 with TAP's error document, an async job ends in ERROR.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from .formats import Format, UnknownFormat, resolve

LANGUAGES = ("ADQL", "ADQL-2.0", "ADQL-2.1")
VERSIONS = ("1.0", "1.1")
# TAP 1.1, 2.5.2: an upload table's name is an ADQL regular identifier.
_TABLE_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,63}")
_UPLOAD_SOURCE = re.compile(r"(param:[A-Za-z0-9_.-]{1,64}|https?://\S+)")


class TapError(ValueError):
    """A TAP request this service cannot run; the message says why, in one sentence."""


class StorageBusy(TapError):
    """The catalogue's storage failed transiently (S3's 503 SlowDown, a 500) past DuckDB's own
    retries: the query itself is fine and may be run again."""


@dataclass(frozen=True)
class Limits:
    """The deployment's limits: MAXREC's default and hard cap (rows), and the bytes one
    upload may have (TAPRegExt's outputLimit and uploadLimit)."""

    default_maxrec: int = 10_000
    max_maxrec: int = 1_000_000
    upload_bytes: int = 10 * 1024 * 1024

    @classmethod
    def from_environment(cls) -> Limits:
        return cls(
            default_maxrec=int(os.environ.get("TAP_DEFAULT_MAXREC", cls.default_maxrec)),
            max_maxrec=int(os.environ.get("TAP_MAX_MAXREC", cls.max_maxrec)),
            upload_bytes=int(os.environ.get("TAP_UPLOAD_BYTES", cls.upload_bytes)),
        )


@dataclass(frozen=True)
class Upload:
    """One UPLOAD table: its name in TAP_UPLOAD and where its VOTable is (``param:x``, the
    request's file part x, or an http(s) URL)."""

    table: str
    source: str

    @property
    def part(self) -> str | None:
        return self.source.removeprefix("param:") if self.source.startswith("param:") else None


@dataclass(frozen=True)
class TapQuery:
    """A TAP query, its parameters checked."""

    query: str
    maxrec: int
    output: Format
    uploads: tuple[Upload, ...] = field(default_factory=tuple)
    language: str = "ADQL"


def _one(parameters: Mapping[str, str | list[str]], name: str) -> str | None:
    value = parameters.get(name)
    if isinstance(value, list):
        if len(value) > 1:
            raise TapError(f"{name} was given {len(value)} times; it takes one value.")
        value = value[0] if value else None
    return value


def parse_uploads(value: str | None) -> tuple[Upload, ...]:
    """UPLOAD: ``name,source`` pairs separated by ``;`` (TAP 1.1, 3.5)."""
    if value is None or not value.strip():
        return ()
    uploads = []
    for pair in value.split(";"):
        name, comma, source = pair.strip().partition(",")
        name, source = name.strip(), source.strip()
        if not comma or not _TABLE_NAME.fullmatch(name):
            raise TapError(
                f"UPLOAD must be name,source pairs with names that are ADQL identifiers, "
                f"not {pair.strip()[:60]!r}."
            )
        if not _UPLOAD_SOURCE.fullmatch(source):
            raise TapError(
                f"UPLOAD source {source[:60]!r} is neither param:<part> nor an http(s) URL."
            )
        if any(u.table.lower() == name.lower() for u in uploads):
            raise TapError(f"UPLOAD names the table {name} twice.")
        uploads.append(Upload(name, source))
    return tuple(uploads)


def parse_tap_query(parameters: Mapping[str, str | list[str]], limits: Limits) -> TapQuery:
    """The checked query; names in ``parameters`` upper-case, as UWS's are kept."""
    request = _one(parameters, "REQUEST")
    if request is not None and request != "doQuery":
        raise TapError(f"REQUEST must be doQuery, not {request[:40]!r}.")
    version = _one(parameters, "VERSION")
    if version is not None and version not in VERSIONS:
        raise TapError(f"VERSION must be 1.0 or 1.1, not {version[:40]!r}.")
    language = _one(parameters, "LANG")
    if language is None:
        raise TapError("LANG is required: ADQL (2.0 or 2.1) is the language this service runs.")
    if language.upper() not in LANGUAGES:
        raise TapError(f"LANG must be ADQL, ADQL-2.0 or ADQL-2.1, not {language[:40]!r}.")
    query = _one(parameters, "QUERY")
    if query is None or not query.strip():
        raise TapError("QUERY is required: the ADQL query to run.")
    maxrec_literal = _one(parameters, "MAXREC")
    maxrec = limits.default_maxrec
    if maxrec_literal is not None and maxrec_literal.strip():
        try:
            maxrec = int(maxrec_literal)
        except ValueError:
            raise TapError(f"MAXREC must be a whole number, not {maxrec_literal[:40]!r}.") from None
        if maxrec < 0:
            raise TapError(f"MAXREC must not be negative, not {maxrec}.")
    formats = [v for v in (_one(parameters, "RESPONSEFORMAT"), _one(parameters, "FORMAT")) if v]
    try:
        output = resolve(formats[0] if formats else None)
    except UnknownFormat as unknown:
        raise TapError(str(unknown).rstrip(".") + ".") from None
    return TapQuery(
        query=query,
        maxrec=min(maxrec, limits.max_maxrec),
        output=output,
        uploads=parse_uploads(_one(parameters, "UPLOAD")),
        language=language.upper(),
    )
