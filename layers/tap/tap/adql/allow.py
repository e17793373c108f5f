"""What a query may contain: the security boundary between a user's ADQL and DuckDB.

The query runs in the worker with the function's AWS role, and DuckDB can read files and URLs
(``read_csv('/etc/passwd')``, ``read_parquet('s3://...')``), attach databases, load extensions
and change settings. So nothing reaches DuckDB that is not on these lists: a query is one
SELECT (checked while parsing), each node of its tree is of a type listed here with only the
listed parts set, every function is ADQL's or a user-defined function the caller whitelists,
and every table is one the resolver serves (checked while resolving names). Whatever sqlglot
can read beyond ADQL (DuckDB's joins, lambdas, window functions, QUALIFY, ...) is refused here
by not being listed, rather than by a list of dangers that would always be one short.
"""

from __future__ import annotations

from collections.abc import Container

from sqlglot import exp

from .errors import Located

_BARE: frozenset[str] = frozenset()
_QUERY = frozenset({"with_", "expressions", "distinct", "from_", "joins", "where", "group"})
_QUERY |= {"having", "order", "limit", "offset"}
_SET_OPERATION = frozenset({"with_", "this", "expression", "distinct", "order", "limit", "offset"})
_BINARY = frozenset({"this", "expression"})

# Node type -> the parts it may have set. Anything else is refused.
ALLOWED: dict[type[exp.Expression], frozenset[str]] = {
    exp.Select: _QUERY,
    exp.Union: _SET_OPERATION,
    exp.Intersect: _SET_OPERATION,
    exp.Except: _SET_OPERATION,
    exp.Subquery: frozenset({"this", "alias"}),
    exp.With: frozenset({"expressions"}),
    exp.CTE: frozenset({"this", "alias"}),
    exp.From: frozenset({"this"}),
    exp.Join: frozenset({"this", "on", "side", "kind", "using", "method"}),
    exp.Table: frozenset({"this", "alias", "db"}),
    exp.TableAlias: frozenset({"this"}),
    exp.Identifier: frozenset({"this", "quoted"}),
    exp.Column: frozenset({"this", "table", "db"}),
    exp.Star: _BARE,
    exp.Alias: frozenset({"this", "alias"}),
    exp.Where: frozenset({"this"}),
    exp.Group: frozenset({"expressions"}),
    exp.Having: frozenset({"this"}),
    exp.Order: frozenset({"expressions"}),
    exp.Ordered: frozenset({"this", "desc", "nulls_first"}),
    exp.Limit: frozenset({"expression"}),
    exp.Offset: frozenset({"expression"}),
    exp.Distinct: frozenset({"expressions"}),  # COUNT(DISTINCT x)
    exp.Literal: frozenset({"this", "is_string"}),
    exp.Null: _BARE,
    exp.Boolean: frozenset({"this"}),
    exp.Paren: frozenset({"this"}),
    exp.Neg: frozenset({"this"}),
    exp.Not: frozenset({"this"}),
    exp.And: _BINARY,
    exp.Or: _BINARY,
    exp.EQ: _BINARY,
    exp.NEQ: _BINARY,
    exp.GT: _BINARY,
    exp.GTE: _BINARY,
    exp.LT: _BINARY,
    exp.LTE: _BINARY,
    exp.Is: _BINARY,
    exp.Like: _BINARY,
    exp.ILike: _BINARY,
    exp.Between: frozenset({"this", "low", "high"}),
    exp.In: frozenset({"this", "expressions", "query"}),
    exp.Exists: frozenset({"this"}),
    exp.Add: _BINARY,
    exp.Sub: _BINARY,
    exp.Mul: _BINARY,
    exp.Div: frozenset({"this", "expression", "typed", "safe"}),
    exp.DPipe: frozenset({"this", "expression", "safe"}),
    exp.Case: frozenset({"this", "ifs", "default"}),
    exp.If: frozenset({"this", "true", "false"}),
    exp.Cast: frozenset({"this", "to"}),
    exp.DataType: frozenset({"this", "expressions", "nested"}),
    exp.DataTypeParam: frozenset({"this"}),
    exp.Count: frozenset({"this", "big_int"}),
    exp.Sum: frozenset({"this"}),
    exp.Avg: frozenset({"this"}),
    exp.Min: frozenset({"this"}),
    exp.Max: frozenset({"this"}),
    exp.Anonymous: frozenset({"this", "expressions"}),
}

# ADQL 2.1's CAST targets (section 2.4.4), as sqlglot names them.
CAST_TYPES = {
    exp.DType.SMALLINT,
    exp.DType.INT,
    exp.DType.BIGINT,
    exp.DType.FLOAT,
    exp.DType.DOUBLE,
    exp.DType.CHAR,
    exp.DType.VARCHAR,
    exp.DType.TIMESTAMP,
}
JOIN_KINDS = {"", "INNER", "OUTER", "CROSS"}
JOIN_SIDES = {"", "LEFT", "RIGHT", "FULL"}


def _describe(node: exp.Expression) -> str:
    if isinstance(node, exp.Func):
        return f"The function {node.sql_name()}"
    return f"{type(node).__name__.upper()} ('{node.sql()[:40]}')"


def check(tree: exp.Expression, functions: Container[str], where: Located) -> None:
    """Raise an AdqlError naming the first thing in ``tree`` that is not ADQL we can run."""
    for node in tree.walk():
        allowed = ALLOWED.get(type(node))
        if allowed is None:
            raise where.error(f"{_describe(node)} is not ADQL or not supported", node)
        extra = [k for k, v in node.args.items() if k not in allowed and v not in (None, False, [])]
        if extra:
            raise where.error(f"{_describe(node)} with {extra[0].upper()} is not ADQL", node)
        _check_details(node, functions, where)


def _check_details(node: exp.Expression, functions: Container[str], where: Located) -> None:
    if isinstance(node, exp.Anonymous) and node.name.upper() not in functions:
        raise where.error(f"Unknown function '{node.name}'", node)
    if isinstance(node, exp.Cast) and node.to.this not in CAST_TYPES:
        raise where.error(f"CAST to {node.to.sql()} is not ADQL", node)
    if isinstance(node, exp.Join):
        method = (node.args.get("method") or "").upper()
        kind, side = (node.args.get("kind") or "").upper(), (node.args.get("side") or "").upper()
        if method not in ("", "NATURAL") or kind not in JOIN_KINDS or side not in JOIN_SIDES:
            raise where.error(
                f"{' '.join(w for w in (method, side, kind) if w)} JOIN is not ADQL", node
            )
    if isinstance(node, exp.Limit | exp.Offset):
        amount = node.expression
        if not (isinstance(amount, exp.Literal) and not amount.is_string and amount.this.isdigit()):
            word = "TOP" if isinstance(node, exp.Limit) else "OFFSET"
            raise where.error(f"{word} takes a whole number", node)
    if isinstance(node, exp.Table) and not isinstance(node.this, exp.Identifier):
        raise where.error("A table must be named (functions are not tables)", node)
