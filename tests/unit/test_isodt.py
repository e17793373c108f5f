"""The seed's parseISODT/formatISODT doctests, and the forms clients send besides."""

import datetime
import doctest
import os
import time

import pytest
from uws import isodt
from uws.isodt import formatISODT, parseISODT


@pytest.fixture
def berlin_time():
    """The seed's leap-second doctest was produced on a Central European machine."""
    old = os.environ.get("TZ")
    os.environ["TZ"] = "Europe/Berlin"
    time.tzset()
    yield
    if old is None:
        del os.environ["TZ"]
    else:
        os.environ["TZ"] = old
    time.tzset()


def test_the_seeds_doctests_pass(berlin_time):
    result = doctest.testmod(isodt, raise_on_error=False)
    assert result.attempted == 12 and result.failed == 0


def test_leap_second_on_lambda_where_local_time_is_utc():
    old = os.environ.get("TZ")
    os.environ["TZ"] = "UTC"
    time.tzset()
    try:
        assert parseISODT("2016-12-31T23:59:60", useTime=True) == datetime.datetime(2017, 1, 1)
    finally:
        if old is None:
            del os.environ["TZ"]
        else:
            os.environ["TZ"] = old
        time.tzset()


@pytest.mark.parametrize(
    "literal, expected",
    [
        (
            "2024-02-29T12:00:00.123456Z",
            datetime.datetime(2024, 2, 29, 12, 0, 0, 123456),
        ),  # pyvo's .%fZ
        ("2024-02-29T12:00:00.1Z", datetime.datetime(2024, 2, 29, 12, 0, 0, 100000)),
        ("2024-02-29T12:00:00.123456789Z", datetime.datetime(2024, 2, 29, 12, 0, 0, 123456)),
        ("2024-02-29T12:00:00-00:00", datetime.datetime(2024, 2, 29, 12)),
        ("20240229T120000+0000", datetime.datetime(2024, 2, 29, 12)),
        (" 2024-02-29T12:00:00Z ", datetime.datetime(2024, 2, 29, 12)),
        # a space for the T, as DaCHS's parser takes it (the IVOA validators send it)
        ("2024-02-29 12:00:00", datetime.datetime(2024, 2, 29, 12)),
        ("2024-02-29 12:00:00.5Z", datetime.datetime(2024, 2, 29, 12, 0, 0, 500000)),
    ],
)
def test_more_accepted_forms(literal, expected):
    assert parseISODT(literal) == expected


@pytest.mark.parametrize(
    "literal",
    ["", "2024", "2024-02-29T12:00", "2024-02-29T12:00:00+01:00", "2024-02-29  12:00:00", "2024-02-29\t12:00:00", "2024-0229",
     "2024-02-29T12:00:00.Z", "2024-02-29T12:00:00ZZ", "\uff12\uff10\uff12\uff14-02-29", "2024-02-30", "2024-02-29T24:00:00"],
)  # fmt: skip
def test_rejected_forms(literal):
    with pytest.raises(ValueError):
        parseISODT(literal)


def test_format_rounds_and_passes_none_and_parses_strings():
    assert formatISODT(None) is None
    assert (
        formatISODT(datetime.datetime(2020, 12, 31, 23, 59, 59, 500000)) == "2021-01-01T00:00:00Z"
    )
    assert formatISODT(datetime.datetime(2020, 1, 1, 0, 0, 0, 499999)) == "2020-01-01T00:00:00Z"
    assert formatISODT("20200101T000000Z") == "2020-01-01T00:00:00Z"
    assert formatISODT(datetime.datetime(5, 1, 1)) == "0005-01-01T00:00:00Z"
