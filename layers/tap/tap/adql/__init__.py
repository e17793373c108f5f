"""ADQL 2.0/2.1 to DuckDB SQL: parsing by sqlglot, a table of DuckDB morphers, the sphere in SQL.

from tap.adql import translate, StaticResolver, ResolvedTable
tables = StaticResolver([ResolvedTable("hip", "main", "read_parquet(['s3://b/hip/*.parquet'])",
                                       ("hip", "ra", "dec", "hpmag"))])
t = translate("SELECT TOP 10 hip, hpmag FROM hip.main WHERE 1=CONTAINS("
              "POINT('ICRS', ra, dec), CIRCLE('ICRS', 10, 20, 1)) ORDER BY hpmag", tables)
duckdb.sql(t.limited(min(t.top or maxrec, maxrec) + 1))  # one more row: overflow?
"""

from .errors import AdqlError
from .scope import OutputColumn
from .tables import (
    ColumnRef,
    Cone,
    Cones,
    Region,
    ResolvedTable,
    SkyPolygon,
    StaticResolver,
    TableName,
    TableResolver,
    UnknownTable,
)
from .translate import Translation, translate

__all__ = [
    "AdqlError",
    "ColumnRef",
    "Cone",
    "Cones",
    "OutputColumn",
    "Region",
    "ResolvedTable",
    "SkyPolygon",
    "StaticResolver",
    "TableName",
    "TableResolver",
    "Translation",
    "UnknownTable",
    "translate",
]
