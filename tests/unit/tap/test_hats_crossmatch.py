"""Cross-matches of an uploaded table against a HATS catalogue: the join's radius round the
upload's positions narrows the catalogue to the partitions they touch. The pairs found are
those of the plain table and of astropy's separations; the files read are those cdshealpix's
cones round the upload's positions reach (across RA 0/360 and at both poles too)."""

from __future__ import annotations

import io
import math
import random
import struct

import duckdb
import pytest
import tap.engine
from astropy import units as u
from astropy.coordinates import Latitude, Longitude, SkyCoord
from cdshealpix import nested
from tap import healpix
from tap.adql import Cone, Cones, ResolvedTable, StaticResolver, translate
from tap.metadata import Column
from tap.request import Limits, parse_tap_query
from tap.votable import write_votable

from .sky import ROWS

# the upload: across RA 0/360, at both poles, beside a few of the sky's own stars
UPLOAD = [
    (1, 359.95, 0.3),
    (2, 0.02, -0.4),
    (3, 0.0, 90.0),
    (4, 200.0, 89.7),
    (5, 77.0, -89.99),
    (6, 10.0, 20.0),
    *[(7 + i, ROWS[i][1] + 0.1, ROWS[i][2] - 0.05) for i in range(0, 600, 100)],
]
RADIUS = 0.8
FORMS = {
    "circle round the upload": "1 = CONTAINS(POINT(c.ra, c.dec), CIRCLE(u.ra, u.dec, {r}))",
    "circle round the catalogue": "CONTAINS(POINT(u.ra, u.dec), CIRCLE(c.ra, c.dec, {r})) = 1",
    "distance below": "DISTANCE(POINT(c.ra, c.dec), POINT(u.ra, u.dec)) < {r}",
    "distance above, four numbers": "{r} >= DISTANCE(u.ra, u.dec, c.ra, c.dec)",
    "radius in arcseconds": "1 = CONTAINS(POINT(c.ra, c.dec), CIRCLE(u.ra, u.dec, 2880.0/3600))",
}
assert RADIUS == 2880.0 / 3600


def votable(rows: list[tuple[int, float, float]]) -> bytes:
    buffer = io.BytesIO()
    columns = [Column("uid", "long"), Column("ra", "double"), Column("dec", "double")]
    write_votable(buffer, columns, [rows])
    return buffer.getvalue()


def astropy_pairs(upload: list[tuple[int, float, float]], radius: float) -> set[tuple[int, int]]:
    rows = [r for r in ROWS if r[1] is not None and r[2] is not None]
    stars = SkyCoord([r[1] for r in rows] * u.deg, [r[2] for r in rows] * u.deg)
    found = set()
    for uid, ra, dec in upload:
        near = SkyCoord(ra * u.deg, dec * u.deg).separation(stars) <= radius * u.deg
        found |= {(uid, rows[i][0]) for i in near.nonzero()[0]}
    return found


def crossmatch(engine, table: str, condition: str, upload, monkeypatch) -> tuple[set, str]:
    """The (uid, id) pairs the query finds, and the SQL the engine ran."""
    ran: list[str] = []

    def spied(*args, **kwargs):
        translation = translate(*args, **kwargs)
        ran.append(translation.body)
        return translation

    monkeypatch.setattr(tap.engine, "translate", spied)
    query = f"SELECT u.uid, c.id FROM TAP_UPLOAD.up AS u {condition.format(table=table)}"
    params = {"LANG": "ADQL", "QUERY": query, "RESPONSEFORMAT": "csv", "MAXREC": "100000"}
    lines = engine.run(parse_tap_query(params, Limits()), {"up": votable(upload)}).path
    pairs = {tuple(map(int, line.split(","))) for line in lines.read_text().split()[1:]}
    return pairs, ran[0]


def read_partitions(hats, sql: str) -> set[tuple[int, int]]:
    return {p for p in hats.partitions if hats.partition_path(*p) in sql}


def touched(hats, upload, radius: float) -> set[tuple[int, int]]:
    """cdshealpix's own cones round every position, at the partitions' orders."""
    found = set()
    for order in {o for o, _ in hats.partitions}:
        for _, ra, dec in upload:
            cells, _, _ = nested.cone_search(
                Longitude(ra, u.deg), Latitude(dec, u.deg), radius * u.deg, order
            )
            found |= {(order, int(c)) for c in cells}
    return found & set(hats.partitions)


@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize(
    "join",
    ["JOIN {table} AS c ON {on}", "LEFT JOIN {table} AS c ON {on}", ", {table} AS c WHERE {on}"],
)
def test_a_crossmatch_finds_astropys_pairs_reading_only_what_the_upload_touches(
    hats_engine, monkeypatch, form, join
):
    condition = join.replace("{on}", FORMS[form].format(r=RADIUS))
    expected = astropy_pairs(UPLOAD, RADIUS)
    assert len({uid for uid, _ in expected}) == len(UPLOAD)  # every position has neighbours
    plain, _ = crossmatch(hats_engine, "demo.plain", condition, UPLOAD, monkeypatch)
    pairs, sql = crossmatch(hats_engine, "demo.sky", condition, UPLOAD, monkeypatch)
    if join.startswith("LEFT"):
        assert not any(uid in {p[0] for p in expected} for uid, _ in pairs - expected)
        pairs = {p for p in pairs if p in expected or p[1] is None}
    assert pairs == plain == expected
    hats = hats_engine.catalogue.table("demo.sky").hats
    assert read_partitions(hats, sql) == touched(hats, UPLOAD, RADIUS)
    assert len(read_partitions(hats, sql)) < len(hats.partitions) / 2


def test_duckdb_opens_only_the_files_of_the_partitions_touched(hats_engine):
    hats = hats_engine.catalogue.table("demo.sky").hats
    narrowed = hats.narrow([Cones("ra", "dec", tuple((ra, dec) for _, ra, dec in UPLOAD), 0.5)])
    plan = duckdb.connect().execute(f"EXPLAIN ANALYZE SELECT count(*) FROM {narrowed}").fetchall()
    assert f"Total Files Read: {len(touched(hats, UPLOAD, 0.5))}" in plan[0][1]


def test_a_large_upload_is_gathered_into_fewer_cones_and_loses_no_pair(hats_engine, monkeypatch):
    rng = random.Random(9)
    upload = [(i, rng.uniform(-3, 3) % 360, rng.uniform(-4, 4)) for i in range(600)]
    upload += [(600 + i, rng.uniform(0, 360), rng.uniform(88.5, 90)) for i in range(400)]
    condition = "JOIN {table} AS c ON DISTANCE(c.ra, c.dec, u.ra, u.dec) <= 0.3"
    pairs, sql = crossmatch(hats_engine, "demo.sky", condition, upload, monkeypatch)
    assert pairs and pairs == astropy_pairs(upload, 0.3)
    hats = hats_engine.catalogue.table("demo.sky").hats
    read = read_partitions(hats, sql)
    assert read >= touched(hats, upload, 0.3) and len(read) < len(hats.partitions) / 3


def test_gathered_cones_hold_every_cell_within_the_radius():
    rng = random.Random(3)
    centres = [(rng.uniform(-1, 1) % 360, rng.uniform(-1, 1)) for _ in range(700)]
    centres += [(rng.uniform(0, 360), rng.uniform(-90, -89.5)) for _ in range(300)]
    region = healpix.ConesRegion(centres, 0.05)
    assert len(region.cones) <= healpix.ConesRegion.MAX_CONES < len(centres)
    ranges = healpix.coverage(region, 12)
    near = []  # points within the radius of a centre, in every direction
    for ra, dec in centres:
        for bearing in range(0, 360, 45):
            b, d = math.radians(bearing), math.radians(0.0499)
            lat = math.asin(
                math.sin(math.radians(dec)) * math.cos(d)
                + math.cos(math.radians(dec)) * math.sin(d) * math.cos(b)
            )
            lon = math.radians(ra) + math.atan2(
                math.sin(b) * math.sin(d) * math.cos(math.radians(dec)),
                math.cos(d) - math.sin(math.radians(dec)) * math.sin(lat),
            )
            near.append((math.degrees(lon) % 360, math.degrees(lat)))
    ra, dec = (list(c) for c in zip(*near, strict=True))
    cells = nested.lonlat_to_healpix(Longitude(ra, u.deg), Latitude(dec, u.deg), 29)
    assert all(any(lo <= int(c) <= hi for lo, hi in ranges) for c in cells)


def test_the_translator_narrows_by_the_join_only_where_it_binds():
    seen: dict[str, list] = {"cat": []}

    def narrow(regions):
        seen["cat"].extend(regions)
        return '"cat"'

    def positions(ra: str, dec: str):
        assert (ra, dec) == ("ra", "dec")
        return [(1.0, 2.0), (3.0, 4.0)]

    tables = StaticResolver(
        [
            ResolvedTable("s", "cat", '"cat"', ("id", "ra", "dec"), narrow),
            ResolvedTable("TAP_UPLOAD", "up", '"up"', ("uid", "ra", "dec"), positions=positions),
        ]
    )
    on = "ON DISTANCE(POINT(c.ra, c.dec), POINT(u.ra, u.dec)) < 0.5"

    def regions(query: str) -> list:
        seen["cat"].clear()
        translate(query, tables)
        return list(seen["cat"])

    wanted = [Cones("ra", "dec", ((1.0, 2.0), (3.0, 4.0)), 0.5)]
    assert regions(f"SELECT * FROM TAP_UPLOAD.up AS u JOIN s.cat AS c {on}") == wanted
    assert regions(f"SELECT * FROM TAP_UPLOAD.up AS u LEFT JOIN s.cat AS c {on}") == wanted
    # the catalogue's every row is kept: no narrowing
    assert regions(f"SELECT * FROM s.cat AS c LEFT JOIN TAP_UPLOAD.up AS u {on}") == []
    assert regions(f"SELECT * FROM TAP_UPLOAD.up AS u RIGHT JOIN s.cat AS c {on}") == []
    assert regions(f"SELECT * FROM TAP_UPLOAD.up AS u JOIN s.cat AS c {on} OR c.id = 1") == []
    radius = "ON DISTANCE(POINT(c.ra, c.dec), POINT(u.ra, u.dec)) < u.ra"
    assert regions(f"SELECT * FROM TAP_UPLOAD.up AS u JOIN s.cat AS c {radius}") == []
    # a DISTANCE from a known point is a cone
    cone = "SELECT * FROM s.cat AS c WHERE DISTANCE(c.ra, c.dec, 10, 20) <= 1"
    assert regions(cone) == [Cone("ra", "dec", 10.0, 20.0, 1.0)]
    # a radius in arcseconds, as astronomers write one: folded, it narrows
    arcsec = "ON 1 = CONTAINS(POINT(c.ra, c.dec), CIRCLE(u.ra, u.dec, 1.0/3600))"
    assert regions(f"SELECT * FROM TAP_UPLOAD.up AS u JOIN s.cat AS c {arcsec}") == [
        Cones("ra", "dec", ((1.0, 2.0), (3.0, 4.0)), 1.0 / 3600)
    ]
    # a negative radius: the SQL takes its absolute value, so it narrows nothing
    negative = "ON 1 = CONTAINS(POINT(c.ra, c.dec), CIRCLE(u.ra, u.dec, -1))"
    assert regions(f"SELECT * FROM TAP_UPLOAD.up AS u JOIN s.cat AS c {negative}") == []


@pytest.mark.parametrize(
    "query",
    [
        # the catalogue's stars with no upload position near: the usual anti-cross-match
        "SELECT c.id FROM {table} AS c WHERE NOT EXISTS (SELECT 1 FROM TAP_UPLOAD.up AS u"
        " WHERE DISTANCE(POINT(c.ra, c.dec), POINT(u.ra, u.dec)) < 1)",
        "SELECT c.id FROM {table} AS c WHERE c.id < 10 OR EXISTS (SELECT 1 FROM TAP_UPLOAD.up"
        " AS u WHERE 1 = CONTAINS(POINT(c.ra, c.dec), CIRCLE(u.ra, u.dec, 1)))",
        "SELECT c.id FROM {table} AS c WHERE NOT EXISTS (SELECT 1 FROM TAP_UPLOAD.up AS u"
        " WHERE DISTANCE(c.ra, c.dec, 10, 20) < 30)",
    ],
)
def test_a_correlated_subquerys_condition_does_not_narrow_the_outer_table(hats_engine, query):
    """Its rows are not filtered by it: the outer HATS table is read whole, as the plain one."""

    def ids(table: str) -> set[int]:
        params = {"LANG": "ADQL", "QUERY": query.format(table=table), "RESPONSEFORMAT": "csv",
                  "MAXREC": "100000"}  # fmt: skip
        path = hats_engine.run(parse_tap_query(params, Limits()), {"up": votable(UPLOAD)}).path
        return {int(line) for line in path.read_text().split()[1:]}

    plain = ids("demo.plain")
    assert len(plain) > 100 and ids("demo.sky") == plain


def test_an_upload_in_single_precision_is_narrowed_as_it_is_compared(hats_engine, monkeypatch):
    """A ``float`` column is loaded as FLOAT: the cones are round its single-precision values
    (the ones the SQL compares), not the VOTable's digits read as doubles."""
    ra, dec = 300.123456789, -45.987654321
    buffer = io.BytesIO()
    columns = [Column("uid", "long"), Column("ra", "float"), Column("dec", "float")]
    write_votable(buffer, columns, [[(1, ra, dec)]])
    centres: list = []

    def spied(query, tables, *args, **kwargs):
        (up,) = [t for t in tables.tables if t.schema == "TAP_UPLOAD"]
        centres.extend(up.positions("ra", "dec"))
        return translate(query, tables, *args, **kwargs)

    monkeypatch.setattr(tap.engine, "translate", spied)
    query = ("SELECT u.uid, c.id FROM TAP_UPLOAD.up AS u JOIN demo.sky AS c ON "
             "DISTANCE(POINT(c.ra, c.dec), POINT(u.ra, u.dec)) < 0.00001")  # fmt: skip
    params = {"LANG": "ADQL", "QUERY": query, "RESPONSEFORMAT": "csv"}
    hats_engine.run(parse_tap_query(params, Limits()), {"up": buffer.getvalue()})
    single = struct.unpack("<ff", struct.pack("<ff", ra, dec))
    assert centres == [single] and single != (ra, dec)
