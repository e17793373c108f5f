"""A sky of random positions in DuckDB (in memory), with the rows that break naive geometry:
RA near 0 and 360, the poles, NULLs. Tests translate ADQL, run it here, and compare with an
independent computation (astropy, plain Python) over the same rows."""

import math
import random

import duckdb
import pytest
from tap.adql import AdqlError, ResolvedTable, StaticResolver, translate

N = 3000


def make_rows() -> list[tuple]:
    rng = random.Random(24)
    rows = []
    for i in range(N):
        ra, dec = rng.uniform(0, 360), math.degrees(math.asin(rng.uniform(-1, 1)))
        mag = None if i % 17 == 0 else round(rng.uniform(2, 14), 3)
        rows.append((i, ra, dec, mag, f"Star {i}", i % 7))
    edges = [(0.0, 0.0), (359.9999, 0.5), (0.0001, -0.5), (180, 89.999), (0, 90), (77, -89.995)]
    edges += [(rng.uniform(0, 360), rng.uniform(89, 90)) for _ in range(100)]
    edges += [(rng.uniform(0, 360), rng.uniform(-90, -89)) for _ in range(100)]
    edges += [(rng.uniform(-0.5, 0.5) % 360, rng.uniform(-2, 2)) for _ in range(200)]
    for j, (ra, dec) in enumerate(edges):
        rows.append((N + j, ra, dec, 5.0, f"Edge {j}", j % 7))
    rows.append((N + len(edges), None, None, 1.0, "Nowhere", 0))
    rows.append((N + len(edges) + 1, 10.0, None, None, None, None))
    return rows


ROWS = make_rows()


def _values(rows) -> str:
    def one(v):
        if v is None:
            return "NULL"
        return "'" + v.replace("'", "''") + "'" if isinstance(v, str) else repr(v)

    return ",".join("(" + ",".join(one(v) for v in row) + ")" for row in rows)


@pytest.fixture(scope="session")
def db():
    con = duckdb.connect()
    con.execute(
        "CREATE TABLE sky (id INTEGER, ra DOUBLE, dec DOUBLE, mag DOUBLE, name VARCHAR, kind INTEGER)"
    )
    con.execute(f"INSERT INTO sky VALUES {_values(ROWS)}")
    con.execute('CREATE TABLE kinds (kind INTEGER, "Label" VARCHAR)')
    con.execute("INSERT INTO kinds VALUES (0,'zero'),(1,'one'),(2,'two'),(3,'three'),(9,'nine')")
    con.execute("CREATE SCHEMA up")
    con.execute("CREATE TABLE up.t1 (ref INTEGER, ra DOUBLE, dec DOUBLE)")
    con.execute("INSERT INTO up.t1 VALUES (1, 10, 20), (2, 359.5, -1), (3, 0, 89.9), (4, NULL, 0)")
    return con


TABLES = StaticResolver(
    [
        ResolvedTable("cat", "sky", '"sky"', ("id", "ra", "dec", "mag", "name", "kind")),
        ResolvedTable("cat", "kinds", '"kinds"', ("kind", "Label")),
        ResolvedTable("TAP_UPLOAD", "t1", '"up"."t1"', ("ref", "ra", "dec")),
    ]
)


@pytest.fixture(scope="session")
def run(db):
    def run(query: str, rows: int | None = None) -> list[tuple]:
        translation = translate(query, TABLES)
        sql = translation.sql if rows is None else translation.limited(rows)
        return db.execute(sql).fetchall()

    return run


def refused(query: str) -> AdqlError:
    """The AdqlError a query raises (the test fails if it translates)."""
    with pytest.raises(AdqlError) as caught:
        translate(query, TABLES)
    return caught.value
