"""UWS execution phases and the one table of legal transitions used everywhere."""

from __future__ import annotations

from enum import StrEnum


class Phase(StrEnum):
    PENDING = "PENDING"
    QUEUED = "QUEUED"
    EXECUTING = "EXECUTING"
    COMPLETED = "COMPLETED"
    ERROR = "ERROR"
    ABORTED = "ABORTED"
    UNKNOWN = "UNKNOWN"
    HELD = "HELD"
    SUSPENDED = "SUSPENDED"
    ARCHIVED = "ARCHIVED"


ACTIVE = frozenset({Phase.PENDING, Phase.QUEUED, Phase.EXECUTING})
"""Phases in which a job may still change on its own; WAIT blocks only in these."""


TRANSITIONS: dict[Phase, frozenset[Phase]] = {
    Phase.PENDING: frozenset({Phase.QUEUED, Phase.HELD, Phase.ABORTED}),
    Phase.HELD: frozenset({Phase.QUEUED, Phase.ABORTED}),  # the owner's quota was full at RUN
    Phase.QUEUED: frozenset({Phase.EXECUTING, Phase.ABORTED, Phase.ERROR}),
    Phase.EXECUTING: frozenset({Phase.COMPLETED, Phase.ERROR, Phase.ABORTED}),
}
"""The changes this service makes. COMPLETED, ERROR and ABORTED are final here: it never
archives a job (UWS allows that, not requires it); it destroys it at its destruction time."""


def sources(target: Phase) -> frozenset[Phase]:
    """The phases from which ``target`` may be entered: the guard of a conditional write."""
    return frozenset(p for p, targets in TRANSITIONS.items() if target in targets)


EXECUTION_DURATION_CHANGEABLE = frozenset({Phase.PENDING, Phase.HELD, Phase.QUEUED})
PARAMETERS_CHANGEABLE = frozenset({Phase.PENDING})
