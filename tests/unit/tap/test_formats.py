"""RESPONSEFORMAT to writers: each format written from a query, read back by its readers."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest
from astropy.io.votable import parse
from astropy.table import Table
from tap.formats import FORMATS, Result, UnknownFormat, resolve, write_result
from tap.metadata import Column

QUERY = (
    "SELECT * FROM (VALUES (1, 10.5, 'a,\"b\"', TIMESTAMP '2020-01-02 03:04:05', true),"
    " (2, NULL, NULL, NULL, NULL), (3, -1.25, 'tab\there', NULL, false))"
    " AS t(id, ra, name, seen, ok) ORDER BY id"
)
COLUMNS = [
    Column.from_sql("id", "INTEGER", ucd="meta.id;meta.main"),
    Column.from_sql("ra", "DECIMAL(5,2)", unit="deg", ucd="pos.eq.ra", description="RA"),
    Column.from_sql("name", "VARCHAR"),
    Column.from_sql("seen", "TIMESTAMP"),
    Column.from_sql("ok", "BOOLEAN"),
]


@pytest.mark.parametrize(
    ("value", "name"),
    [
        (None, "votable"),
        ("", "votable"),
        ("votable", "votable"),
        ("VOTable/TD", "votable"),
        ("application/x-votable+xml", "votable"),
        ("application/x-votable+xml; serialization=TABLEDATA", "votable"),
        ("text/xml", "votable"),
        ("application/x-votable+xml;serialization=BINARY2", "votable/b2"),
        ("votable/b2", "votable/b2"),
        ("votableb2", "votable/b2"),
        ("csv", "csv"),
        ("text/csv", "csv"),
        ("text/csv;header=present", "csv"),
        ("tsv", "tsv"),
        ("text/tab-separated-values", "tsv"),
        ("parquet", "parquet"),
        ("application/vnd.apache.parquet", "parquet"),
    ],
)
def test_responseformat_values(value, name):
    assert resolve(value).name == name


def test_an_unknown_format_lists_the_known_ones():
    with pytest.raises(UnknownFormat) as caught:
        resolve("application/fits")
    message = str(caught.value)
    assert message.startswith("RESPONSEFORMAT 'application/fits' is not one this service writes")
    for output in FORMATS.values():
        assert output.name in message and output.mime in message


@pytest.mark.parametrize("name", ["votable", "votable/b2"])
def test_votable_results(tmp_path: Path, name):
    path = str(tmp_path / "result.xml")
    output, written = write_result(Result(duckdb.connect(), QUERY, COLUMNS, 2, "ADQL"), name, path)
    assert (written.rows, written.overflow) == (2, True)
    votable = parse(path)
    table = votable.get_first_table().to_table()
    assert table["id"].tolist() == [1, 2] and table["ra"][0] == 10.5 and table["ra"].mask[1]
    assert str(table["ra"].unit) == "deg" and table["seen"][0] == "2020-01-02T03:04:05"
    statuses = [i.value for i in votable.resources[0].infos if i.name == "QUERY_STATUS"]
    assert statuses == ["OK", "OVERFLOW"]
    assert output.mime.startswith("application/x-votable+xml")


def test_votable_columns_from_duckdb_when_none_are_given(tmp_path: Path):
    path = str(tmp_path / "result.xml")
    _, written = write_result(Result(duckdb.connect(), QUERY + ";"), None, path)
    assert (written.rows, written.overflow) == (3, False)
    fields = parse(path).get_first_table().fields
    assert [(f.name, f.datatype) for f in fields] == [
        ("id", "int"),
        ("ra", "double"),
        ("name", "char"),
        ("seen", "char"),
        ("ok", "boolean"),
    ]


@pytest.mark.parametrize(("name", "delimiter"), [("csv", ","), ("tsv", "\t")])
def test_delimited_results(tmp_path: Path, name, delimiter):
    path = tmp_path / f"result.{name}"
    _, written = write_result(Result(duckdb.connect(), QUERY, None, 10), name, str(path))
    assert (written.rows, written.overflow) == (3, False)
    with open(path, newline="", encoding="utf-8") as text:
        rows = list(csv.reader(text, delimiter=delimiter))
    assert rows == [
        ["id", "ra", "name", "seen", "ok"],
        ["1", "10.50", 'a,"b"', "2020-01-02T03:04:05", "true"],  # a DECIMAL(4,2)
        ["2", "", "", "", ""],
        ["3", "-1.25", "tab\there", "", "false"],
    ]
    if name == "csv":  # RFC 4180: CRLF, doubled quotes
        assert 'a,""b""' in path.read_text() and path.read_bytes().endswith(b"false\r\n")
    _, written = write_result(Result(duckdb.connect(), QUERY, None, 1), name, str(path))
    assert (written.rows, written.overflow) == (1, True) and len(path.read_text().splitlines()) == 2


@pytest.mark.filterwarnings("ignore:No table..len")  # astropy: pandas-less string sizes
def test_parquet_results_carry_the_voparquet_metadata(tmp_path: Path):
    path = str(tmp_path / "result.parquet")
    output, written = write_result(
        Result(duckdb.connect(), QUERY, COLUMNS, 2, "SELECT 1"), "parquet", path
    )
    assert (written.rows, written.overflow) == (2, True)
    assert output.mime == "application/vnd.apache.parquet"
    metadata = pq.read_metadata(path).metadata
    assert metadata[b"IVOA.VOTable-Parquet.version"] == b"1.0"
    document = parse(io.BytesIO(metadata[b"IVOA.VOTable-Parquet.content"]))
    first = document.get_first_table()
    assert first.array is None or len(first.array) == 0  # no DATA
    assert [f.name for f in first.fields] == pq.read_schema(path).names
    assert [i.value for i in document.resources[0].infos if i.name == "QUERY_STATUS"] == [
        "OK",
        "OVERFLOW",
    ]
    assert pq.read_table(path).column("id").to_pylist() == [1, 2]
    # astropy 8's Parquet reader fails on a NULL string (len(None)): a result without one
    without = f"SELECT * FROM ({QUERY}) WHERE name IS NOT NULL AND seen IS NOT NULL"
    write_result(Result(duckdb.connect(), without, COLUMNS, None, "SELECT 1"), "parquet", path)
    table = Table.read(path, format="parquet.votable")
    assert str(table["ra"].unit) == "deg" and table["ra"].meta["ucd"] == "pos.eq.ra"
    assert table["ra"].description == "RA" and table["id"].tolist() == [1]
    # the DECIMAL a double, the timestamp a DALI string, as their FIELDs say
    assert table["ra"].tolist() == [10.5] and table["seen"].tolist() == ["2020-01-02T03:04:05"]
    assert table["name"].tolist() == ['a,"b"']


def test_parquet_without_maxrec_is_the_whole_result(tmp_path: Path):
    path = str(tmp_path / "result.parquet")
    _, written = write_result(Result(duckdb.connect(), QUERY), "parquet", path)
    assert (written.rows, written.overflow) == (3, False)
    content = pq.read_metadata(path).metadata[b"IVOA.VOTable-Parquet.content"]
    assert b"OVERFLOW" not in content and pq.read_table(path).num_rows == 3
