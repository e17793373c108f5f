"""Lambda's concurrency limits, imposed on the local runtime: ``ACCOUNT_CONCURRENCY=20 make
serve``.

moto has no concurrency limit; AWS has (Lambda Developer Guide, "Understanding Lambda function
scaling", "Configuring reserved concurrency for a function"). An account's functions in a
Region share one pool of concurrent executions, 1,000 by default (some new accounts have 10).
A function with reserved concurrency has that many executions for itself and never more; all
other functions share what the reservations leave, and Lambda refuses a reservation that leaves
less than 100 unreserved. An invocation past its limit is refused at once, never queued:
TooManyRequestsException (429) to a synchronous caller, a retry for event sources.
"""

from __future__ import annotations

import os
import threading
from collections import Counter
from collections.abc import Mapping

# Lambda quotas, "Concurrent executions": 1,000 per Region by default. The local default, so
# that a `make serve` of the default parameters holds the reservations as a default account
# does (unlimited would hide a deployment whose reservations AWS refuses).
DEFAULT_POOL = 1000
# Lambda refuses a reservation leaving less than this (UnreservedConcurrentExecutions).
AWS_MINIMUM_UNRESERVED = 100


def minimum_unreserved(pool: int) -> int:
    """What reservations must leave of ``pool``: AWS's 100 of its default 1,000; a smaller
    local pool stands for a scaled-down account, so a tenth of it, never below one."""
    return max(1, min(AWS_MINIMUM_UNRESERVED, pool // 10))


def account_pool() -> int:
    """The pool ``ACCOUNT_CONCURRENCY`` gives (AWS's default 1,000 without it)."""
    literal = os.environ.get("ACCOUNT_CONCURRENCY") or str(DEFAULT_POOL)
    pool = int(literal)
    if pool < 1:
        raise ValueError(f"ACCOUNT_CONCURRENCY must be a positive number, not {literal}")
    return pool


class Concurrency:
    """In-flight invocations of each function against its limit; :meth:`enter` refuses at
    once instead of waiting, as Lambda does."""

    def __init__(self, pool: int, reserved: Mapping[str, int]) -> None:
        left = pool - sum(reserved.values())
        if left < minimum_unreserved(pool):
            raise ValueError(
                f"the functions reserve {sum(reserved.values())} of an account's "
                f"{pool} concurrent executions, leaving {left}; Lambda keeps at least "
                f"{minimum_unreserved(pool)} unreserved (set ReserveConcurrency=false or "
                f"a larger ACCOUNT_CONCURRENCY)"
            )
        self.pool, self.reserved, self.unreserved = pool, dict(reserved), left
        self._lock = threading.Lock()
        self._running: Counter[str] = Counter()
        self._shared = 0  # in flight in the unreserved part
        self.refused: Counter[str] = Counter()  # Lambda's Throttles metric, per function
        self.peak: Counter[str] = Counter()  # the most in flight at once, per function

    def enter(self, function: str) -> bool:
        """Take an execution for ``function``; False if its limit is reached."""
        with self._lock:
            limit = self.reserved.get(function)
            if limit is not None:
                if self._running[function] >= limit:
                    self.refused[function] += 1
                    return False
            elif self._shared >= self.unreserved:
                self.refused[function] += 1
                return False
            else:
                self._shared += 1
            self._running[function] += 1
            self.peak[function] = max(self.peak[function], self._running[function])
            return True

    def leave(self, function: str) -> None:
        with self._lock:
            self._running[function] -= 1
            if function not in self.reserved:
                self._shared -= 1

    def summary(self) -> str:
        """Refusals and peaks, for the log at stop."""
        refused = ", ".join(f"{k} {v}" for k, v in sorted(self.refused.items())) or "none"
        peaks = ", ".join(f"{k} {v}" for k, v in sorted(self.peak.items()))
        return f"{sum(self.refused.values())} refused ({refused}); peak in flight: {peaks}"
