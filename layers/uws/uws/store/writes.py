"""The words of the store's conditional writes: what a transition sets, the condition that
guards it, and what a refusal means.

A refused write hands back the item as it was (``ReturnValuesOnConditionCheckFailure``), so
:func:`refusal` can say why without a second read: NotFound or Forbidden as a read would, or
:class:`StateConflict` with the job as it is. A transaction (a job and its owner's quota
counter, :mod:`.quota`) is refused the same way, item by item (:class:`Cancelled`).
"""

from __future__ import annotations

import datetime
import random
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from botocore.exceptions import ClientError

from .. import aws
from ..errors import Forbidden, NotFound, PayloadTooLarge, ServiceUnavailable
from ..job import Caller, Job
from ..phases import Phase
from .items import job_from_item, plain, serialize, stamp

T = TypeVar("T")

# TransactWriteItems is cancelled, not retried by the SDK, when another transaction or write
# touches one of its items at the same moment ("TransactionConflict": DynamoDB Developer
# Guide, "Transaction conflict handling"); we retry it a few times with jitter.
TRANSACTION_ATTEMPTS = 6
# Why an item of a cancelled transaction failed, when it was capacity (DynamoDB API Reference,
# TransactWriteItems: CancellationReason codes).
THROTTLED = {"ThrottlingError", "ProvisionedThroughputExceeded", "RequestLimitExceeded"}


class StateConflict(Exception):
    """The job is there and the caller may touch it, but the transition's condition failed
    (its phase, or the particular rule): ``job`` is the job as it is."""

    def __init__(self, job: Job) -> None:
        super().__init__(job.phase)
        self.job = job


class Cancelled(Exception):
    """A transaction refused by a condition: ``failed[i]`` says whether the i-th item's
    condition failed, ``items[i]`` is that item as it was (None if it did not exist)."""

    def __init__(self, failed: list[bool], items: list[dict[str, Any] | None]) -> None:
        super().__init__(failed)
        self.failed = failed
        self.items = items


@dataclass
class Change:
    """One conditional write: attributes to set and remove, and what must hold before."""

    set: dict[str, Any] = field(default_factory=dict)
    remove: tuple[str, ...] = ()
    phases: Iterable[Phase] | None = None  # the job must be in one of these
    condition: str | None = None  # more, with #names and :values from the two dicts below
    names: dict[str, str] = field(default_factory=dict)
    values: dict[str, Any] = field(default_factory=dict)


class Expression:
    """Collects placeholders so that attribute names never clash with reserved words."""

    def __init__(self) -> None:
        self.names: dict[str, str] = {}
        self.values: dict[str, Any] = {}

    def name(self, path: str) -> str:
        parts = []
        for part in path.split("."):
            placeholder = f"#n{len(self.names)}"
            self.names[placeholder] = part
            parts.append(placeholder)
        return ".".join(parts)

    def value(self, python_value: Any) -> str:
        placeholder = f":v{len(self.values)}"
        self.values[placeholder] = serialize(python_value)
        return placeholder

    def request(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.names:
            out["ExpressionAttributeNames"] = self.names
        if self.values:
            out["ExpressionAttributeValues"] = self.values
        return out


def update_request(
    table: str, job_id: str, caller: Caller, now: datetime.datetime, change: Change
) -> dict[str, Any]:
    """UpdateItem's arguments for ``change``, usable alone or in a transaction."""
    expr = Expression()
    assignments = [f"{expr.name(k)} = {expr.value(plain(v))}" for k, v in change.set.items()]
    version = expr.name("version")
    assignments.append(f"{version} = {version} + {expr.value(1)}")
    update = "SET " + ", ".join(assignments)
    if change.remove:
        update += " REMOVE " + ", ".join(expr.name(k) for k in change.remove)
    conditions = [access_condition(expr, caller, now)]
    if change.phases is not None:
        options = ", ".join(expr.value(str(p)) for p in sorted(change.phases))
        conditions.append(f"{expr.name('phase')} IN ({options})")
    if change.condition:
        conditions.append(change.condition)
    expr.names.update(change.names)
    expr.values.update({k: serialize(plain(v)) for k, v in change.values.items()})
    return {
        "TableName": table,
        "Key": {"jobId": {"S": job_id}},
        "UpdateExpression": update,
        "ConditionExpression": " AND ".join(f"({c})" for c in conditions),
        "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
        **expr.request(),
    }


def access_condition(expr: Expression, caller: Caller, now: datetime.datetime) -> str:
    """The job exists, is not past its destruction, and the caller may touch it. A job past
    its destruction time is a 404 from that moment on; the reaper (``uws.reaper``) removes
    its item and files later."""
    alive = (
        f"attribute_exists({expr.name('jobId')})"
        f" AND {expr.name('destruction')} > {expr.value(stamp(now))}"
    )
    if caller.system:
        return alive
    owner = expr.name("owner")
    visible = f"attribute_not_exists({owner})"
    if caller.owner is not None:
        visible += f" OR {owner} = {expr.value(caller.owner)}"
    return f"{alive} AND ({visible})"


def explain(job: Job | None, caller: Caller, now: datetime.datetime) -> None:
    """Raise what a caller asking for ``job`` must hear, if it may not have it."""
    if job is None or job.is_destroyed(now):
        raise NotFound(
            "No such job: it never existed, was deleted or is past its destruction time."
        )
    if job.owner is not None and job.owner != caller.owner and not caller.system:
        raise Forbidden("This job belongs to another owner.")


def refused_item(error: ClientError) -> dict[str, Any] | None:
    """The item a refused conditional write handed back; re-raises any other error."""
    if error.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
        raise error
    return error.response.get("Item")


def refusal(item: dict[str, Any] | None, caller: Caller, now: datetime.datetime) -> Exception:
    """What a refused write on ``item`` (as it was) means to the caller."""
    job = None if item is None else job_from_item(item)
    explain(job, caller, now)
    assert job is not None
    return StateConflict(job)


def pause_after_conflict(attempt: int) -> None:
    """Jittered, doubling: writers that met on one item do not meet again at once."""
    time.sleep(random.uniform(0, 0.02 * 2**attempt))


def conflicts_retried(write: Callable[[], T]) -> T:
    """One single-item write (``write``), tried again while it meets a transaction on its item:
    DynamoDB refuses it with TransactionConflictException, which the SDK does not retry
    (DynamoDB Developer Guide, "Transaction conflict handling"). Only what outlasts these
    tries is translated (a 503): translating first would skip them."""
    for attempt in range(TRANSACTION_ATTEMPTS):
        try:
            return write()
        except ClientError as error:
            if aws.error_code(error) != "TransactionConflictException":
                raise
            if attempt == TRANSACTION_ATTEMPTS - 1:
                raise ServiceUnavailable(
                    "The job is being changed by another request; please try again."
                ) from None
        pause_after_conflict(attempt)
    raise AssertionError("unreachable")


def transact(db: Any, items: list[dict[str, Any]]) -> None:
    """TransactWriteItems, retried while it conflicts with a concurrent write; Cancelled
    (with each item as it was) when a condition fails."""
    for attempt in range(TRANSACTION_ATTEMPTS):
        try:
            with aws.translated_errors():
                db.transact_write_items(TransactItems=items)
            return
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") != "TransactionCanceledException":
                raise
            reasons = error.response.get("CancellationReasons") or []
            codes = [r.get("Code") for r in reasons]
            if "ConditionalCheckFailed" in codes:
                raise Cancelled(
                    [c == "ConditionalCheckFailed" for c in codes],
                    [r.get("Item") for r in reasons],
                ) from None
            if any(c in THROTTLED for c in codes):
                raise ServiceUnavailable("The service is busy; please retry shortly.") from None
            if "ValidationError" in codes:
                raise PayloadTooLarge("The job's parameters are too large to store.") from None
            if "TransactionConflict" not in codes:
                raise
        pause_after_conflict(attempt)
    raise ServiceUnavailable("The job is being changed by another request; please try again.")
