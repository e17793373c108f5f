"""Names: which table each name in a query means, checked and rewritten for DuckDB.

Every table name goes through the resolver (the only way a table reaches DuckDB), every column
must exist in a table of its scope (or an enclosing one, for correlated subqueries), ``*`` is
expanded so the result's columns are known before the query runs, and every select item gets a
unique name. ADQL's case rules apply: regular identifiers match whatever their case, delimited
ones ("Ra") exactly. In the DuckDB SQL every name is delimited, so no user text is read as SQL.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlglot import exp

from .errors import Located, start_of
from .tables import ColumnRef, ResolvedTable, TableName, TableResolver

GEOMETRY_XTYPES = {"POINT": "point", "CIRCLE": "circle", "BOX": "polygon", "POLYGON": "polygon"}
GEOMETRY_XTYPES["CENTROID"] = "point"


@dataclass(frozen=True)
class OutputColumn:
    """A result column: its name, the table column it repeats (for metadata), its DALI xtype."""

    name: str
    source: ColumnRef | None = None
    xtype: str | None = None


@dataclass
class Source:
    """A FROM item as the query sees it."""

    alias: str  # its name in the DuckDB SQL
    user_alias: exp.Identifier | None
    table: ResolvedTable | None  # None for subqueries and common table expressions
    cte_name: str | None
    columns: list[OutputColumn]


@dataclass
class Scope:
    outer: Scope | None
    ctes: dict[str, tuple[str, list[OutputColumn]]]
    sources: list[Source] = field(default_factory=list)
    merged: dict[str, str] = field(default_factory=dict)  # USING/NATURAL columns, lower -> name

    def chain(self):
        scope: Scope | None = self
        while scope is not None:
            yield scope
            scope = scope.outer


def same(identifier: exp.Identifier, name: str) -> bool:
    written = identifier.this
    return written == name if identifier.quoted else written.lower() == name.lower()


def _find(columns: list[OutputColumn], identifier: exp.Identifier) -> OutputColumn | None:
    return next((c for c in columns if same(identifier, c.name)), None)


class Names:
    """Resolves one query's names; keeps the tables to substitute once translation is done."""

    def __init__(self, resolver: TableResolver, where: Located):
        self.resolver = resolver
        self.where = where
        self.replacements: list[tuple[exp.Table, ResolvedTable, str]] = []
        self.aliases: set[str] = set()

    def _alias(self, base: str) -> str:
        alias, number = base, 1
        while alias.lower() in self.aliases:
            number += 1
            alias = f"{base}_{number}"
        self.aliases.add(alias.lower())
        return alias

    def query(self, node: exp.Expression, outer: Scope | None, ctes: dict) -> list[OutputColumn]:
        """Resolve a query (SELECT, set operation or parenthesised query); its result columns."""
        ctes = self._ctes(node, outer, ctes)
        if isinstance(node, exp.Subquery):
            return self.query(node.this, outer, ctes)
        if isinstance(node, exp.SetOperation):
            left = self.query(node.this, outer, ctes)
            right = self.query(node.expression, outer, ctes)
            if len(left) != len(right):
                word = type(node).__name__.upper()
                message = f"The two sides of {word} have {len(left)} and {len(right)} columns"
                raise self.where.error(message, node)
            self._order(node, None, left)
            return left
        return self._select(node, outer, ctes)

    def _ctes(self, node: exp.Expression, outer: Scope | None, ctes: dict) -> dict:
        with_ = node.args.get("with_")
        if not with_:
            return ctes
        ctes = dict(ctes)
        for cte in with_.expressions:
            outputs = self.query(cte.this, outer, ctes)
            name = cte.args["alias"].this
            alias = self._alias(name.this)
            cte.set("alias", exp.TableAlias(this=exp.to_identifier(alias, quoted=True)))
            ctes[name.this if name.quoted else name.this.lower()] = (alias, outputs)
        return ctes

    def _select(self, node: exp.Select, outer: Scope | None, ctes: dict) -> list[OutputColumn]:
        scope = Scope(outer, ctes)
        if node.args.get("from_"):
            self._from_item(node.args["from_"].this, scope)
        for join in node.args.get("joins") or []:
            before = [c.name.lower() for s in scope.sources for c in s.columns]
            source = self._from_item(join.this, scope)
            if (join.args.get("method") or "").upper() == "NATURAL":
                for column in source.columns:
                    if column.name.lower() in before:
                        scope.merged.setdefault(column.name.lower(), column.name)
            for identifier in join.args.get("using") or []:
                found = _find(source.columns, identifier)
                if found is None or found.name.lower() not in before:
                    raise self.where.error(
                        f"Unknown column '{identifier.this}' in USING", identifier
                    )
                scope.merged.setdefault(found.name.lower(), found.name)
                identifier.replace(exp.to_identifier(found.name, quoted=True))
            if join.args.get("on"):
                self.expressions(join.args["on"], scope)
        items = self._expand(node, scope)
        for item in items:
            self.expressions(item, scope)
        for part in ("where", "having"):
            if node.args.get(part):
                self.expressions(node.args[part], scope)
        outputs = self._name(list(node.expressions))  # resolving replaced the column nodes
        if node.args.get("group"):
            for item in node.args["group"].expressions:
                self.expressions(item, scope, outputs)
        self._order(node, scope, outputs)
        return outputs

    def _from_item(self, item: exp.Expression, scope: Scope) -> Source:
        alias_node = item.args.get("alias")
        user_alias = alias_node.this if alias_node is not None and alias_node.this else None
        if isinstance(item, exp.Subquery):
            if user_alias is None:
                raise self.where.error(
                    "A subquery in FROM needs a name: (SELECT ...) AS name", item
                )
            columns = self.query(item.this, scope.outer, scope.ctes)
            source = Source(self._alias(user_alias.this), user_alias, None, None, columns)
        elif isinstance(item, exp.Table):
            source = self._table(item, user_alias, scope)
        else:
            raise self.where.error("Only tables and subqueries can be in FROM", item)
        item.set("alias", exp.TableAlias(this=exp.to_identifier(source.alias, quoted=True)))
        scope.sources.append(source)
        return source

    def _table(self, item: exp.Table, user_alias, scope: Scope) -> Source:
        name, schema = item.this, item.args.get("db")
        key = name.this if name.quoted else name.this.lower()
        if schema is None and key in scope.ctes:
            cte_alias, columns = scope.ctes[key]
            item.set("this", exp.to_identifier(cte_alias, quoted=True))
            alias = self._alias(user_alias.this if user_alias else name.this)
            return Source(alias, user_alias, None, name.this, columns)
        wanted = TableName(
            schema.this if schema else None,
            name.this,
            bool(schema and schema.quoted),
            bool(name.quoted),
        )
        try:
            table = self.resolver.resolve(wanted)
        except LookupError:
            raise self.where.error(f"Unknown table '{wanted}'", item) from None
        alias = self._alias(user_alias.this if user_alias else table.table)
        self.replacements.append((item, table, alias))
        columns = [OutputColumn(c, ColumnRef(table.schema, table.table, c)) for c in table.columns]
        return Source(alias, user_alias, table, None, columns)

    def _matches(self, source: Source, table: exp.Identifier, schema) -> bool:
        if source.user_alias is not None:
            return schema is None and same(table, source.user_alias.this)
        if source.table is None:
            return schema is None and same(table, source.cte_name or "")
        wanted = TableName(
            schema.this if schema else None,
            table.this,
            bool(schema and schema.quoted),
            table.quoted,
        )
        return wanted.matches(source.table.schema, source.table.table)

    def _qualified_sources(self, column: exp.Column, scope: Scope) -> Source:
        table, schema = column.args["table"], column.args.get("db")
        for current in scope.chain():
            found = [s for s in current.sources if self._matches(s, table, schema)]
            if len(found) > 1:
                raise self.where.error(f"Ambiguous table name '{table.this}'", column)
            if found:
                return found[0]
        written = f"{schema.this}.{table.this}" if schema else table.this
        raise self.where.error(f"Unknown table '{written}'", column)

    def _expand(self, node: exp.Select, scope: Scope) -> list[exp.Expression]:
        """The select list with ``*`` and ``t.*`` written out."""
        items: list[exp.Expression] = []
        for item in node.expressions:
            if isinstance(item, exp.Star):
                seen: set[str] = set()
                for source in scope.sources:
                    for column in source.columns:
                        merged = scope.merged.get(column.name.lower())
                        if merged is None:
                            items.append(self._column(source, column))
                        elif merged.lower() not in seen:
                            seen.add(merged.lower())
                            items.append(_marked(exp.column(merged, quoted=True), column))
                if not scope.sources:
                    raise self.where.error("SELECT * needs a FROM clause", item)
            elif isinstance(item, exp.Column) and isinstance(item.this, exp.Star):
                source = self._qualified_sources(item, scope)
                items.extend(self._column(source, column) for column in source.columns)
            else:
                items.append(item)
        node.set("expressions", items)
        return list(node.expressions)

    @staticmethod
    def _column(source: Source, column: OutputColumn, written=None) -> exp.Column:
        return _marked(exp.column(column.name, table=source.alias, quoted=True), column, written)

    def expressions(self, node: exp.Expression, scope: Scope, outputs=None) -> None:
        """Resolve the columns of an expression, and the subqueries in it."""
        stack = [node]
        while stack:
            current = stack.pop()
            if isinstance(current, exp.Query):
                self.query(current, scope, scope.ctes)
            elif isinstance(current, exp.Column):
                if not current._meta or "column" not in current._meta:
                    self._resolve_column(current, scope, outputs)
            else:
                stack.extend(current.iter_expressions())

    def _resolve_column(self, column: exp.Column, scope: Scope, outputs) -> None:
        name = column.this
        if isinstance(name, exp.Star):
            raise self.where.error("'t.*' can only be a select item", column)
        if column.args.get("table") is not None:
            source = self._qualified_sources(column, scope)
            found = _find(source.columns, name)
            if found is None:
                raise self.where.error(f"Unknown column '{name.this}'", column)
            column.replace(self._column(source, found, column))
            return
        for current in scope.chain():
            merged = current.merged.get(name.this.lower())
            if merged is not None and same(name, merged):
                column.replace(_placed(exp.column(merged, quoted=True), column))
                return
            found = [(s, c) for s in current.sources if (c := _find(s.columns, name))]
            if len(found) > 1:
                raise self.where.error(f"Ambiguous column '{name.this}'", column)
            if found:
                column.replace(self._column(*found[0], column))
                return
        output = _find(outputs or [], name)
        if output is not None:
            column.replace(_marked(exp.column(output.name, quoted=True), output, column))
            return
        raise self.where.error(f"Unknown column '{name.this}'", column)

    def _order(
        self, node: exp.Expression, scope: Scope | None, outputs: list[OutputColumn]
    ) -> None:
        order = node.args.get("order")
        for ordered in order.expressions if order else []:
            key = ordered.this
            if isinstance(key, exp.Literal) and not key.is_string:
                if not (key.this.isdigit() and 1 <= int(key.this) <= len(outputs)):
                    raise self.where.error(f"ORDER BY {key.this}: no such result column", key)
                continue
            if isinstance(key, exp.Column) and key.args.get("table") is None:
                output = _find(outputs, key.this)
                if output is not None:
                    key.replace(_marked(exp.column(output.name, quoted=True), output, key))
                    continue
            if scope is None:
                raise self.where.error("ORDER BY of a set operation names a result column", key)
            self.expressions(key, scope)

    def _name(self, items: list[exp.Expression]) -> list[OutputColumn]:
        """Unique names for the select items, written into the SQL as their aliases."""
        outputs: list[OutputColumn] = []
        taken: set[str] = set()
        for item in items:
            inner = item.this if isinstance(item, exp.Alias) else item
            marked = inner._meta.get("column") if inner._meta else None
            source = marked.source if marked else None
            xtype = marked.xtype if marked else None
            if isinstance(item, exp.Alias):
                base = item.alias
            elif marked is not None:
                base = marked.name
            elif isinstance(inner, exp.Anonymous):
                base = inner.name.lower()
            elif isinstance(inner, exp.Func):
                base = inner.key
            else:
                base = "expr"
            if isinstance(inner, exp.Anonymous):
                xtype = GEOMETRY_XTYPES.get(inner.name.upper())
            name, number = base, 1
            while name.lower() in taken:
                number += 1
                name = f"{base}_{number}"
            taken.add(name.lower())
            outputs.append(OutputColumn(name, source, xtype))
            alias = exp.alias_(
                inner.pop() if isinstance(item, exp.Alias) else item.copy(), name, quoted=True
            )
            item.replace(alias)
        return outputs


def _marked(node: exp.Column, column: OutputColumn, written: exp.Expression | None = None):
    """A resolved column, carrying what it repeats (for result metadata) and where it was
    written (for errors found later)."""
    node.meta["column"] = column
    start = start_of(written) if written is not None else None
    if start is not None:
        node.meta["start"] = start
    return node


def _placed(node: exp.Expression, written: exp.Expression) -> exp.Expression:
    start = start_of(written)
    if start is not None:
        node.meta["start"] = start
    return node
