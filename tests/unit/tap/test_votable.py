"""Our VOTables as astropy and pyvo read them: values, NULLs, units, OVERFLOW, the error."""

from __future__ import annotations

import datetime
import io
import math

import numpy as np
import pytest
from astropy.io.votable import parse
from pyvo.dal import DALQueryError
from pyvo.dal.tap import TAPResults
from tap.metadata import Column
from tap.upload import read_votable
from tap.votable import error_document, write_votable

COLUMNS = [
    Column.from_sql("id", "BIGINT", ucd="meta.id;meta.main", description='a <key> & "more"'),
    Column.from_sql("ra", "DOUBLE", unit="deg", ucd="pos.eq.ra"),
    Column.from_sql("mag", "FLOAT", unit="mag"),
    Column.from_sql("n", "INTEGER"),
    Column.from_sql("s", "SMALLINT"),
    Column.from_sql("name", "VARCHAR"),
    Column.from_sql("flag", "BOOLEAN"),
    Column.from_sql("seen", "TIMESTAMP"),
    Column.from_sql("flux", "DOUBLE[]", unit="Jy"),
    Column.from_sql("count(*)", "BIGINT"),
    Column.from_sql("text", "VARCHAR", datatype="unicodeChar"),
]
ROWS = [
    (
        2**62,
        10.123456789012345,
        0.25,
        -7,
        3,
        "a<b & c\r\n'd'",
        True,
        datetime.datetime(2020, 1, 2, 3, 4, 5, 500000),
        [1.0, 2.5],
        7,
        "ü",
    ),
    (None,) * 11,
    (
        3,
        math.nan,
        math.inf,
        0,
        -1,
        "héllo ✓",
        False,
        datetime.datetime(1999, 1, 1),
        [],
        0,
        "héllo ✓",
    ),
    (4, -math.inf, -1e-30, 2**31 - 1, 2**15 - 1, "ctl\x01", True, None, [math.nan], 1, ""),
]


def written(serialization: str, maxrec: int | None = None, rows=ROWS, query=None):
    out = io.BytesIO()
    result = write_votable(
        out, COLUMNS, [rows[:2], rows[2:]], serialization=serialization, maxrec=maxrec, query=query
    )
    return result, out.getvalue()


@pytest.mark.parametrize("serialization", ["TABLEDATA", "BINARY2"])
def test_astropy_reads_values_nulls_and_metadata_exactly(serialization):
    result, data = written(serialization, query="SELECT * FROM t WHERE a < 'b'")
    assert (result.rows, result.overflow) == (4, False)
    votable = parse(io.BytesIO(data), verify="ignore")
    table = votable.get_first_table()
    fields = {f.name: f for f in table.fields}
    assert str(fields["ra"].unit) == "deg" and fields["ra"].ucd == "pos.eq.ra"
    assert fields["id"].description == 'a <key> & "more"'
    assert fields["seen"].xtype == "timestamp"
    assert [f.datatype for f in table.fields] == [
        "long",
        "double",
        "float",
        "int",
        "short",
        "char",
        "boolean",
        "char",
        "double",
        "long",
        "unicodeChar",
    ]
    t = table.to_table()
    assert t["id"][0] == 2**62 and t["id"].mask.tolist() == [False, True, False, False]
    assert t["ra"][0] == 10.123456789012345 and t["ra"][3] == -np.inf
    assert np.isnan(table.array.data["ra"][2]) and t["ra"].mask[2]  # NaN: a float null
    assert t["mag"].dtype == np.float32 and t["mag"][0] == 0.25 and t["mag"][2] == np.inf
    assert t["n"].tolist()[2:] == [0, 2**31 - 1] and t["n"].mask[1]
    assert t["s"].tolist()[2:] == [-1, 2**15 - 1]
    assert t["name"][0] == "a<b & c\r\n'd'"
    # char is ASCII in VOTable 1.4: TABLEDATA's XML carries any text, BINARY2 writes '?'
    assert t["name"][2] == ("héllo ✓" if serialization == "TABLEDATA" else "h?llo ?")
    assert t["text"][0] == "ü" and t["text"][2] == "héllo ✓"
    # XML cannot hold U+0001; a binary stream can
    assert t["name"][3] == ("ctl\ufffd" if serialization == "TABLEDATA" else "ctl\x01")
    assert t["flag"].tolist()[0] is True and t["flag"].mask.tolist() == [False, True, False, False]
    assert t["seen"][0] == "2020-01-02T03:04:05.500000" and t["seen"][2] == "1999-01-01T00:00:00"
    assert list(t["flux"][0]) == [1.0, 2.5] and len(t["flux"][2]) == 0
    assert t["count___"].tolist()[2:] == [0, 1]
    infos = {i.name: i.value for i in votable.resources[0].infos}
    assert infos == {"QUERY_STATUS": "OK", "QUERY": "SELECT * FROM t WHERE a < 'b'"}


@pytest.mark.parametrize("serialization", ["TABLEDATA", "BINARY2"])
def test_maxrec_cuts_and_a_trailing_info_says_overflow(serialization):
    result, data = written(serialization, maxrec=3)
    assert (result.rows, result.overflow) == (3, True)
    votable = parse(io.BytesIO(data))
    assert len(votable.get_first_table().array) == 3
    statuses = [i.value for i in votable.resources[0].infos if i.name == "QUERY_STATUS"]
    assert statuses == ["OK", "OVERFLOW"]
    assert data.index(b'value="OVERFLOW"') > data.index(b"</TABLE>")
    # exactly MAXREC rows is not an overflow
    result, data = written(serialization, maxrec=4)
    assert (result.rows, result.overflow) == (4, False) and b"OVERFLOW" not in data
    assert len(TAPResults(parse(io.BytesIO(data)), url="http://x")) == 4


def test_binary2_streams_many_rows_across_batches_and_base64_chunks():
    columns = [Column.from_sql("i", "INTEGER"), Column.from_sql("s", "VARCHAR")]
    rows = [(i, None if i % 5 == 0 else "x" * (i % 17)) for i in range(30_000)]
    out = io.BytesIO()
    write_votable(
        out,
        columns,
        [rows[i : i + 7_000] for i in range(0, 30_000, 7_000)],
        serialization="BINARY2",
    )
    t = parse(io.BytesIO(out.getvalue())).get_first_table().to_table()
    assert t["i"].tolist() == list(range(30_000))
    # astropy reads a NULL string's set bit as "", our reader as None
    assert t["s"].tolist() == [r[1] or "" for r in rows]
    assert read_votable(out.getvalue()).rows == rows


def test_the_error_document_is_what_pyvo_raises():
    message = 'Column "foo" does not exist (line 1, column 8) & <more>'
    votable = parse(io.BytesIO(error_document(message, query="SELECT foo FROM t")))
    [status] = [i for i in votable.resources[0].infos if i.name == "QUERY_STATUS"]
    assert status.value == "ERROR" and status.content == message
    with pytest.raises(DALQueryError, match=r'Column "foo" does not exist'):
        TAPResults(votable, url="http://x")
