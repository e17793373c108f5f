"""UWS request values: integers, durations, times and runIds as clients send them, and the
400 with a sentence for each way they can be wrong."""

from __future__ import annotations

import datetime
import re

from ..errors import BadRequest, shown
from ..isodt import parseISODT
from ..job import MAX_RUN_ID_LENGTH
from ..jobtypes import check_xml_text
from ..phases import Phase
from .http import Request

_INTEGER = re.compile(r"\s*[+-]?[0-9]{1,18}\s*")


def parse_integer(literal: str) -> int | None:
    """A plain decimal integer (ASCII digits, no separators), or None."""
    return int(literal) if _INTEGER.fullmatch(literal) else None


def parse_execution_duration(literal: str) -> int:
    seconds = parse_integer(literal)
    if seconds is None:
        raise BadRequest(
            f"EXECUTIONDURATION must be a whole number of seconds, not {shown(literal)}."
        )
    if seconds < 0:
        raise BadRequest("EXECUTIONDURATION must not be negative.")
    return seconds


def parse_time(parameter: str, literal: str) -> datetime.datetime:
    try:
        return parseISODT(literal)
    except ValueError as error:
        reason = str(error)
        if len(literal) > 64:  # the seed's message quotes the literal: keep it short
            reason = reason.replace(literal, shown(literal).strip("'\""))
        raise BadRequest(f"{parameter}: {reason}.") from None
    except OverflowError:
        raise BadRequest(f"{parameter}: {shown(literal)} is out of range.") from None


def parse_run_id(request: Request) -> str | None:
    """RUNID, if given and not empty (an HTML form sends an empty field as "")."""
    run_id = request.value("RUNID") or None
    if run_id is not None:
        if len(run_id) > MAX_RUN_ID_LENGTH:
            raise BadRequest(f"RUNID must be at most {MAX_RUN_ID_LENGTH} characters long.")
        check_xml_text("RUNID", run_id)
    return run_id


def parse_wait(request: Request, cap: int) -> float | None:
    """WAIT in seconds, -1 meaning as long as allowed, at most ``cap``; None if not given."""
    literal = request.value("WAIT")
    if literal is None:
        return None
    seconds = parse_integer(literal)
    if seconds is None:
        raise BadRequest(f"WAIT must be an integer number of seconds, not {shown(literal)}.")
    if seconds < -1:
        raise BadRequest("WAIT must be -1 (wait as long as allowed) or a number of seconds ≥ 0.")
    return float(cap) if seconds == -1 else float(min(seconds, cap))


def parse_phase(request: Request) -> Phase | None:
    """The PHASE a WAIT waits in, if given."""
    literal = request.value("PHASE")
    return None if literal is None else phase_named(literal, "EXECUTING")


def parse_phases(request: Request) -> frozenset[Phase]:
    """The PHASEs a job list is filtered by (repeatable: any of them)."""
    return frozenset(phase_named(literal, "COMPLETED") for literal in request.values("PHASE"))


def phase_named(literal: str, example: str) -> Phase:
    """A UWS phase by its exact name (values are case-sensitive: ``run`` is no phase)."""
    try:
        return Phase(literal)
    except ValueError:
        raise BadRequest(
            f"PHASE must be a UWS phase such as {example}, not {shown(literal)}."
        ) from None
