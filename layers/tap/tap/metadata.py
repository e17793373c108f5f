"""The catalogue's metadata file: which tables TAP serves, where their Parquet is, what it means.

A data centre describes its schemas, tables and columns in one YAML file
(``local/hipparcos.yaml`` is a whole one)::

    schemas:
      - name: hipparcos                      # the schema, as ADQL names it
        description: ...
        tables:
          - name: main                       # ADQL: hipparcos.main
            location: hipparcos/main/        # Parquet prefix (or one .parquet) under the root
            format: parquet                  # or hats: location is a HATS catalogue (tap.hats)
            big: false                       # a full scan is said in jobInfo (HATS: by rows)
            description: ...
            utype: ...                       # optional
            columns:                         # any subset, in any order
              - {name: ra, unit: deg, ucd: pos.eq.ra;meta.main, description: ...,
                 principal: true, indexed: false, std: false,
                 utype: ..., datatype: double, arraysize: ..., xtype: ...}  # overrides
            foreign_keys:
              - {target: hipparcos.other, columns: {hip: hip}, description: ...}

Loading merges the file with the Parquet schema read by DuckDB: the Parquet decides which
columns exist, their order and types, the file adds descriptions, units, UCDs, utypes, flags
and foreign keys. A column the file describes but the Parquet lacks is an error at load,
naming it, so a catalogue never advertises what a query cannot read; so is an unknown key (a
misspelt ``ucds`` would otherwise vanish). ``tap.tapschema`` turns the result into TAP_SCHEMA.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .locations import check, joined

if TYPE_CHECKING:  # DuckDB and PyYAML load only where a catalogue is read: the query
    import duckdb  # functions (tap.votable's error document needs neither)

VOTABLE_DATATYPES = frozenset(
    {
        "boolean",
        "bit",
        "unsignedByte",
        "short",
        "int",
        "long",
        "char",
        "unicodeChar",
        "float",
        "double",
        "floatComplex",
        "doubleComplex",
    }
)

# DuckDB's scalar types as VOTable (datatype, arraysize, xtype). Types VOTable cannot hold
# exactly (UBIGINT, HUGEINT, intervals, structures) become text, as the VOParquet note advises.
_SCALARS: dict[str, tuple[str, str | None, str | None]] = {
    "BOOLEAN": ("boolean", None, None),
    "TINYINT": ("short", None, None),
    "UTINYINT": ("short", None, None),
    "SMALLINT": ("short", None, None),
    "USMALLINT": ("int", None, None),
    "INTEGER": ("int", None, None),
    "UINTEGER": ("long", None, None),
    "BIGINT": ("long", None, None),
    "FLOAT": ("float", None, None),
    "DOUBLE": ("double", None, None),
    "VARCHAR": ("char", "*", None),
    "DATE": ("char", "*", "timestamp"),
    "TIMESTAMP": ("char", "*", "timestamp"),
    "TIMESTAMP_S": ("char", "*", "timestamp"),
    "TIMESTAMP_MS": ("char", "*", "timestamp"),
    "TIMESTAMP_NS": ("char", "*", "timestamp"),
    "TIMESTAMP WITH TIME ZONE": ("char", "*", "timestamp"),
    "UUID": ("char", "36", None),
    "BLOB": ("unsignedByte", "*", None),
}
_ARRAY = re.compile(r"^(?P<element>[A-Z ]+)\[(?P<size>\d*)\]$")
_NUMERIC = frozenset({"boolean", "short", "int", "long", "float", "double"})


class MetadataError(ValueError):
    """The metadata file and the Parquet disagree, or the file is malformed: a sentence naming
    the place."""


def votable_type(sql_type: str) -> tuple[str, str | None, str | None]:
    """DuckDB's type as VOTable's (datatype, arraysize, xtype); TAP 1.1's TAP_SCHEMA uses the
    same three. Lists and arrays of numbers keep their element type (DOUBLE[3]: double, 3)."""
    sql_type = sql_type.upper()
    if sql_type in _SCALARS:
        return _SCALARS[sql_type]
    if sql_type.startswith("DECIMAL"):
        return ("double", None, None)
    if match := _ARRAY.match(sql_type):
        element = _SCALARS.get(match["element"].strip())
        if element and element[0] in _NUMERIC:
            return (element[0], match["size"] or "*", None)
    return ("char", "*", None)


@dataclass
class Column:
    """A column as VOTable and TAP_SCHEMA describe it; ``sql_type`` is DuckDB's type."""

    name: str
    datatype: str = "char"
    arraysize: str | None = None
    xtype: str | None = None
    unit: str | None = None
    ucd: str | None = None
    utype: str | None = None
    description: str | None = None
    principal: bool = False
    indexed: bool = False
    std: bool = False
    sql_type: str | None = None

    @classmethod
    def from_sql(cls, name: str, sql_type: str, **metadata: Any) -> Column:
        """A column of DuckDB's type, its VOTable type derived unless ``metadata`` sets it."""
        datatype, arraysize, xtype = votable_type(sql_type)
        if "datatype" in metadata:
            # an override of the datatype brings its own arraysize and xtype, or none
            arraysize = xtype = None
            if metadata["datatype"] in ("char", "unicodeChar"):
                arraysize = "*"
        defaults = {"datatype": datatype, "arraysize": arraysize, "xtype": xtype}
        return cls(name=name, sql_type=sql_type, **{**defaults, **metadata})


@dataclass
class ForeignKey:
    """Columns of one table referring to another's (TAP_SCHEMA.keys and key_columns)."""

    target_table: str
    columns: list[tuple[str, str]]
    description: str | None = None
    utype: str | None = None
    key_id: str = ""


@dataclass
class Table:
    """A table as ADQL names it (``schema.table``) and where its Parquet files are: a prefix
    relative to the catalogue's root (None for tables that are not Parquet: TAP_SCHEMA's)."""

    name: str
    location: str | None
    columns: list[Column]
    description: str | None = None
    utype: str | None = None
    table_type: str = "table"
    foreign_keys: list[ForeignKey] = field(default_factory=list)
    hats: Any = None  # a tap.hats.HatsCatalogue when the location is one
    big: bool | None = None  # as catalogue.yaml says; None: by the HATS row count

    @property
    def is_big(self) -> bool:
        """Whether reading all of it is worth a word in the job's jobInfo."""
        if self.big is not None:
            return self.big
        rows = self.hats.rows if self.hats is not None else None
        return rows is not None and rows >= BIG_ROWS

    @property
    def schema_name(self) -> str:
        return self.name.split(".", 1)[0]

    def column(self, name: str) -> Column:
        """The column of that name, compared as ADQL's regular identifiers are: any case."""
        for column in self.columns:
            if column.name.lower() == name.lower():
                return column
        raise KeyError(f"table {self.name} has no column {name}")


@dataclass
class Schema:
    name: str
    tables: list[Table]
    description: str | None = None
    utype: str | None = None


@dataclass
class Catalogue:
    """Every schema TAP serves, TAP_SCHEMA included, and the root their locations are under
    (a directory or an ``s3://bucket/prefix``)."""

    root: str
    schemas: list[Schema]

    def tables(self) -> list[Table]:
        return [table for schema in self.schemas for table in schema.tables]

    def table(self, name: str) -> Table:
        """The table of that qualified name, in any case (as ADQL compares regular names)."""
        for table in self.tables():
            if table.name.lower() == name.lower():
                return table
        raise KeyError(f"no table {name}")

    def parquet_glob(self, table: Table) -> str:
        """What DuckDB's ``read_parquet`` reads for the table: the one file the location names,
        or every Parquet file under the prefix."""
        if table.location is None:
            raise ValueError(f"table {table.name} is not kept in Parquet")
        return parquet_glob(self.root, table.location)


def parquet_glob(root: str, location: str) -> str:
    path = joined(root, location)
    return path if path.endswith(".parquet") else f"{path}/**/*.parquet"


_SCHEMA_KEYS = {"name", "description", "utype", "tables"}
_TABLE_KEYS = {"name", "description", "utype", "location", "format", "big", "columns",
               "foreign_keys"}  # fmt: skip
BIG_ROWS = 10_000_000  # a HATS catalogue this large is big unless its entry says otherwise
_COLUMN_KEYS = {
    "name",
    "description",
    "unit",
    "ucd",
    "utype",
    "datatype",
    "arraysize",
    "xtype",
    "principal",
    "indexed",
    "std",
}
_KEY_KEYS = {"target", "columns", "description", "utype"}


def load_catalogue(
    path: str | Path, root: str | None = None, con: duckdb.DuckDBPyConnection | None = None
) -> Catalogue:
    """The catalogue the metadata file at ``path`` describes, merged with its Parquet.

    ``root`` is where the locations are (default: the file's directory); ``con`` reads the
    Parquet schemas (pass one that can reach S3 for an ``s3://`` root)."""
    import yaml

    path = Path(path)
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise MetadataError(f"{path} is not YAML: {exc}") from None
    return parse_catalogue(document, root if root is not None else str(path.parent), con)


def parse_catalogue(
    document: Any, root: str, con: duckdb.DuckDBPyConnection | None = None,
    elsewhere: Sequence[str] = (),
) -> Catalogue:  # fmt: skip
    """The catalogue from the metadata file's parsed YAML (see ``load_catalogue``); tables may
    be under ``root`` or the prefixes ``elsewhere`` (tap.locations)."""
    if not isinstance(document, dict) or not isinstance(document.get("schemas"), list):
        raise MetadataError("the metadata file must be a mapping with a list 'schemas'")
    _check_keys(document, {"schemas"}, "the metadata file")
    import duckdb

    con = con if con is not None else duckdb.connect()
    schemas = []
    for entry in document["schemas"]:
        where = f"schema {_name(entry, 'a schema')}"
        _check_keys(entry, _SCHEMA_KEYS, where)
        tables = [
            _load_table(table, entry["name"], root, con, elsewhere)
            for table in _list(entry, "tables", where)
        ]
        schemas.append(Schema(entry["name"], tables, entry.get("description"), entry.get("utype")))
    from .tapschema import tap_schema_schema  # it builds on this module's classes

    catalogue = Catalogue(root, [*schemas, tap_schema_schema()])
    _check_names(catalogue)
    _check_foreign_keys(catalogue)
    return catalogue


def _load_table(
    entry: Any, schema: str, root: str, con: duckdb.DuckDBPyConnection, elsewhere: Sequence[str]
) -> Table:
    import duckdb

    name = f"{schema}.{_name(entry, f'a table of schema {schema}')}"
    _check_keys(entry, _TABLE_KEYS, f"table {name}")
    if not isinstance(entry.get("location"), str):
        raise MetadataError(f"table {name} has no location (a Parquet prefix under the root)")
    check(name, entry["location"], root, elsewhere)
    hats = None
    if entry.get("format", "parquet") == "hats":
        from .hats import read_hats  # it builds on this module

        hats = read_hats(con, joined(root, entry["location"]), name)
        glob = hats.schema_source
    elif entry.get("format", "parquet") == "parquet":
        glob = parquet_glob(root, entry["location"])
    else:
        raise MetadataError(f"table {name}: format {entry['format']} is not parquet or hats")
    options = ", hive_partitioning = false" if hats else ""  # HATS's Norder=K is no column
    try:
        described = con.execute(
            f"DESCRIBE SELECT * FROM read_parquet({sql_literal(glob)}{options})"
        )
        parquet = [(row[0], row[1]) for row in described.fetchall()]
    except duckdb.Error as exc:
        if storage_busy(exc):
            raise  # not the table's fault: the engine says StorageBusy
        first_line = str(exc).splitlines()[0]
        raise MetadataError(
            f"table {name}: cannot read the Parquet at {glob}: {first_line}"
        ) from None
    by_name = {column_name.lower(): (column_name, sql_type) for column_name, sql_type in parquet}
    described_columns: dict[str, dict[str, Any]] = {}
    for column in _list(entry, "columns", f"table {name}"):
        where = f"column {_name(column, f'a column of table {name}')} of table {name}"
        _check_keys(column, _COLUMN_KEYS, where)
        if column["name"].lower() not in by_name:
            raise MetadataError(
                f"column {column['name']} of table {name} is not in its Parquet at {glob}"
            )
        if column.get("datatype", "char") not in VOTABLE_DATATYPES:
            raise MetadataError(f"{where}: {column['datatype']} is not a VOTable datatype")
        described_columns[column["name"].lower()] = column
    columns = []
    for column_name, sql_type in parquet:
        metadata = dict(described_columns.get(column_name.lower(), {}))
        metadata.pop("name", None)
        for flag in ("principal", "indexed", "std"):
            if flag in metadata:
                metadata[flag] = bool(metadata[flag])
        if metadata.get("arraysize") is not None:
            metadata["arraysize"] = str(metadata["arraysize"])
        columns.append(Column.from_sql(column_name, sql_type, **metadata))
    keys = [_foreign_key(key, name) for key in _list(entry, "foreign_keys", f"table {name}")]
    return Table(
        name,
        entry["location"],
        columns,
        entry.get("description"),
        entry.get("utype"),
        foreign_keys=keys,
        hats=hats,
        big=None if entry.get("big") is None else bool(entry["big"]),
    )


def _foreign_key(entry: Any, table: str) -> ForeignKey:
    where = f"a foreign key of table {table}"
    if not isinstance(entry, dict) or not isinstance(entry.get("target"), str):
        raise MetadataError(f"{where} has no target (the table it refers to)")
    _check_keys(entry, _KEY_KEYS, where)
    pairs = entry.get("columns")
    if isinstance(pairs, dict):
        pairs = list(pairs.items())
    if not pairs or not all(isinstance(pair, list | tuple) and len(pair) == 2 for pair in pairs):
        raise MetadataError(
            f"{where} needs columns: a mapping or a list of [from, target] column pairs"
        )
    return ForeignKey(
        entry["target"],
        [(str(a), str(b)) for a, b in pairs],
        entry.get("description"),
        entry.get("utype"),
    )


def _check_names(catalogue: Catalogue) -> None:
    seen: set[str] = set()
    for table in catalogue.tables():
        if table.name.lower() in seen:
            raise MetadataError(f"table {table.name} is described twice")
        seen.add(table.name.lower())


def _check_foreign_keys(catalogue: Catalogue) -> None:
    """Every key's columns exist on both sides; ids are unique (TAP_SCHEMA.keys' key)."""
    ids: set[str] = set()
    for table in catalogue.tables():
        for key in table.foreign_keys:
            try:
                target = catalogue.table(key.target_table)
            except KeyError:
                raise MetadataError(
                    f"a foreign key of table {table.name} refers to {key.target_table}, "
                    "which the catalogue does not have"
                ) from None
            try:
                for from_column, target_column in key.columns:
                    table.column(from_column)
                    target.column(target_column)
            except KeyError as exc:
                raise MetadataError(f"a foreign key of table {table.name}: {exc.args[0]}") from None
            key.target_table = target.name
            if not key.key_id:
                key.key_id = f"{table.name}-{target.name}"
            base, n = key.key_id, 1
            while key.key_id in ids:
                n += 1
                key.key_id = f"{base}-{n}"
            ids.add(key.key_id)


def _name(entry: Any, what: str) -> str:
    if not isinstance(entry, dict) or not isinstance(entry.get("name"), str) or not entry["name"]:
        raise MetadataError(f"{what} has no name")
    return entry["name"]


def _list(entry: dict[str, Any], key: str, where: str) -> list[Any]:
    value = entry.get(key) or []
    if not isinstance(value, list):
        raise MetadataError(f"{where}: {key} must be a list")
    return value


def _check_keys(entry: dict[str, Any], allowed: set[str], where: str) -> None:
    """Unknown keys are refused: a misspelt 'ucds' would otherwise vanish without a word."""
    unknown = sorted(set(entry) - allowed)
    if unknown:
        raise MetadataError(
            f"{where}: unknown key {', '.join(unknown)} (known: {', '.join(sorted(allowed))})"
        )


def sql_literal(value: Any) -> str:
    """A value as an SQL literal DuckDB reads back exactly (strings quoted, None as NULL)."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int | float):
        return repr(value)
    return "'" + str(value).replace("'", "''") + "'"


def quote_identifier(name: str) -> str:
    """A name as a delimited SQL identifier: any name, whatever its characters."""
    return '"' + name.replace('"', '""') + '"'


# What S3 answers when it is busy or failing for a moment (S3 API Reference, "Error
# responses": 503 SlowDown, 500 InternalError; 429 and the gateway codes of proxies between):
# DuckDB retries these itself (http_retries, 3 with backoff) before it gives up.
TRANSIENT_HTTP = frozenset({429, 500, 502, 503, 504})


def storage_busy(error: Exception) -> bool:
    """Whether DuckDB failed because the storage did, for a moment, past its own retries."""
    import duckdb

    # status_code: only when DuckDB's error carries one (a message-only HTTPException has none)
    return (
        isinstance(error, duckdb.HTTPException)
        and getattr(error, "status_code", None) in TRANSIENT_HTTP
    )
