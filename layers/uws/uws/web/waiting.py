"""Blocking (docs/uws.md, Blocking): ``GET {job}?WAIT=n`` reads the job until its phase
changes or the time is up, a few reads a second at most, and ends early when busy.

UWS 1.1 lets the server answer a WAIT before its time is up. "Busy" here is what the function
itself sees, never a guess: DynamoDB refusing WAIT's own read as throttled after the SDK's
retries. The job as last read is then the answer (a 200, not a 503), and the Lambda is free.
How many waiters the function holds at once is not visible inside it (only CloudWatch, a
minute late, knows its concurrency); API Gateway enforces that instead: the function's reserved
concurrency (WaitConcurrency) caps the waiters, and one more is answered 503 with Retry-After
before any Lambda runs.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

from ..errors import ServiceUnavailable
from ..job import Job
from ..phases import ACTIVE, Phase
from ..service import JobHandle

# WAIT's pauses between reads: a job that ends within milliseconds is seen at once, and a long
# wait costs about two reads a second (a 20 s WAIT on a job that does not change: 45 reads).
FIRST_PAUSE = 0.01
LONGEST_PAUSE = 0.5


def wait_pauses() -> Iterator[float]:
    pause = FIRST_PAUSE
    while True:
        yield pause
        pause = min(pause * 2, LONGEST_PAUSE)


def wait_for_change(job: JobHandle, current: Job, awaited: Phase | None, seconds: float) -> Job:
    """Read the job after each of :func:`wait_pauses` until its phase changes, time is up or
    a read is throttled (then the job as last read); a job seen to start is read on for at
    most LONGEST_PAUSE more, and answered at once if it ends meanwhile.

    Waits only while the job is active and, if PHASE was given, still in that phase.
    """
    start_phase = current.phase
    if start_phase not in ACTIVE or (awaited is not None and start_phase != awaited):
        return current
    deadline = time.monotonic() + seconds
    current = _read_until(job, current, lambda phase: phase != start_phase, deadline)
    if current.phase == Phase.EXECUTING:
        # Just started: look on as long as a read may lag a change anyway (LONGEST_PAUSE), so
        # that a short job is answered ended, not EXECUTING. A client that sees EXECUTING
        # waits again, and pyvo sleeps a second first: most TAP queries end well within it.
        settle = min(deadline, time.monotonic() + LONGEST_PAUSE)
        current = _read_until(job, current, lambda phase: phase not in ACTIVE, settle)
    return current


def _read_until(job: JobHandle, current: Job, done: Callable[[Phase], bool], until: float) -> Job:
    """The job read after each of :func:`wait_pauses` until ``done(phase)`` or ``until``."""
    for pause in wait_pauses():
        remaining = until - time.monotonic()
        if remaining <= 0:
            break
        job.service.sleep(min(pause, remaining))
        try:
            current = job.load()
        except ServiceUnavailable:  # busy: answer with what was read, not read on nor fail
            break
        if done(current.phase):
            break
    return current
