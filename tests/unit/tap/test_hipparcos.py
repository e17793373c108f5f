"""The Hipparcos-2 demo catalogue: hip2.dat converted whole (0.3 s) and described."""

from __future__ import annotations

import math
from pathlib import Path

import duckdb
import pytest
import yaml
from tap.metadata import load_catalogue
from tap.tapschema import tap_schema_rows

from local import hipparcos


@pytest.fixture(scope="module")
def root(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("hipparcos")
    assert hipparcos.main([str(out)]) == 0
    return out


def test_every_star_with_its_values_in_degrees(root: Path):
    con = duckdb.connect()
    catalogue = load_catalogue(root / "catalogue.yaml", con=con)
    main = catalogue.table("hipparcos.main")
    scan = f"read_parquet('{catalogue.parquet_glob(main)}')"
    assert con.execute(f"SELECT count(*), count(DISTINCT hip) FROM {scan}").fetchone() == (
        117_955,
        117_955,
    )
    # HIP 32349, Sirius; its line of hip2.dat, radians to degrees
    line = next(text for text in hipparcos.source_path().open() if text.startswith(" 32349 "))
    sirius = con.execute(f"SELECT * FROM {scan} WHERE hip = 32349").fetchone()
    row = dict(zip([c.name for c in main.columns], sirius, strict=True))
    assert row["ra"] == pytest.approx(math.degrees(float(line[15:28])), abs=1e-12)
    assert row["dec"] == pytest.approx(math.degrees(float(line[29:42])), abs=1e-12)
    assert (row["plx"], row["pmra"], row["pmde"], row["e_plx"]) == (379.21, -546.01, -1223.07, 1.58)
    assert (row["hpmag"], row["b_v"], row["v_i"]) == (-1.0876, 0.009, -0.02)
    assert con.execute(
        f"SELECT min(ra) >= 0, max(ra) < 360, min(dec) >= -90, max(dec) <= 90 FROM {scan}"
    ).fetchone() == (True, True, True, True)


def test_the_metadata_describes_every_column_with_units_and_ucds(root: Path):
    catalogue = load_catalogue(root / "catalogue.yaml")
    main = catalogue.table("hipparcos.main")
    described = yaml.safe_load(hipparcos.METADATA.read_text())["schemas"][0]["tables"][0]
    assert [c["name"] for c in described["columns"]] == [c.name for c in main.columns]
    assert [c.name for c in main.columns] == [f[0] for f in hipparcos.FIELDS]
    units = {c.name: c.unit for c in main.columns}
    assert (units["ra"], units["plx"], units["pmra"], units["hpmag"]) == (
        "deg",
        "mas",
        "mas/yr",
        "mag",
    )
    ucds = {c.name: c.ucd for c in main.columns}
    assert ucds["hip"] == "meta.id;meta.main" and ucds["ra"] == "pos.eq.ra;meta.main"
    assert ucds["b_v"] == "phot.color;em.opt.B;em.opt.V" and ucds["plx"] == "pos.parallax.trig"
    assert all(c.description for c in main.columns)
    assert "van Leeuwen 2007" in main.description and "I/311" in main.description
    principal = [
        r[1] for r in tap_schema_rows(catalogue)["columns"] if r[0] == "hipparcos.main" and r[11]
    ]
    assert principal == ["hip", "ra", "dec", "plx", "pmra", "pmde", "hpmag", "b_v", "v_i"]


def test_a_head_of_the_file(tmp_path: Path):
    assert hipparcos.convert(tmp_path, limit=10) == 10
    con = duckdb.connect()
    hips = con.execute(f"SELECT hip FROM '{tmp_path}/hipparcos/main/hip2.parquet'").fetchall()
    assert hips == [(i,) for i in range(1, 11)]
