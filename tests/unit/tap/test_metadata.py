"""The metadata file merged with its Parquet, and TAP_SCHEMA made from the result."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest
from tap.metadata import Column, MetadataError, load_catalogue, votable_type
from tap.tapschema import create_tap_schema, tap_schema_rows


@pytest.mark.parametrize(
    ("sql_type", "expected"),
    [
        ("BOOLEAN", ("boolean", None, None)),
        ("SMALLINT", ("short", None, None)),
        ("TINYINT", ("short", None, None)),
        ("INTEGER", ("int", None, None)),
        ("BIGINT", ("long", None, None)),
        ("FLOAT", ("float", None, None)),
        ("DOUBLE", ("double", None, None)),
        ("DECIMAL(10,2)", ("double", None, None)),
        ("VARCHAR", ("char", "*", None)),
        ("TIMESTAMP", ("char", "*", "timestamp")),
        ("TIMESTAMP WITH TIME ZONE", ("char", "*", "timestamp")),
        ("DATE", ("char", "*", "timestamp")),
        ("DOUBLE[]", ("double", "*", None)),
        ("INTEGER[3]", ("int", "3", None)),
        ("VARCHAR[]", ("char", "*", None)),
        ("HUGEINT", ("char", "*", None)),
        ("STRUCT(x INTEGER)", ("char", "*", None)),
        ("BLOB", ("unsignedByte", "*", None)),
    ],
)
def test_duckdb_types_as_votable(sql_type, expected):
    assert votable_type(sql_type) == expected


def test_the_file_adds_to_the_parquet_which_decides_the_columns(catalogue_root: Path):
    catalogue = load_catalogue(catalogue_root / "catalogue.yaml")
    stars = catalogue.table("DEMO.STARS")
    assert [c.name for c in stars.columns] == ["id", "ra", "dec", "label", "seen", "flux"]
    assert stars.description == "Some stars." and stars.utype == "demo:stars"
    assert stars.column("ra") == Column(
        "ra",
        "double",
        unit="deg",
        ucd="pos.eq.ra;meta.main",
        description="Right ascension",
        sql_type="DOUBLE",
    )
    assert stars.column("id").principal and stars.column("id").indexed
    # undescribed: from the Parquet alone
    assert stars.column("dec") == Column("dec", "float", sql_type="FLOAT")
    assert (stars.column("seen").datatype, stars.column("seen").xtype) == ("char", "timestamp")
    assert (stars.column("flux").datatype, stars.column("flux").arraysize) == ("double", "*")
    # a datatype override keeps a string's arraysize; a 1 in YAML is a flag
    assert (stars.column("label").datatype, stars.column("label").arraysize) == (
        "unicodeChar",
        "*",
    )
    assert stars.column("label").std is True
    # both files of the prefix are read
    con = duckdb.connect()
    glob = catalogue.parquet_glob(stars)
    assert con.execute(f"SELECT count(*) FROM read_parquet('{glob}')").fetchone() == (2,)
    spectra = catalogue.table("demo.spectra")
    assert catalogue.parquet_glob(spectra) == f"{catalogue_root}/demo/spectra.parquet"
    [key] = spectra.foreign_keys
    assert (key.target_table, key.columns, key.key_id) == (
        "demo.stars",
        [("star_id", "id")],
        "demo.spectra-demo.stars",
    )


def test_a_described_column_missing_from_the_parquet_is_named(catalogue_root: Path):
    path = catalogue_root / "catalogue.yaml"
    path.write_text(path.read_text().replace("{name: ra,", "{name: rra,"))
    with pytest.raises(
        MetadataError, match=r"column rra of table demo.stars is not in its Parquet"
    ):
        load_catalogue(path)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            ("ucd: meta.id;meta.main", "ucds: meta.id"),
            r"column id of table demo.stars: unknown key ucds",
        ),
        (
            ("location: demo/spectra.parquet", "location: demo/nothing/"),
            r"table demo.spectra: cannot read the Parquet at .*demo/nothing/\*\*/\*.parquet",
        ),
        (
            ("target: demo.stars", "target: demo.planets"),
            r"refers to demo.planets, which the catalogue does not have",
        ),
        (("{star_id: id}", "{star_id: nope}"), r"table demo.stars has no column nope"),
        (("datatype: unicodeChar", "datatype: string"), r"string is not a VOTable datatype"),
    ],
)
def test_malformed_files_are_refused_with_the_place(catalogue_root: Path, change, message):
    path = catalogue_root / "catalogue.yaml"
    path.write_text(path.read_text().replace(*change))
    with pytest.raises(MetadataError, match=message):
        load_catalogue(path)


def test_tap_schema_rows_agree_with_the_metadata_and_describe_tap_schema(catalogue_root: Path):
    catalogue = load_catalogue(catalogue_root / "catalogue.yaml")
    rows = tap_schema_rows(catalogue)
    assert [r[0] for r in rows["schemas"]] == ["demo", "TAP_SCHEMA"]
    assert [r[1] for r in rows["tables"]] == [
        "demo.stars",
        "demo.spectra",
        "TAP_SCHEMA.schemas",
        "TAP_SCHEMA.tables",
        "TAP_SCHEMA.columns",
        "TAP_SCHEMA.keys",
        "TAP_SCHEMA.key_columns",
    ]
    assert [r[5] for r in rows["tables"]] == list(range(1, 8))
    by_column = {(r[0], r[1]): r for r in rows["columns"]}
    assert by_column[("demo.stars", "ra")] == (
        "demo.stars",
        "ra",
        "double",
        None,
        None,
        None,
        "Right ascension",
        None,
        "deg",
        "pos.eq.ra;meta.main",
        0,
        0,
        0,
        1,
    )
    assert by_column[("demo.stars", "id")][10:13] == (1, 1, 0)
    assert by_column[("TAP_SCHEMA.columns", "column_index")][2] == "int"
    assert by_column[("TAP_SCHEMA.columns", "arraysize")][2:4] == ("char", "*")
    assert all(r[12] == 1 for r in rows["columns"] if r[0].startswith("TAP_SCHEMA."))
    # TAP_SCHEMA's columns are exactly the five tables TAP 1.1 defines
    tap_columns = {t: [r[1] for r in rows["columns"] if r[0] == t] for t in ("TAP_SCHEMA.keys",)}
    assert tap_columns["TAP_SCHEMA.keys"] == [
        "key_id",
        "from_table",
        "target_table",
        "description",
        "utype",
    ]
    assert (
        "demo.spectra-demo.stars",
        "demo.spectra",
        "demo.stars",
        "Each spectrum's star",
        None,
    ) in rows["keys"]
    assert ("demo.spectra-demo.stars", "star_id", "id") in rows["key_columns"]
    key_ids = [r[0] for r in rows["keys"]]
    assert len(key_ids) == len(set(key_ids))
    assert {r[0] for r in rows["key_columns"]} == set(key_ids)


def test_tap_schema_is_queryable_in_duckdb(catalogue_root: Path):
    con = duckdb.connect()
    catalogue = load_catalogue(catalogue_root / "catalogue.yaml", con=con)
    create_tap_schema(con, catalogue)
    create_tap_schema(con, catalogue)  # again, as a warm Lambda might: replaced, not doubled
    rows = tap_schema_rows(catalogue)
    for name, expected in rows.items():
        assert con.execute(f'SELECT * FROM "TAP_SCHEMA"."{name}"').fetchall() == expected
    assert con.execute(
        "SELECT c.column_name FROM tap_schema.columns c JOIN tap_schema.tables t"
        " USING (table_name) WHERE t.schema_name = 'demo' AND c.principal = 1"
    ).fetchall() == [("id",)]
    described = {r[0]: r[1] for r in con.execute('DESCRIBE "TAP_SCHEMA".columns').fetchall()}
    assert described["principal"] == "INTEGER" and described["arraysize"] == "VARCHAR"
