"""HATS catalogues: a small one made by local.to_hats (hats-import) from the ADQL tests' sky,
served beside the same rows as plain Parquet. Cones and polygons give the same rows over both
and read only the partitions they overlap; the HEALPix coverage behind that is checked against
cdshealpix (never a row's cell left out, at the poles and across RA 0/360 too)."""

from __future__ import annotations

import math
import random
from pathlib import Path

import duckdb
import pytest
from astropy import units as u
from astropy.coordinates import Latitude, Longitude
from cdshealpix import nested
from tap import healpix
from tap.adql import Cone, SkyPolygon
from tap.engine import QueryEngine
from tap.metadata import MetadataError, load_catalogue
from tap.request import Limits, parse_tap_query

from .sky import ROWS


def ids(hats_engine: QueryEngine, query: str) -> list[int]:
    tap = parse_tap_query(
        {"LANG": "ADQL", "QUERY": query, "RESPONSEFORMAT": "csv", "MAXREC": "100000"}, Limits()
    )
    lines = hats_engine.run(tap, {}).path.read_text().split()[1:]
    return sorted(int(line) for line in lines)


def cells29(points: list[tuple[float, float]]) -> list[int]:
    ra, dec = (list(c) for c in zip(*points, strict=True))
    found = nested.lonlat_to_healpix(Longitude(ra, u.deg), Latitude(dec, u.deg), 29)
    return [int(c) for c in found]


def covered(ranges: healpix.Ranges, cell: int) -> bool:
    return any(lo <= cell <= hi for lo, hi in ranges)


CONES = [
    (10, 20, 1),
    (0, 0, 1.5),
    (359.8, 0.3, 0.7),
    (0.1, -1, 2),
    (45, 89.5, 1.2),
    (200, 90, 1),
    (77, -89.99, 0.5),
    (120, -30, 10),
    (0.001, 0.001, 0.05),
]
POLYGONS = [
    [(355, -3), (5, -3), (5, 3), (355, 3)],  # across RA 0/360
    [(10, 10), (30, 10), (30, 30), (20, 15), (10, 30)],  # not convex
    [(0, 85), (120, 85), (240, 85)],  # round the north pole
    [(30, -80), (30, -60), (10, -70)],  # clockwise
]


def test_the_tool_writes_hats_and_the_entry_the_service_reads(hats_root: Path):
    assert (hats_root / "demo/sky/partition_info.csv").exists()
    assert next((hats_root / "demo/sky/dataset").glob("Norder=*/Dir=*/Npix=*.parquet"))
    catalogue = load_catalogue(hats_root / "catalogue.yaml")
    table = catalogue.table("demo.sky")
    assert table.hats is not None and table.hats.rows == sum(1 for r in ROWS if r[2] is not None)
    assert (table.hats.ra_column, table.hats.dec_column) == ("ra", "dec")
    assert [c.name for c in table.columns] == ["_healpix_29", "id", "ra", "dec", "mag"]
    assert table.column("ra").ucd == "pos.eq.ra;meta.main" and table.column("ra").unit == "deg"
    assert len({order for order, _ in table.hats.partitions}) > 1  # the tiling adapts


def test_it_is_in_tap_schema_like_any_table(hats_engine: QueryEngine):
    query = "SELECT column_name FROM TAP_SCHEMA.columns WHERE table_name = 'demo.sky'"
    tap = parse_tap_query({"LANG": "ADQL", "QUERY": query, "RESPONSEFORMAT": "csv"}, Limits())
    names = set(hats_engine.run(tap, {}).path.read_text().split()[1:])
    # a leading underscore is no regular ADQL name: TAP_SCHEMA shows it delimited (CSV-quoted)
    assert names == {'"""_healpix_29"""', "id", "ra", "dec", "mag"}


def test_a_wrong_format_or_a_missing_partition_list_is_refused(hats_root: Path, tmp_path: Path):
    (tmp_path / "catalogue.yaml").write_text(
        "schemas: [{name: s, tables: [{name: t, location: sky, format: fits}]}]"
    )
    with pytest.raises(MetadataError, match="format fits is not parquet or hats"):
        load_catalogue(tmp_path / "catalogue.yaml")
    (tmp_path / "sky").mkdir()
    (tmp_path / "catalogue.yaml").write_text(
        "schemas: [{name: s, tables: [{name: t, location: sky, format: hats}]}]"
    )
    with pytest.raises(MetadataError, match="is not a HATS catalogue"):
        load_catalogue(tmp_path / "catalogue.yaml")


@pytest.mark.parametrize(("ra", "dec", "radius"), CONES)
def test_a_cone_gives_the_rows_of_the_plain_table(hats_engine, ra, dec, radius):
    where = f"WHERE 1 = CONTAINS(POINT('ICRS', t.ra, t.dec), CIRCLE('ICRS', {ra}, {dec}, {radius}))"
    plain = ids(hats_engine, f"SELECT t.id FROM demo.plain AS t {where}")
    assert plain and ids(hats_engine, f"SELECT t.id FROM demo.sky AS t {where}") == plain


@pytest.mark.parametrize("vertices", POLYGONS)
def test_a_polygon_or_box_gives_the_rows_of_the_plain_table(hats_engine, vertices):
    corners = ", ".join(f"{ra}, {dec}" for ra, dec in vertices)
    for shape in (f"POLYGON('ICRS', {corners})", "BOX('ICRS', 0, 0, 4, 3)"):
        where = f"WHERE 1 = CONTAINS(POINT('ICRS', ra, dec), {shape}) AND mag > 3"
        plain = ids(hats_engine, f"SELECT id FROM demo.plain {where}")
        assert plain and ids(hats_engine, f"SELECT id FROM demo.sky {where}") == plain


def test_a_one_degree_cone_reads_only_the_partitions_it_overlaps(hats_engine):
    hats = hats_engine.catalogue.table("demo.sky").hats
    sql = hats.narrow([Cone("ra", "dec", 10.0, 20.0, 1.0)])
    read = [
        p for p in hats.partitions if f"/Npix={p[1]}.parquet'" in sql and f"Norder={p[0]}/" in sql
    ]
    # cdshealpix's own coverage of the cone, at the partitions' orders
    touched = set()
    for order, pix in hats.partitions:
        cells, _, _ = nested.cone_search(
            Longitude(10, u.deg), Latitude(20, u.deg), 1 * u.deg, order
        )
        if pix in {int(c) for c in cells}:
            touched.add((order, pix))
    assert touched and set(read) == touched
    assert len(read) < len(hats.partitions) / 20
    assert '"_healpix_29" BETWEEN' in sql
    # the same cone with other columns, or no region, reads every partition
    assert hats.narrow([Cone("mag", "dec", 10.0, 20.0, 1.0)]) == hats.sql
    assert "Norder=*" in hats.sql


def test_duckdb_opens_only_the_files_narrow_names(hats_engine):
    hats = hats_engine.catalogue.table("demo.sky").hats
    con = duckdb.connect()
    narrowed = hats.narrow([Cone("ra", "dec", 0.0, 0.0, 1.0)])
    plan = con.execute(f"EXPLAIN ANALYZE SELECT count(*) FROM {narrowed}").fetchall()[0][1]
    everything = con.execute(f"EXPLAIN ANALYZE SELECT count(*) FROM {hats.sql}").fetchall()[0][1]
    files = narrowed.count(".parquet'")
    assert f"Total Files Read: {files}" in plan
    assert f"Total Files Read: {len(hats.partitions)}" in everything


@pytest.mark.parametrize(("ra", "dec", "radius"), CONES)
def test_a_cone_coverage_holds_every_cell_inside(ra, dec, radius):
    rng = random.Random(ra + dec)
    centre = healpix.vector(ra, dec)
    points = []
    while len(points) < 3000:  # uniform in the cone's bounding band, kept if inside
        a = rng.uniform(0, 360)
        d = (
            math.degrees(math.asin(rng.uniform(-1, 1)))
            if radius > 5
            else max(-90, min(90, dec + rng.uniform(-radius, radius)))
        )
        if abs(dec) + radius < 89 and radius <= 5:
            a = (ra + rng.uniform(-1, 1) * radius / math.cos(math.radians(abs(dec) + radius))) % 360
        if math.degrees(healpix.angle(centre, healpix.vector(a, d))) <= radius:
            points.append((a, d))
    region = healpix.ConeRegion(ra, dec, radius)
    depth = healpix.depth_for(region)
    ranges = healpix.coverage(region, depth)
    assert all(covered(ranges, cell) for cell in cells29(points))
    # and not much more than cdshealpix's own coverage at the same depth
    exact, _, _ = nested.cone_search(
        Longitude(ra, u.deg), Latitude(dec, u.deg), radius * u.deg, depth
    )
    cells = sum(hi - lo + 1 for lo, hi in ranges) >> (2 * (29 - depth))
    assert len(exact) <= cells <= 2.5 * len(exact)


@pytest.mark.parametrize("vertices", POLYGONS)
def test_a_polygon_coverage_holds_every_cell_inside(vertices):
    region = healpix.PolygonRegion(vertices)
    rng = random.Random(len(vertices))
    ras = [ra if ra < 180 else ra - 360 for ra, _ in vertices]
    decs = [dec for _, dec in vertices]
    points = []
    for _ in range(40000):
        dec = rng.uniform(min(decs) - 1, min(90, max(decs) + 6))
        ra = rng.uniform(0, 360) if max(decs) > 80 else rng.uniform(min(ras), max(ras)) % 360
        if region.inside(healpix.vector(ra, dec)):
            points.append((ra, dec))
    assert len(points) > 500
    ranges = healpix.coverage(region, healpix.depth_for(region))
    assert all(covered(ranges, cell) for cell in cells29(points))


def test_a_cells_cap_holds_the_cell():
    rng = random.Random(5)
    for order in (0, 1, 3, 7):
        points = [
            (rng.uniform(0, 360), math.degrees(math.asin(rng.uniform(-1, 1)))) for _ in range(3000)
        ]
        ra, dec = (list(c) for c in zip(*points, strict=True))
        cells = nested.lonlat_to_healpix(Longitude(ra, u.deg), Latitude(dec, u.deg), order)
        for (a, d), cell in zip(points, cells, strict=True):
            face, within = divmod(int(cell), 4**order)
            ix = sum(((within >> (2 * b)) & 1) << b for b in range(order))
            iy = sum(((within >> (2 * b + 1)) & 1) << b for b in range(order))
            centre, radius = healpix.cell_cap(order, face, ix, iy)
            assert healpix.angle(centre, healpix.vector(a, d)) <= radius


def test_regions_intersect_and_a_huge_polygon_does_not_narrow(hats_engine):
    hats = hats_engine.catalogue.table("demo.sky").hats
    both = hats.ranges([Cone("ra", "dec", 10.0, 20.0, 2.0), Cone("ra", "dec", 12.0, 20.0, 2.0)])
    one = hats.ranges([Cone("ra", "dec", 10.0, 20.0, 2.0)])
    assert both and sum(h - lo for lo, h in both) < sum(h - lo for lo, h in one)
    far = hats.ranges([Cone("ra", "dec", 10.0, 20.0, 1.0), Cone("ra", "dec", 190.0, 0.0, 1.0)])
    assert far == [] and "WHERE false" in hats.narrow(
        [Cone("ra", "dec", 10.0, 20.0, 1.0), Cone("ra", "dec", 190.0, 0.0, 1.0)]
    )
    huge = SkyPolygon("ra", "dec", ((0.0, 0.0), (120.0, 0.0), (240.0, 0.0)))
    assert hats.narrow([huge]) == hats.sql


def test_a_big_table_read_whole_is_said_and_a_cone_on_it_is_not(hats_engine):
    table = hats_engine.catalogue.table("demo.sky")
    assert not table.is_big  # 3,000 rows: under the 10 million that make a HATS table big
    heard: list[tuple[str, ...]] = []
    table.big = True  # as `big: true` in its entry
    try:

        def run(query: str):
            tap = parse_tap_query({"LANG": "ADQL", "QUERY": query}, Limits())
            return hats_engine.run(tap, {}, on_full_scan=heard.append)

        cone = "1 = CONTAINS(POINT('ICRS', ra, dec), CIRCLE('ICRS', 10, 20, 1))"
        assert run(f"SELECT id FROM demo.sky WHERE {cone}").full_scans == ()
        assert run(f"SELECT id FROM demo.plain WHERE {cone}").full_scans == ()
        assert heard == []
        assert run("SELECT count(*) FROM demo.sky WHERE mag > 3").full_scans == ("demo.sky",)
        assert run(f"SELECT id FROM demo.sky WHERE {cone} OR mag > 13").full_scans == ("demo.sky",)
        assert heard == [("demo.sky",), ("demo.sky",)]
        # most of the sky is a full scan too, read by the glob rather than by every name
        most = "1 = CONTAINS(POINT('ICRS', ra, dec), CIRCLE('ICRS', 10, 20, 120))"
        assert run(f"SELECT id FROM demo.sky WHERE {most}").full_scans == ("demo.sky",)
    finally:
        table.big = None


def test_the_workers_question_sees_a_crossmatch_narrowed_by_its_upload(hats_engine):
    """tap.service.needs_container's answer: a cross-match of a few positions against a big
    HATS table stays on the worker; one round the whole sky is a full scan."""
    from .test_hats_crossmatch import votable

    table = hats_engine.catalogue.table("demo.sky")
    table.big = True
    try:

        def scans(radius: float) -> tuple[str, ...]:
            query = ("SELECT u.uid, c.id FROM TAP_UPLOAD.up AS u JOIN demo.sky AS c ON "
                     f"DISTANCE(POINT(c.ra, c.dec), POINT(u.ra, u.dec)) < {radius}")  # fmt: skip
            tap = parse_tap_query({"LANG": "ADQL", "QUERY": query}, Limits())
            return hats_engine.full_scans_of(tap, {"up": votable([(1, 10.0, 20.0)])})

        assert scans(1) == ()
        assert scans(170) == ("demo.sky",)
    finally:
        table.big = None
