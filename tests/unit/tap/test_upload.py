"""Uploads: astropy's VOTables read exactly, anything else refused in a sentence, and the rows
in DuckDB with matching types."""

from __future__ import annotations

import io
import math

import duckdb
import numpy as np
import pytest
from astropy.table import MaskedColumn, Table
from tap.metadata import Column
from tap.upload import UploadTable, load_table, read_votable, upload_sql_type
from tap.votable import VOTableError, write_votable


def astropy_votable(serialization: str) -> bytes:
    table = Table()
    # BINARY has no nulls mask: astropy refuses a masked integer there without a VALUES null
    table["i"] = MaskedColumn(
        [1, -2, 3], mask=[False, serialization != "binary", False], dtype=np.int32
    )
    table["l"] = np.array([2**40, 0, -1], dtype=np.int64)
    table["d"] = MaskedColumn([1.5, math.nan, 3.25], mask=[False, False, True], unit="deg")
    table["f"] = np.array([0.5, 1024.0, -2.0], dtype=np.float32)
    table["s"] = ["a", 'b"c<&>', "ünï"]
    table["b"] = [True, False, True]
    table["arr"] = [[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]
    table["d"].meta["ucd"] = "pos.eq.ra"
    out = io.BytesIO()
    table.write(out, format="votable", tabledata_format=serialization)
    return out.getvalue()


@pytest.mark.parametrize("serialization", ["tabledata", "binary", "binary2"])
def test_astropy_written_votables_are_read_exactly(serialization):
    upload = read_votable(astropy_votable(serialization))
    assert [(c.name, c.datatype, c.arraysize, c.unit) for c in upload.columns] == [
        ("i", "int", None, None),
        ("l", "long", None, None),
        ("d", "double", None, "deg"),
        ("f", "float", None, None),
        ("s", "unicodeChar", "6", None),
        ("b", "bit", None, None),
        ("arr", "double", "2", None),
    ]
    i_null = -2 if serialization == "binary" else None
    d_null = math.nan if serialization == "binary" else None  # BINARY's only float null is NaN
    expected = [
        (1, 2**40, 1.5, 0.5, "a", True, [1.0, 2.0]),
        (i_null, 0, math.nan, 1024.0, 'b"c<&>', False, [3.0, 4.0]),
        (3, -1, d_null, -2.0, "ünï", True, [5.0, 6.0]),
    ]
    for got, want in zip(upload.rows, expected, strict=True):
        assert len(got) == len(want)
        for g, w in zip(got, want, strict=True):
            assert (g is None and w is None) or g == w or (math.isnan(g) and math.isnan(w)), (g, w)


def test_our_own_output_reads_back_and_loads_with_its_types():
    columns = [
        Column.from_sql("id", "BIGINT"),
        Column.from_sql("ra", "DOUBLE"),
        Column.from_sql("name", "VARCHAR"),
        Column.from_sql("ok", "BOOLEAN"),
        Column.from_sql("seen", "TIMESTAMP"),
        Column.from_sql("flux", "FLOAT[]"),
        Column.from_sql("n", "SMALLINT"),
    ]
    rows = [
        (1, 1.5, 'quote " comma , newline \n', True, "2020-01-02T03:04:05.5", [1.0, None], 3),
        (2, None, "", False, None, [], None),
        (None, math.inf, None, None, "1999-12-31T23:59:59", None, -1),
    ]
    for serialization in ("TABLEDATA", "BINARY2"):
        out = io.BytesIO()
        write_votable(out, columns, [rows], serialization=serialization)
        upload = read_votable(out.getvalue())
        con = duckdb.connect()
        load_table(con, "mine", upload, schema="TAP_UPLOAD")
        types = [r[1] for r in con.execute('DESCRIBE "TAP_UPLOAD".mine').fetchall()]
        assert types == [
            "BIGINT",
            "DOUBLE",
            "VARCHAR",
            "BOOLEAN",
            "TIMESTAMP",
            "FLOAT[]",
            "SMALLINT",
        ]
        got = con.execute(
            "SELECT id, ra, name, ok, strftime(seen, '%Y-%m-%dT%H:%M:%S.%g'), flux, n"
            ' FROM "TAP_UPLOAD".mine ORDER BY rowid'
        ).fetchall()
        # in TABLEDATA an empty TD is NULL, whatever the type; BINARY2 has its nulls mask
        empty = None if serialization == "TABLEDATA" else ""
        no_items = None if serialization == "TABLEDATA" else []
        assert [r[0] for r in got] == [1, 2, None] and got[2][1] == math.inf
        assert got[0][2] == 'quote " comma , newline \n' and got[1][2] == empty
        assert got[0][4] == "2020-01-02T03:04:05.500" and got[1][4] is None
        assert got[0][5][0] == 1.0 and math.isnan(got[0][5][1]) and got[1][5] == no_items
        assert [r[3] for r in got] == [True, False, None] and [r[6] for r in got] == [3, None, -1]


@pytest.mark.parametrize(
    ("document", "message"),
    [
        (b"", "the upload is not well-formed XML"),
        (b"id,ra\n1,2\n", "the upload is not well-formed XML"),
        (b"<html><body/></html>", "the upload is not a VOTable: its root element is html"),
        (
            b'<VOTABLE xmlns="http://www.ivoa.net/xml/VOTable/v1.3"><RESOURCE/></VOTABLE>',
            "the upload is a VOTable without a TABLE",
        ),
        (
            b'<VOTABLE><RESOURCE><TABLE><FIELD name="a" datatype="int"/><DATA><FITS><STREAM '
            b'href="http://example.org/x.fits"/></FITS></DATA></TABLE></RESOURCE></VOTABLE>',
            "serialised as FITS, which this service does not read",
        ),
        (
            b'<VOTABLE><RESOURCE><TABLE><FIELD name="a" datatype="int"/><DATA><BINARY><STREAM '
            b'href="http://example.org/x"/></BINARY></DATA></TABLE></RESOURCE></VOTABLE>',
            "a STREAM by reference",
        ),
        (
            b'<VOTABLE><RESOURCE><TABLE><FIELD name="a" datatype="int"/><DATA><TABLEDATA>'
            b"<TR><TD>x</TD></TR></TABLEDATA></DATA></TABLE></RESOURCE></VOTABLE>",
            "row 1 of the upload: invalid literal",
        ),
        (
            b'<VOTABLE><RESOURCE><TABLE><FIELD name="a" datatype="int"/><DATA><TABLEDATA>'
            b"<TR><TD>1</TD><TD>2</TD></TR></TABLEDATA></DATA></TABLE></RESOURCE></VOTABLE>",
            "row 1 of the upload has 2 cells for 1 columns",
        ),
        (
            b'<VOTABLE><RESOURCE><TABLE><FIELD name="z" datatype="doubleComplex"/></TABLE>'
            b"</RESOURCE></VOTABLE>",
            "column z of the upload is complex",
        ),
        (
            b'<VOTABLE><RESOURCE><TABLE><FIELD name="a" datatype="int"/><DATA><BINARY2><STREAM '
            b'encoding="base64">AAAA</STREAM></BINARY2></DATA></TABLE></RESOURCE></VOTABLE>',
            "the upload's binary STREAM ends within a row",
        ),
    ],
)
def test_what_is_not_a_readable_votable_is_refused_in_a_sentence(document, message):
    with pytest.raises(VOTableError, match=message):
        read_votable(document)


def test_entities_are_not_expanded_nor_fetched(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("SECRET")
    document = (
        f'<?xml version="1.0"?><!DOCTYPE VOTABLE [<!ENTITY x SYSTEM "file://{secret}">'
        '<!ENTITY lol "lollollol">]>'
        '<VOTABLE><RESOURCE><TABLE><FIELD name="a" datatype="char" arraysize="*"/><DATA>'
        "<TABLEDATA><TR><TD>&x;</TD></TR><TR><TD>&lol;&lol;</TD></TR></TABLEDATA></DATA>"
        "</TABLE></RESOURCE></VOTABLE>"
    ).encode()
    rows = read_votable(document).rows
    assert "SECRET" not in repr(rows) and "lol" not in repr(rows)


def test_values_null_of_an_integer_column_is_null_and_hex_is_read():
    document = (
        b'<VOTABLE><RESOURCE><TABLE><FIELD name="a" datatype="short"><VALUES null="-99"/>'
        b"</FIELD><DATA><TABLEDATA><TR><TD>-99</TD></TR><TR><TD>0x1F</TD></TR></TABLEDATA>"
        b"</DATA></TABLE></RESOURCE></VOTABLE>"
    )
    assert read_votable(document).rows == [(None,), (31,)]


def test_two_columns_of_one_name_are_refused_at_load():
    upload = UploadTable("t", [Column("a", "int"), Column("A", "int")], [(1, 2)])
    with pytest.raises(VOTableError, match="two columns named A"):
        load_table(duckdb.connect(), "t", upload)


@pytest.mark.parametrize(
    ("column", "sql_type"),
    [
        (Column("a", "unsignedByte"), "UTINYINT"),
        (Column("a", "bit"), "BOOLEAN"),
        (Column("a", "char", "*"), "VARCHAR"),
        (Column("a", "char", "*", xtype="timestamp"), "TIMESTAMP"),
        (Column("a", "int", "3"), "INTEGER[]"),
        (Column("a", "double", "*"), "DOUBLE[]"),
    ],
)
def test_upload_types(column, sql_type):
    assert upload_sql_type(column) == sql_type
