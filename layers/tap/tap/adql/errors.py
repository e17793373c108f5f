"""The one error a query that cannot run raises: what is wrong, and where in the query."""

from __future__ import annotations

from sqlglot import exp


class AdqlError(Exception):
    """A query that cannot run; ``str()`` is the sentence a TAP error document carries."""

    def __init__(self, message: str, line: int | None = None, column: int | None = None):
        self.message = message
        self.line = line
        self.column = column
        where = f" at line {line}, column {column}" if line is not None else ""
        super().__init__(f"{message}{where}.")


def place(query: str, offset: int) -> tuple[int, int]:
    """Line and column (both from 1) of a character offset, as a user counts them."""
    line = query.count("\n", 0, offset) + 1
    return line, offset - (query.rfind("\n", 0, offset) + 1) + 1


def start_of(node: exp.Expression) -> int | None:
    """The smallest source offset sqlglot recorded in ``node`` or below it, if any."""
    starts = [n.meta["start"] for n in node.walk() if n._meta and "start" in n._meta]
    return min(starts) if starts else None


class Located:
    """Builds AdqlErrors placed at a node of one query (the query's text is needed to count)."""

    def __init__(self, query: str):
        self.query = query

    def error(self, message: str, node: exp.Expression | None = None) -> AdqlError:
        offset = start_of(node) if node is not None else None
        if offset is None:
            return AdqlError(message)
        return AdqlError(message, *place(self.query, offset))
