"""ADQL as a sqlglot dialect: the few tokenizer and parser tweaks sqlglot's generic SQL needs.

sqlglot has no ADQL dialect. Its generic dialect is close: ADQL is SQL-92 plus TOP, the
geometry functions and a few math names. What differs is said here, once:

- ``TOP n`` is a keyword (the generic parser already knows where TOP goes, as for T-SQL).
- The geometry functions, and the ADQL names the generic parser would turn into something
  else, are read as plain calls (``exp.Anonymous`` named in upper case) so the morphers see
  ADQL's names, not another dialect's guesses (sqlglot reads ``CONTAINS`` as string
  containment, for one).
- NULL ordering is PostgreSQL's, the reference most TAP users know (DaCHS and most services
  run on it): NULLs sort as if larger than any value, last ascending and first descending.
  DuckDB puts them last both ways, so the DuckDB SQL says ``NULLS FIRST`` on DESC keys only.
"""

from __future__ import annotations

from typing import ClassVar

from sqlglot import exp, parser, tokens
from sqlglot.dialects.dialect import Dialect
from sqlglot.errors import ParseError, TokenError
from sqlglot.tokens import TokenType

from .errors import AdqlError, Located, place

# ADQL's functions (but the aggregates, whose COUNT(*) and DISTINCT sqlglot reads well): kept
# as calls with their ADQL name, for the morphers' table (morph.FUNCTIONS) to translate.
PLAIN_CALLS = (
    "ABS",
    "CEILING",
    "DEGREES",
    "EXP",
    "FLOOR",
    "LOG",
    "LOG10",
    "MOD",
    "PI",
    "POWER",
    "RADIANS",
    "SQRT",
    "RAND",
    "ROUND",
    "TRUNCATE",
    "SIN",
    "COS",
    "TAN",
    "ASIN",
    "ACOS",
    "ATAN",
    "ATAN2",
    "COT",
    "LOWER",
    "UPPER",
    "COALESCE",
    "NULLIF",
    "POINT",
    "CIRCLE",
    "BOX",
    "POLYGON",
    "CONTAINS",
    "INTERSECTS",
    "DISTANCE",
    "COORD1",
    "COORD2",
    "AREA",
    "CENTROID",
    "REGION",
    "COORDSYS",
    "IN_UNIT",
)

# SQL that DuckDB (or sqlglot's generic reader) accepts but ADQL does not have; refused with
# the ADQL way of saying it rather than quietly given DuckDB's meaning.
NOT_ADQL_TOKENS = {
    TokenType.DCOLON: "'::' casts are not ADQL: use CAST(x AS type)",
    TokenType.MOD: "'%' is not ADQL: use MOD(x, y)",
    TokenType.PARAMETER: "Parameters are not ADQL",
    TokenType.PLACEHOLDER: "Placeholders are not ADQL",
    TokenType.L_BRACKET: "'[' is not ADQL",
    TokenType.L_BRACE: "'{' is not ADQL",
    TokenType.ARROW: "'->' is not ADQL",
    TokenType.DARROW: "'->>' is not ADQL",
    TokenType.DSTAR: "'**' is not ADQL: use POWER(x, y)",
    TokenType.CARET: "'^' is not ADQL: use POWER(x, y)",
    TokenType.DOLLAR: "'$' is not ADQL",
    TokenType.LIMIT: "LIMIT is not ADQL: use SELECT TOP n",
}


def _plain(name: str):
    return lambda args: exp.Anonymous(this=name, expressions=args)


class ADQL(Dialect):
    """ADQL 2.0/2.1 for sqlglot's reader; never used to write SQL (DuckDB's dialect does)."""

    NULL_ORDERING = "nulls_are_large"

    class Tokenizer(tokens.Tokenizer):
        KEYWORDS: ClassVar[dict] = {**tokens.Tokenizer.KEYWORDS, "TOP": TokenType.TOP}
        # ADQL comments are '--' only; '/* */' and '#' are other dialects'.
        COMMENTS: ClassVar[list] = ["--"]

    class Parser(parser.Parser):
        FUNCTIONS: ClassVar[dict] = {
            **parser.Parser.FUNCTIONS,
            **{name: _plain(name) for name in PLAIN_CALLS},
        }
        FUNCTION_PARSERS: ClassVar[dict] = {
            name: how
            for name, how in parser.Parser.FUNCTION_PARSERS.items()
            if name not in PLAIN_CALLS
        }


_DIALECT = ADQL()


def parse(query: str) -> exp.Query:
    """The query's one statement, or an AdqlError placed where reading stopped."""
    where = Located(query)
    try:
        found = _DIALECT.tokenize(query)
    except TokenError as error:
        raise AdqlError(f"Cannot read the query: {error}") from None
    if not found:
        raise AdqlError("The query is empty")
    if found[0].token_type not in (TokenType.SELECT, TokenType.WITH, TokenType.L_PAREN):
        word = found[0].text.upper()
        raise AdqlError(
            f"Only SELECT queries are allowed, not {word}", *place(query, found[0].start)
        )
    for index, token in enumerate(found):
        if token.token_type in NOT_ADQL_TOKENS:
            raise AdqlError(NOT_ADQL_TOKENS[token.token_type], *place(query, token.start))
        if token.token_type == TokenType.SEMICOLON and index + 1 < len(found):
            following = found[index + 1]
            message = "Only one statement is allowed; another begins"
            raise AdqlError(message, *place(query, following.start))
    try:
        statements = [s for s in _DIALECT.parser().parse(found, query) if s is not None]
    except ParseError as error:
        first = error.errors[0] if error.errors else {}
        line, col = first.get("line"), first.get("col")
        text = first.get("highlight") or ""
        message = f"Syntax error near '{text}'" if text else "Syntax error"
        column = col - len(text) + 1 if col is not None and text else col
        raise AdqlError(message, line, column) from None
    if len(statements) != 1 or not isinstance(statements[0], exp.Query):
        raise where.error("Only one SELECT query is allowed", statements[0] if statements else None)
    return statements[0]
