"""UWS execution phases and the named transitions of a job's life.

Every phase change the store makes is one of the :class:`Transition` constants below: its
conditional write is guarded by the transition's ``sources`` and sets its ``target``, so this
table is the whole phase graph (``tests/unit/test_phases.py`` holds the store to it).
"""

from __future__ import annotations

from dataclasses import dataclass
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


@dataclass(frozen=True)
class Transition:
    """A phase change: from any of ``sources`` to ``target``."""

    sources: frozenset[Phase]
    target: Phase


QUEUE = Transition(frozenset({Phase.PENDING, Phase.HELD}), Phase.QUEUED)
"""RUN (or RUN again, after the owner's quota held the job)."""
HOLD = Transition(frozenset({Phase.PENDING}), Phase.HELD)
"""RUN found the owner's quota full (UWS 1.1: the client sends RUN again later)."""
UNQUEUE = Transition(frozenset({Phase.QUEUED}), Phase.PENDING)
"""The runner (the worker's queue, ECS) refused the job at RUN: back to where it was."""
START = Transition(frozenset({Phase.QUEUED}), Phase.EXECUTING)
"""A worker or a container task takes the job up."""
TO_CONTAINER = Transition(frozenset({Phase.QUEUED}), Phase.QUEUED)
"""The worker hands a queued job to the container runner (its type said it needs one): still
QUEUED, now for a container task to take up."""
COMPLETE = Transition(frozenset({Phase.EXECUTING}), Phase.COMPLETED)
FAIL = Transition(frozenset({Phase.EXECUTING}), Phase.ERROR)
"""The job type failed, or its container was stopped under it."""
END_LOST = Transition(frozenset({Phase.QUEUED, Phase.EXECUTING}), Phase.ERROR)
"""The reaper: a job past its deadline, or whose container stopped without ending it."""
ABORT = Transition(frozenset({Phase.PENDING, Phase.HELD, Phase.QUEUED, Phase.EXECUTING}),
                   Phase.ABORTED)  # fmt: skip
"""ABORT by the client; a running job sees it at its next check."""

ALL_TRANSITIONS = (QUEUE, HOLD, UNQUEUE, START, TO_CONTAINER, COMPLETE, FAIL, END_LOST, ABORT)

FINAL = frozenset({Phase.COMPLETED, Phase.ERROR, Phase.ABORTED})
"""No transition leaves these: this service never archives a job (UWS allows that, not
requires it); it destroys it at its destruction time."""

EXECUTION_DURATION_CHANGEABLE = frozenset({Phase.PENDING, Phase.HELD, Phase.QUEUED})
PARAMETERS_CHANGEABLE = frozenset({Phase.PENDING})
