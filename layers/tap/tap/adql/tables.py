"""Where the tables of a query live, behind one small interface (the translator knows no more).

A ``TableResolver`` turns the table name a user wrote into what DuckDB reads: a
``read_parquet([...])`` call over a catalogue's files, a view such as ``"TAP_SCHEMA"."tables"``
or an upload's ``"TAP_UPLOAD"."t1"``, and that table's column names. Storage that can skip data
by position (HATS catalogues) gets the query's positional constraints through
``ResolvedTable.narrow``: the translator passes the regions the WHERE clause (or an inner
join's ON) requires of the table's rows, and reads what ``narrow`` returns instead of ``sql``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Protocol


@dataclass(frozen=True)
class TableName:
    """A table name as written in ADQL; a delimited ("quoted") part matches case-sensitively."""

    schema: str | None
    table: str
    schema_delimited: bool = False
    table_delimited: bool = False

    def matches(self, schema: str | None, table: str) -> bool:
        """Whether this name designates the table ``schema.table`` under ADQL's case rules."""
        if not _same(self.table, self.table_delimited, table):
            return False
        if self.schema is None:
            return True
        return schema is not None and _same(self.schema, self.schema_delimited, schema)

    def __str__(self) -> str:
        return f"{self.schema}.{self.table}" if self.schema else self.table


def _same(written: str, delimited: bool, actual: str) -> bool:
    return written == actual if delimited else written.lower() == actual.lower()


@dataclass(frozen=True)
class ColumnRef:
    """A column of a catalogue table: where a result column's unit, UCD and description are."""

    schema: str | None
    table: str
    column: str


@dataclass(frozen=True)
class Cone:
    """A region the query requires of a table's (ra, dec) columns: a circle, in degrees."""

    ra_column: str
    dec_column: str
    ra: float
    dec: float
    radius: float


@dataclass(frozen=True)
class SkyPolygon:
    """A region the query requires of a table's (ra, dec) columns: great-circle edges, degrees.

    A BOX is passed as the polygon of its four corners.
    """

    ra_column: str
    dec_column: str
    vertices: tuple[tuple[float, float], ...]


@dataclass(frozen=True)
class Cones:
    """A region the query requires of a table's (ra, dec) columns: within ``radius`` degrees of
    any of ``centres``. A cross-match's join against a table whose positions are known before
    the query runs (an upload) asks this of the other table."""

    ra_column: str
    dec_column: str
    centres: tuple[tuple[float, float], ...]
    radius: float


Region = Cone | SkyPolygon | Cones
Positions = Callable[[str, str], Sequence[tuple[float, float]] | None]


@dataclass(frozen=True)
class ResolvedTable:
    """A table as DuckDB reads it.

    ``sql`` is trusted (it never comes from the user); ``narrow``, when given, returns SQL for
    the same table restricted to at least the rows inside every region (a superset is fine:
    the constraint itself stays in the query). ``positions``, when given, returns the values
    of two columns in every row (a table known before the query runs: an upload), so that a
    cross-match against it narrows the other table.
    """

    schema: str | None
    table: str
    sql: str
    columns: tuple[str, ...]
    narrow: Callable[[Sequence[Region]], str] | None = field(default=None, compare=False)
    positions: Positions | None = field(default=None, compare=False)


class UnknownTable(LookupError):
    """Raised by a resolver for a name it does not serve."""


class TableResolver(Protocol):
    """Maps an ADQL table name to what DuckDB reads, or raises UnknownTable."""

    def resolve(self, name: TableName) -> ResolvedTable: ...


class StaticResolver:
    """A resolver over a fixed list of tables (TAP_SCHEMA, uploads, tests).

    An unqualified name finds a table of any schema when exactly one table has that name.
    """

    def __init__(self, tables: Iterable[ResolvedTable]):
        self.tables = list(tables)

    def resolve(self, name: TableName) -> ResolvedTable:
        found = [t for t in self.tables if name.matches(t.schema, t.table)]
        if len(found) != 1:
            raise UnknownTable(str(name))
        return found[0]
