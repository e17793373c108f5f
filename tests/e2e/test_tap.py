"""TAP over real HTTP (`make serve-tap`: Hipparcos-2 in the embedded S3), with the clients
astronomers use (pyvo, STILTS), and every answer checked against an independent computation
on the same rows: astropy's separations for the sky, plain Python for the rest."""

from __future__ import annotations

import io
import math
import shutil
import subprocess
from collections.abc import Iterator

import duckdb
import numpy as np
import pyarrow.parquet as pq
import pytest
import pyvo
import requests
from astropy import units as u
from astropy.coordinates import SkyCoord
from astropy.io.votable import parse_single_table
from astropy.table import Table

from local.catalogue import BUILT
from tests.e2e.conftest import Server, running_server


@pytest.fixture(scope="module")
def tap() -> Iterator[Server]:
    # UPLOAD by URL reaches public hosts only; the test's own server is on loopback
    with running_server(tap=True, env={"TAP_UPLOAD_LOOPBACK": "1"}) as server:
        yield server


@pytest.fixture(scope="module")
def service(tap: Server) -> pyvo.dal.TAPService:
    return pyvo.dal.TAPService(tap.base)


@pytest.fixture(scope="module")
def stars() -> dict[str, np.ndarray]:
    """Every row of the catalogue the server serves, read with DuckDB alone (no ADQL)."""
    path = next((BUILT / "hipparcos" / "main").glob("*.parquet"))
    frame = duckdb.sql(f"SELECT hip, ra, dec, plx, hpmag, b_v FROM read_parquet('{path}')")
    columns = frame.columns
    rows = frame.fetchall()
    return {name: np.array([r[i] for r in rows], dtype=object) for i, name in enumerate(columns)}


def sky(stars: dict[str, np.ndarray]) -> SkyCoord:
    return SkyCoord(stars["ra"].astype(float) * u.deg, stars["dec"].astype(float) * u.deg)


def hips(table: Table) -> set[int]:
    return {int(h) for h in table["hip"]}


# ---- what pyvo does ----------------------------------------------------------------------


def test_pyvo_sync_async_and_search_agree(service):
    query = "SELECT TOP 5 hip, ra, dec, hpmag FROM hipparcos.main ORDER BY hpmag"
    sync = service.run_sync(query).to_table()
    job = service.run_async(query).to_table()
    search = service.search(query).to_table()
    assert list(sync["hip"]) == list(job["hip"]) == list(search["hip"])
    assert int(sync["hip"][0]) == 32349  # Sirius
    assert str(sync["ra"].unit) == "deg"


def test_pyvo_reads_tables_and_capabilities(service):
    tables = service.tables
    assert "hipparcos.main" in list(tables.keys())
    columns = {c.name: c for c in tables["hipparcos.main"].columns}
    assert columns["plx"].unit == "mas" and columns["ra"].ucd == "pos.eq.ra;meta.main"
    hats = {c.name: c for c in tables["hipparcos.main_hats"].columns}  # the HATS copy
    assert {n: (c.unit, c.ucd) for n, c in hats.items() if n in columns} == {
        n: (c.unit, c.ucd) for n, c in columns.items()
    }
    capability = next(c for c in service.capabilities if c.standardid == "ivo://ivoa.net/std/TAP")
    assert {f.mime for f in capability.outputformats} >= {
        "application/x-votable+xml",
        "text/csv;header=present",
        "application/vnd.apache.parquet",
    }
    assert service.maxrec == 10000 and service.hardlimit == 1000000


def test_an_upload_joins_the_catalogue(service):
    mine = Table({"hip": [32349, 91262, 999999], "name": ["Sirius", "Vega", "no such"]})
    result = service.run_sync(
        "SELECT m.name, h.hpmag FROM TAP_UPLOAD.mine AS m JOIN hipparcos.main AS h "
        "ON m.hip = h.hip ORDER BY h.hpmag",
        uploads={"mine": mine},
    ).to_table()
    assert list(result["name"]) == ["Sirius", "Vega"]


def test_an_async_upload_joins_too(service):
    mine = Table({"hip": [32349]})
    job = service.submit_job(
        "SELECT h.hip FROM TAP_UPLOAD.t AS t JOIN hipparcos.main AS h ON t.hip = h.hip",
        uploads={"t": mine},
    )
    job.run().wait(timeout=60)
    job.raise_if_error()
    assert list(job.fetch_result().to_table()["hip"]) == [32349]
    job.delete()


def test_an_upload_by_url_joins_too(service, tmp_path):
    """UPLOAD=name,http://…: the service fetches the VOTable itself (TAP 1.1, 3.5)."""
    import functools
    import http.server
    import threading

    Table({"hip": [32349]}).write(tmp_path / "mine.xml", format="votable")
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path))
    with http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler) as web:
        threading.Thread(target=web.serve_forever, daemon=True).start()
        url = f"http://127.0.0.1:{web.server_address[1]}/mine.xml"
        result = service.run_sync(
            "SELECT h.hip, h.hpmag FROM TAP_UPLOAD.mine AS m JOIN hipparcos.main AS h "
            "ON m.hip = h.hip",
            uploads={"mine": url},
        ).to_table()
        web.shutdown()
    assert list(result["hip"]) == [32349]


@pytest.mark.parametrize("fmt", ["votable", "votable/b2", "csv", "tsv", "parquet"])
def test_every_output_format_reads_back(tap, fmt, stars):
    query = "SELECT TOP 3 hip, ra, b_v FROM hipparcos.main ORDER BY hip"
    reply = requests.post(
        f"{tap.base}/sync",
        data={"LANG": "ADQL", "QUERY": query, "RESPONSEFORMAT": fmt},
        timeout=30,
    )
    assert reply.status_code == 200, reply.text
    if fmt.startswith("votable"):
        table = parse_single_table(io.BytesIO(reply.content)).to_table()
        assert str(table["ra"].unit) == "deg"
    elif fmt == "parquet":
        parquet = pq.read_table(io.BytesIO(reply.content))
        metadata = parquet.schema.metadata
        assert b"IVOA.VOTable-Parquet.content" in metadata
        assert b'unit="deg"' in metadata[b"IVOA.VOTable-Parquet.content"]
        table = Table(parquet.to_pydict())
    else:
        table = Table.read(reply.text, format="ascii.csv" if fmt == "csv" else "ascii.tab")
    first = sorted(int(h) for h in stars["hip"])[:3]
    assert [int(h) for h in table["hip"]] == first


# ---- errors, MAXREC ------------------------------------------------------------------------


def test_a_query_that_cannot_run_says_what_and_where(service, tap):
    with pytest.raises(pyvo.dal.DALQueryError, match=r"nosuch.*line 1, column 8"):
        service.run_sync("SELECT nosuch FROM hipparcos.main")
    job = service.submit_job("SELECT nosuch FROM hipparcos.main").run()
    job.wait(phases=["COMPLETED", "ERROR", "ABORTED"], timeout=60)
    assert job.phase == "ERROR"
    error = requests.get(f"{job.url}/error", timeout=10)
    assert error.headers["Content-Type"].startswith("application/x-votable+xml")
    assert 'name="QUERY_STATUS" value="ERROR"' in error.text and "line 1, column 8" in error.text
    job.delete()


def test_maxrec_cuts_and_says_overflow(service):
    result = service.run_sync("SELECT hip FROM hipparcos.main", maxrec=7)
    assert len(result) == 7
    assert result.query_status == "OVERFLOW"
    assert service.run_sync("SELECT TOP 7 hip FROM hipparcos.main", maxrec=7).query_status == "OK"


# ---- answers checked --------------------------------------------------------------------


CONES = [
    (101.2872, -16.7161, 2.0),  # Sirius
    (0.5, 10.0, 3.0),  # across RA 0/360
    (359.5, -40.0, 2.5),
    (10.0, 89.0, 3.0),  # around the north pole
    (200.0, -88.5, 4.0),  # around the south pole
    (180.0, 90.0, 1.0),  # on the north pole
    (42.0, 12.0, 1.0),
]
# the same stars as Parquet and as a HATS catalogue (read by the partitions a region overlaps)
TABLES = ["hipparcos.main", "hipparcos.main_hats"]


@pytest.mark.parametrize("table", TABLES)
@pytest.mark.parametrize(("ra", "dec", "radius"), CONES)
def test_cones_are_the_stars_astropy_finds(service, stars, table, ra, dec, radius):
    result = service.run_sync(
        "SELECT hip, DISTANCE(POINT('ICRS', ra, dec), POINT('ICRS', "
        f"{ra}, {dec})) AS dist FROM {table} WHERE 1 = CONTAINS(POINT('ICRS', ra, dec), "
        f"CIRCLE('ICRS', {ra}, {dec}, {radius}))",
        maxrec=100000,
    ).to_table()
    separation = sky(stars).separation(SkyCoord(ra * u.deg, dec * u.deg)).deg
    expected = {int(h) for h in stars["hip"][separation <= radius]}
    margin = {int(h) for h in stars["hip"][np.abs(separation - radius) < 1e-9]}
    assert hips(result) ^ expected <= margin and expected
    by_hip = dict(zip(stars["hip"].astype(int), separation, strict=True))
    assert all(abs(row["dist"] - by_hip[int(row["hip"])]) < 1e-9 for row in result)


@pytest.mark.parametrize("table", TABLES)
@pytest.mark.parametrize(("ra", "dec"), [(83.0, -1.0), (0.5, 2.0), (30.0, 87.0)])
def test_a_box_is_the_stars_within_its_arms(service, stars, table, ra, dec):
    """ADQL 2.0's BOX: great-circle sides at the given half-widths from the centre, checked
    in the box's own frame (astropy's SkyOffsetFrame)."""
    width, height = 6.0, 4.0
    result = service.run_sync(
        f"SELECT hip FROM {table} WHERE 1 = CONTAINS(POINT('ICRS', ra, dec), "
        f"BOX('ICRS', {ra}, {dec}, {width}, {height}))",
        maxrec=100000,
    ).to_table()
    frame = SkyCoord(ra * u.deg, dec * u.deg).skyoffset_frame()
    offsets = sky(stars).transform_to(frame)
    lon, lat = offsets.lon.rad, offsets.lat.rad
    # the sides are great circles: a star is inside when its direction, seen from the centre,
    # lies within both pairs of planes (tan of the side's distance along each axis)
    x = np.cos(lat) * np.cos(lon)
    inside = (
        (x > 0)
        & (np.abs(np.cos(lat) * np.sin(lon)) <= np.tan(math.radians(width / 2)) * x)
        & (np.abs(np.sin(lat)) <= np.tan(math.radians(height / 2)) * x)
    )
    assert hips(result) == {int(h) for h in stars["hip"][inside]}


POLYGONS = [
    [(82.0, -3.0), (86.0, -3.0), (86.0, 1.0), (82.0, 1.0)],
    [(358.0, -2.0), (2.0, -2.0), (2.0, 2.0), (358.0, 2.0)],  # across RA 0/360
    [(240.0, -84.0), (120.0, -84.0), (0.0, -84.0)],  # round the south pole
]


@pytest.mark.parametrize("table", TABLES)
@pytest.mark.parametrize("corners", POLYGONS)
def test_a_polygon_is_the_stars_inside_its_great_circle_edges(service, stars, table, corners):
    polygon = ", ".join(f"{a}, {d}" for a, d in corners)
    result = service.run_sync(
        f"SELECT hip FROM {table} WHERE 1 = CONTAINS(POINT('ICRS', ra, dec), "
        f"POLYGON('ICRS', {polygon}))",
        maxrec=100000,
    ).to_table()
    vectors = [SkyCoord(a * u.deg, d * u.deg).cartesian.xyz.value for a, d in corners]
    points = np.stack([c.value for c in sky(stars).cartesian.xyz], axis=1)
    inside = np.ones(len(points), dtype=bool)
    for first, second in zip(vectors, vectors[1:] + vectors[:1], strict=True):
        inside &= points @ np.cross(first, second) >= 0  # left of each edge, counter-clockwise
    assert hips(result) == {int(h) for h in stars["hip"][inside]}


def test_aggregates_order_nulls_and_top_agree_with_python(service, stars):
    result = service.run_sync(
        "SELECT COUNT(*) AS n, COUNT(b_v) AS with_colour, AVG(hpmag) AS mean, "
        "MIN(plx) AS least, MAX(plx) AS most FROM hipparcos.main"
    ).to_table()
    b_v = [v for v in stars["b_v"] if v is not None]
    assert int(result["n"][0]) == len(stars["hip"]) == 117955
    assert int(result["with_colour"][0]) == len(b_v)
    assert math.isclose(result["mean"][0], sum(stars["hpmag"]) / len(stars["hpmag"]), rel_tol=1e-12)
    assert result["least"][0] == min(stars["plx"]) and result["most"][0] == max(stars["plx"])
    # DESC puts NULLs first, ASC last, as PostgreSQL (and DaCHS) do
    faint = "CASE WHEN hpmag > 12 THEN NULL ELSE hpmag END"
    nulls = sum(1 for m in stars["hpmag"] if m > 12)
    top = service.run_sync(
        f"SELECT TOP {nulls + 2} hip, {faint} AS m FROM hipparcos.main ORDER BY m DESC"
    ).to_table()
    assert nulls > 0 and [np.ma.is_masked(v) for v in top["m"]] == [True] * nulls + [False] * 2
    assert top["m"][nulls] == max(m for m in stars["hpmag"] if m <= 12)
    bright = service.run_sync(
        "SELECT TOP 10 hip FROM hipparcos.main WHERE b_v IS NOT NULL ORDER BY hpmag, hip"
    ).to_table()
    order = sorted(
        (float(m), int(h)) for h, m, c in zip(stars["hip"], stars["hpmag"], stars["b_v"], strict=True)
        if c is not None
    )  # fmt: skip
    assert [int(h) for h in bright["hip"]] == [h for _, h in order[:10]]


def test_group_by_having_and_a_self_join(service, stars):
    result = service.run_sync(
        "SELECT FLOOR(dec / 30) AS band, COUNT(*) AS n FROM hipparcos.main "
        "GROUP BY FLOOR(dec / 30) HAVING COUNT(*) > 1000 ORDER BY band"
    ).to_table()
    counts: dict[int, int] = {}
    for d in stars["dec"]:
        counts[math.floor(d / 30)] = counts.get(math.floor(d / 30), 0) + 1
    assert {int(b): int(n) for b, n in result} == {b: n for b, n in counts.items() if n > 1000}
    pairs = service.run_sync(
        "SELECT a.hip AS a_hip, b.hip AS b_hip FROM hipparcos.main AS a JOIN hipparcos.main AS b "
        "ON 1 = CONTAINS(POINT('ICRS', b.ra, b.dec), CIRCLE('ICRS', a.ra, a.dec, 0.05)) "
        "WHERE a.hip < b.hip AND a.hpmag < 3",
        maxrec=100000,
    ).to_table()
    bright = stars["hpmag"].astype(float) < 3
    coordinates = sky(stars)
    expected = set()
    for index in np.nonzero(bright)[0]:
        near = coordinates[index].separation(coordinates).deg <= 0.05
        expected |= {
            (int(stars["hip"][index]), int(h))
            for h in stars["hip"][near]
            if h > stars["hip"][index]
        }
    assert {(int(a), int(b)) for a, b in pairs} == expected


# ---- STILTS ------------------------------------------------------------------------------


@pytest.mark.skipif(shutil.which("stilts") is None, reason="STILTS is installed by .ci/run")
def test_stilts_tapquery_async(tap, stars):
    result = subprocess.run(
        ["stilts", "tapquery", f"tapurl={tap.base}", "sync=false", "ofmt=csv",
         "adql=SELECT TOP 3 hip FROM hipparcos.main ORDER BY hpmag"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    brightest = sorted(zip(stars["hpmag"].astype(float), stars["hip"].astype(int), strict=True))
    assert result.stdout.split() == ["hip", *(str(hip) for _, hip in brightest[:3])]


@pytest.mark.skipif(shutil.which("stilts") is None, reason="STILTS is installed by .ci/run")
def test_stilts_taplint_every_stage_finds_no_errors(tap):
    result = subprocess.run(
        ["stilts", "taplint", "interface=tap1.1", f"tapurl={tap.base}", "report=EWF",
         "maxrepeat=3"],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    report = result.stdout
    assert "Totals: Errors: 0;" in report, report
