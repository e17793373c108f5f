"""ADQL in, DuckDB SQL out: parse, check, resolve names, morph, write.

The caller runs ``translation.limited(min(top, maxrec) + 1)`` to learn whether MAXREC cut the
result (TAP's OVERFLOW): the query's own TOP and OFFSET are kept apart from its text for that.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass

from sqlglot import exp

from .allow import check
from .dialect import parse
from .errors import Located
from .morph import FUNCTIONS, Near, morph
from .scope import Names, OutputColumn
from .tables import Cones, Region, ResolvedTable, TableResolver


@dataclass(frozen=True)
class Translation:
    """A query ready for DuckDB, and what the caller needs to run it and describe its result."""

    body: str  # the DuckDB SQL without the query's own TOP and OFFSET
    columns: tuple[OutputColumn, ...]
    tables: tuple[ResolvedTable, ...]
    top: int | None
    offset: int | None

    def limited(self, rows: int | None) -> str:
        """The SQL returning at most ``rows`` rows (None: the query's own TOP, if any)."""
        sql = self.body
        if rows is not None:
            sql += f" LIMIT {int(rows)}"
        if self.offset:
            sql += f" OFFSET {int(self.offset)}"
        return sql

    @property
    def sql(self) -> str:
        """The query as written: its TOP as a LIMIT."""
        return self.limited(self.top)


def translate(
    query: str, tables: TableResolver, udfs: Mapping[str, str] | None = None
) -> Translation:
    """Translate an ADQL 2.0/2.1 query; raise AdqlError naming the problem and its place.

    ``udfs`` maps further function names users may call (upper case) to the DuckDB functions
    they become; whatever is listed there becomes callable, so list only what is safe.
    """
    udfs = {name.upper(): target for name, target in (udfs or {}).items()}
    where = Located(query)
    tree = parse(query)
    check(tree, set(FUNCTIONS) | set(udfs), where)
    names = Names(tables, where)
    outputs = names.query(tree, None, {})
    top, offset = _take(tree, "limit"), _take(tree, "offset")
    tree = morph(tree, udfs, where)
    regions = _regions(
        tree,
        {alias.lower(): table for _, table, alias in names.replacements},
        {alias.lower(): node.parent_select for node, _, alias in names.replacements},
    )
    # Each table becomes a name no query can hold, replaced by its SQL once the query is
    # written: sqlglot would parse a narrowed HATS read (its files, its index ranges) and
    # write it again for nothing (a fifth of a cone's translation).
    sources = {}
    for node, table, alias in names.replacements:
        wanted = regions.get(alias.lower(), [])
        token = exp.to_identifier(f"table_{uuid.uuid4().hex}", quoted=True)
        sources[token.sql(dialect="duckdb")] = (
            table.narrow(wanted) if table.narrow and wanted else table.sql
        )
        alias_node = exp.TableAlias(this=exp.to_identifier(alias, quoted=True))
        node.replace(exp.Table(this=token, alias=alias_node))
    used = {id(t): t for _, t, _ in names.replacements}
    body = tree.sql(dialect="duckdb")
    for token, source in sources.items():
        body = body.replace(token, source, 1)
    return Translation(body, tuple(outputs), tuple(used.values()), top, offset)


def _take(tree: exp.Expression, part: str) -> int | None:
    """Remove the query's own row limit or offset, returning it."""
    node = tree.args.get(part)
    if node is None:
        return None
    tree.set(part, None)
    return int(node.expression.this)


def _regions(
    tree: exp.Expression,
    tables: Mapping[str, ResolvedTable],
    homes: Mapping[str, exp.Expression | None],
) -> dict[str, list[Region]]:
    """Regions every row of a table must be in, keyed by the table's alias in the SQL: those a
    CONTAINS(POINT(t.ra, t.dec), known shape) = 1 or a DISTANCE(...) < r asks, ANDed at the top
    of a WHERE clause or of an inner join's ON (a left join's ON: only of the table it joins)
    of the SELECT that reads the table (``homes`` by alias): a correlated subquery's condition
    (NOT EXISTS (... WHERE DISTANCE(t..., u...) < r)) does not filter the outer table's rows.
    A cross-match against a table whose positions are known (an upload) becomes cones round
    them (``tables`` by alias gives them)."""
    found: dict[str, list[Region]] = {}
    conditions = [(where.this, None, where.parent) for where in tree.find_all(exp.Where)]
    for join in tree.find_all(exp.Join):
        on = join.args.get("on")
        if on is not None and join.side in ("", "LEFT"):
            only = join.this.alias.lower() if join.side else None
            conditions.append((on, only, join.parent_select))
    for condition, only, select in conditions:
        for term in _conjuncts(condition):
            while isinstance(term, exp.Paren) and not (term._meta and "regions" in term._meta):
                term = term.this
            for alias, region in (term.meta.get("regions") or []) if term._meta else []:
                if (only is not None and alias != only) or homes.get(alias) is not select:
                    continue
                if isinstance(region, Near):
                    if alias not in tables or tables[alias].narrow is None:
                        continue  # nothing to narrow: the positions are not wanted
                    other = tables.get(region.other)
                    if other is None or other.positions is None:
                        continue
                    centres = other.positions(region.other_ra, region.other_dec)
                    if centres is None:
                        continue
                    region = Cones(region.ra_column, region.dec_column, tuple(centres),
                                   region.radius)  # fmt: skip
                found.setdefault(alias, []).append(region)
    return found


def _conjuncts(node: exp.Expression):
    """The terms ANDed at the top of a condition (not those inside parentheses we wrote)."""
    if isinstance(node, exp.And):
        yield from _conjuncts(node.this)
        yield from _conjuncts(node.expression)
    else:
        yield node
