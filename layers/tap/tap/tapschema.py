"""TAP_SCHEMA (TAP 1.1 §4) from a catalogue: its five tables as rows, and as DuckDB tables.

TAP_SCHEMA is queryable like any table, so it is a schema of the catalogue and describes
itself (its columns std, its foreign keys between its tables); ``create_tap_schema`` puts it
into a DuckDB connection as "TAP_SCHEMA"."tables" and so on, where ADQL reads it.
"""

from __future__ import annotations

from typing import Any

import duckdb

from .adql.names import adql_name
from .metadata import (
    Catalogue,
    Column,
    ForeignKey,
    Schema,
    Table,
    quote_identifier,
    sql_literal,
)

# TAP 1.1 §4: TAP_SCHEMA's tables and columns, which it must describe too.
_TAP_SCHEMA: list[tuple[str, str, list[tuple[str, str, str]]]] = [
    (
        "schemas",
        "The schemas of this service.",
        [
            ("schema_name", "VARCHAR", "schema name, as used in queries"),
            ("utype", "VARCHAR", "utype of the schema"),
            ("description", "VARCHAR", "description of the schema"),
            ("schema_index", "INTEGER", "recommended order of display"),
        ],
    ),
    (
        "tables",
        "The tables of this service.",
        [
            ("schema_name", "VARCHAR", "the schema the table belongs to"),
            ("table_name", "VARCHAR", "table name, qualified by its schema, as used in queries"),
            ("table_type", "VARCHAR", "table or view"),
            ("utype", "VARCHAR", "utype of the table"),
            ("description", "VARCHAR", "description of the table"),
            ("table_index", "INTEGER", "recommended order of display"),
        ],
    ),
    (
        "columns",
        "The columns of this service's tables.",
        [
            ("table_name", "VARCHAR", "the table the column belongs to"),
            ("column_name", "VARCHAR", "column name, as used in queries"),
            ("datatype", "VARCHAR", "VOTable datatype of the column"),
            ("arraysize", "VARCHAR", "VOTable arraysize of the column"),
            ("xtype", "VARCHAR", "VOTable xtype of the column"),
            ("size", "INTEGER", "fixed length of the column (deprecated, see arraysize)"),
            ("description", "VARCHAR", "description of the column"),
            ("utype", "VARCHAR", "utype of the column"),
            ("unit", "VARCHAR", "unit of the column's values (VOUnit)"),
            ("ucd", "VARCHAR", "UCD of the column"),
            ("indexed", "INTEGER", "1 if the column is indexed, 0 otherwise"),
            ("principal", "INTEGER", "1 if the column is principal, 0 otherwise"),
            ("std", "INTEGER", "1 if a standard defines the column, 0 otherwise"),
            ("column_index", "INTEGER", "recommended order of display"),
        ],
    ),
    (
        "keys",
        "The foreign keys between this service's tables.",
        [
            ("key_id", "VARCHAR", "unique identifier of the key"),
            ("from_table", "VARCHAR", "the table with the foreign key"),
            ("target_table", "VARCHAR", "the table with the primary key"),
            ("description", "VARCHAR", "description of the key"),
            ("utype", "VARCHAR", "utype of the key"),
        ],
    ),
    (
        "key_columns",
        "The columns of the foreign keys.",
        [
            ("key_id", "VARCHAR", "the key (TAP_SCHEMA.keys.key_id)"),
            ("from_column", "VARCHAR", "column of the key's from_table"),
            ("target_column", "VARCHAR", "column of the key's target_table"),
        ],
    ),
]
_TAP_SCHEMA_KEYS = [
    ("tables", "schemas", "schema_name", "schema_name"),
    ("columns", "tables", "table_name", "table_name"),
    ("keys", "tables", "from_table", "table_name"),
    ("keys", "tables", "target_table", "table_name"),
    ("key_columns", "keys", "key_id", "key_id"),
]


def tap_schema_schema() -> Schema:
    """TAP_SCHEMA as a schema of the catalogue: it is queryable, so it describes itself."""
    principal = {"schema_name", "table_name", "column_name", "key_id", "description"}
    tables = [
        Table(
            f"TAP_SCHEMA.{name}",
            None,
            [
                Column.from_sql(
                    column,
                    sql_type,
                    description=text,
                    std=True,
                    principal=(column in principal or name == "key_columns"),
                )
                for column, sql_type, text in columns
            ],
            description,
        )
        for name, description, columns in _TAP_SCHEMA
    ]
    by_name = {table.name.split(".")[1]: table for table in tables}
    for n, (source, target, from_column, target_column) in enumerate(_TAP_SCHEMA_KEYS, 1):
        by_name[source].foreign_keys.append(
            ForeignKey(
                f"TAP_SCHEMA.{target}",
                [(from_column, target_column)],
                f"TAP_SCHEMA.{source}.{from_column} refers to TAP_SCHEMA.{target}",
                key_id=f"TAP_SCHEMA-{n}",
            )
        )
    return Schema("TAP_SCHEMA", tables, "The service's own description (TAP 1.1).")


def tap_schema_rows(catalogue: Catalogue) -> dict[str, list[tuple[Any, ...]]]:
    """TAP_SCHEMA's five tables as rows, in the order of its columns above (TAP 1.1 §4)."""
    rows: dict[str, list[tuple[Any, ...]]] = {name: [] for name, _, _ in _TAP_SCHEMA}
    table_index = 0
    for schema_index, schema in enumerate(catalogue.schemas):
        rows["schemas"].append((schema.name, schema.utype, schema.description, schema_index))
        for table in schema.tables:
            table_index += 1
            rows["tables"].append(
                (
                    schema.name,
                    table.name,
                    table.table_type,
                    table.utype,
                    table.description,
                    table_index,
                )
            )
            for column_index, c in enumerate(table.columns):
                size = int(c.arraysize) if c.arraysize and c.arraysize.isdigit() else None
                rows["columns"].append(
                    (
                        table.name,
                        adql_name(c.name),
                        c.datatype,
                        c.arraysize,
                        c.xtype,
                        size,
                        c.description,
                        c.utype,
                        c.unit,
                        c.ucd,
                        int(c.indexed),
                        int(c.principal),
                        int(c.std),
                        column_index,
                    )
                )
            for key in table.foreign_keys:
                rows["keys"].append(
                    (key.key_id, table.name, key.target_table, key.description, key.utype)
                )
                rows["key_columns"].extend(
                    (key.key_id, adql_name(a), adql_name(b)) for a, b in key.columns
                )
    return rows


def create_tap_schema(con: duckdb.DuckDBPyConnection, catalogue: Catalogue) -> None:
    """TAP_SCHEMA's tables in ``con`` as "TAP_SCHEMA"."tables" and so on, for queries to read.

    The rows go in as one literal VALUES list per table: DuckDB binds parameters slowly
    (about 0.4 ms a row), and these are a few hundred rows at each cold start."""
    con.execute('CREATE SCHEMA IF NOT EXISTS "TAP_SCHEMA"')
    rows = tap_schema_rows(catalogue)
    for table in tap_schema_schema().tables:
        short = table.name.split(".")[1]
        qualified = f'"TAP_SCHEMA".{quote_identifier(short)}'
        definition = ", ".join(f"{quote_identifier(c.name)} {c.sql_type}" for c in table.columns)
        con.execute(f"CREATE OR REPLACE TABLE {qualified} ({definition})")
        if rows[short]:
            values = ", ".join(
                "(" + ", ".join(sql_literal(value) for value in row) + ")" for row in rows[short]
            )
            con.execute(f"INSERT INTO {qualified} VALUES {values}")
