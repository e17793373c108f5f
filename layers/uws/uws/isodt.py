"""ISO 8601 times in and out, as DaCHS's parseISODT and formatISODT do.

Times out are always ``YYYY-MM-DDThh:mm:ssZ`` in UTC, rounded to whole seconds; times in may
take any of the seed's forms, plus fractional seconds of any length (pyvo sends ``.%fZ``)
and a space in place of the ``T`` (as DaCHS's parser accepts).
All datetimes here are naive and mean UTC, as in the seed.

The doctests below are the seed's own. The ``useTime=True`` leap-second example shows the
result on the (Central European) machine the seed's documentation was built on: DaCHS turns
the normalised UTC instant into *local* time there. On Lambda, where the local zone is UTC, the
same call gives ``datetime.datetime(2017, 1, 1, 0, 0)``. The test suite runs these doctests
under ``TZ=Europe/Berlin`` for that reason.

>>> parseISODT("1998-12-14")
datetime.datetime(1998, 12, 14, 0, 0)
>>> parseISODT("1998-12-14T13:30:12")
datetime.datetime(1998, 12, 14, 13, 30, 12)
>>> parseISODT("1998-12-14T13:30:12Z")
datetime.datetime(1998, 12, 14, 13, 30, 12)
>>> parseISODT("1998-12-14T13:30:12.224Z")
datetime.datetime(1998, 12, 14, 13, 30, 12, 224000)
>>> parseISODT("19981214T133012Z")
datetime.datetime(1998, 12, 14, 13, 30, 12)
>>> parseISODT("19981214T133012+00:00")
datetime.datetime(1998, 12, 14, 13, 30, 12)
>>> parseISODT("2016-12-31T23:59:60")
Traceback (most recent call last):
ValueError: second must be in 0..59
>>> parseISODT("2016-12-31T23:59:60", useTime=True)
datetime.datetime(2017, 1, 1, 1, 0)
>>> parseISODT("junk")
Traceback (most recent call last):
ValueError: Bad ISO datetime literal: junk (required format: yyyy-mm-ddThh:mm:ssZ)
>>> formatISODT(datetime.datetime(2015, 10, 20, 12, 34, 22, 250))
'2015-10-20T12:34:22Z'
>>> formatISODT(datetime.datetime(1815, 10, 20, 12, 34, 22, 250))
'1815-10-20T12:34:22Z'
>>> formatISODT(datetime.datetime(2018, 9, 21, 23, 59, 59, 640000))
'2018-09-22T00:00:00Z'
"""

from __future__ import annotations

import calendar
import datetime
import re

__all__ = ["formatISODT", "parseISODT", "utcnow"]

# A date, optionally a time with seconds (fractions of any length) and a UTC designator,
# in extended (with separators) or basic (compact) form. Only UTC offsets are accepted.
_ISO_LITERAL = re.compile(
    r"""(?P<year>\d{4})(?P<dsep>-?)(?P<month>\d\d)(?P=dsep)(?P<day>\d\d)
        (?:[T\ ](?P<hour>\d\d)(?P<tsep>:?)(?P<minute>\d\d)(?P=tsep)(?P<second>\d\d)
           (?:\.(?P<fraction>\d+))?
           (?:Z|[+-]00:?00)?
        )?""",
    re.VERBOSE | re.ASCII,
)


def utcnow() -> datetime.datetime:
    """The current time as a naive UTC datetime, the representation used throughout."""
    return datetime.datetime.now(datetime.UTC).replace(tzinfo=None)


def parseISODT(literal: str, useTime: bool = False) -> datetime.datetime:
    """Return a naive UTC datetime for an ISO 8601 literal, or raise ValueError.

    ``useTime=True`` lets a leap second (``:60``) through by normalising it via time tuples,
    as the seed does.
    """
    match = _ISO_LITERAL.fullmatch(literal.strip())
    if match is None:
        raise ValueError(
            f"Bad ISO datetime literal: {literal} (required format: yyyy-mm-ddThh:mm:ssZ)"
        )
    parts = [int(match[name] or 0) for name in ("year", "month", "day", "hour", "minute", "second")]
    microsecond = int((match["fraction"] or "0")[:6].ljust(6, "0"))
    if useTime:
        # Like the seed: let time tuples normalise the leap second, then express the instant
        # in the machine's local zone (UTC on Lambda).
        seconds = calendar.timegm((*parts, 0, 0, 0))
        return datetime.datetime.fromtimestamp(seconds).replace(microsecond=microsecond)
    return datetime.datetime(*parts, microsecond)


def formatISODT(dt: datetime.datetime | str | None) -> str | None:
    """Return ``dt`` as ``YYYY-MM-DDThh:mm:ssZ``, rounded to the nearest whole second.

    Strings are parsed first (validation plus DALI-compliant output); None stays None.
    """
    if dt is None:
        return None
    if isinstance(dt, str):
        dt = parseISODT(dt)
    if dt.microsecond >= 500000:
        dt += datetime.timedelta(seconds=1)
    # Build by hand: strftime pads years below 1000 inconsistently across platforms.
    return (
        f"{dt.year:04d}-{dt.month:02d}-{dt.day:02d}T{dt.hour:02d}:{dt.minute:02d}:{dt.second:02d}Z"
    )
