"""JobStore: the job table in DynamoDB. The store (this package) is the only place that
calls DynamoDB or knows its words (attribute names, indexes, condition expressions).

The store offers the reads and the named transitions of a job's life (``mark_queued``,
``mark_executing``, ``mark_completed`` …). Each transition is one conditional write: the
condition says what it needs (the job exists, is not past its destruction time, is visible
to the caller, is in a phase the transition starts from, and anything particular to it);
when it fails, DynamoDB hands back the old item (``ReturnValuesOnConditionCheckFailure``) and
:func:`_explain` tells the caller why, without a second read: NotFound or Forbidden as a
read would, or :class:`StateConflict` with the job as it is. Two Lambdas changing one job
at once therefore never lose an update.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from .. import aws
from ..errors import Forbidden, NotFound
from ..job import SYSTEM, Caller, ErrorSummary, Job, JobRef, Result, Upload
from ..phases import EXECUTION_DURATION_CHANGEABLE, PARAMETERS_CHANGEABLE, Phase, sources
from .items import (
    SHARDS,
    deserialize,
    item_from_job,
    job_from_item,
    owner_key,
    plain,
    ref_from_item,
    result_value,
    serialize,
    shard,
    stamp,
    summary_value,
    upload_from_value,
    upload_value,
)

_OWNER_INDEX = "byOwner"
_DESTRUCTION_INDEX = "byDestruction"
_DEADLINE_INDEX = "byDeadline"
_NO_DEADLINE = ("deadline", "deadlineShard")  # removed when a job leaves QUEUED/EXECUTING


class StateConflict(Exception):
    """The job is there and the caller may touch it, but the transition's condition failed
    (its phase, or the particular rule): ``job`` is the job as it is."""

    def __init__(self, job: Job) -> None:
        super().__init__(job.phase)
        self.job = job


@dataclass
class _Change:
    """One conditional write: attributes to set and remove, and what must hold before."""

    set: dict[str, Any] = field(default_factory=dict)
    remove: tuple[str, ...] = ()
    phases: Iterable[Phase] | None = None  # the job must be in one of these
    condition: str | None = None  # more, with #names and :values from the two dicts below
    names: dict[str, str] = field(default_factory=dict)
    values: dict[str, Any] = field(default_factory=dict)


class _Expression:
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


class JobStore:
    def __init__(self, table: str) -> None:
        self.table = table

    @property
    def _db(self) -> Any:
        return aws.client("dynamodb")

    # ---- reads ------------------------------------------------------------------------------

    def get(self, job_id: str) -> Job | None:
        """One strongly consistent read: clients GET right after every 303."""
        with aws.translated_errors():
            response = self._db.get_item(
                TableName=self.table, Key={"jobId": {"S": job_id}}, ConsistentRead=True
            )
        item = response.get("Item")
        return None if item is None else job_from_item(item)

    def load(self, job_id: str, caller: Caller, now: datetime.datetime) -> Job:
        """The job if the caller may see it; NotFound or Forbidden otherwise."""
        job = self.get(job_id)
        _explain(job, caller, now)
        assert job is not None
        return job

    def list_for(
        self,
        caller: Caller,
        now: datetime.datetime,
        limit: int,
        phases: frozenset[Phase] | None = None,
        after: datetime.datetime | None = None,
        older_than: JobRef | None = None,
    ) -> tuple[list[JobRef], bool]:
        """Up to ``limit`` of the caller's jobs, newest first (older than ``older_than`` when
        paging on), from the owner index, and whether more follow: reads grow with the
        answer, never with the jobs stored."""
        expr = _Expression()
        key = f"{expr.name('ownerKey')} = {expr.value(owner_key(caller.owner))}"
        if after is not None:
            key += f" AND {expr.name('creationTime')} > {expr.value(stamp(after))}"
        filters = [f"{expr.name('destruction')} > {expr.value(stamp(now))}"]
        if phases:
            options = ", ".join(expr.value(str(p)) for p in sorted(phases))
            filters.append(f"{expr.name('phase')} IN ({options})")
        wanted = limit + 1  # one more tells whether another page follows
        request: dict[str, Any] = {
            "TableName": self.table,
            "IndexName": _OWNER_INDEX,
            "KeyConditionExpression": key,
            "FilterExpression": " AND ".join(filters),
            "ScanIndexForward": False,
            # DynamoDB applies Limit before the filter: with a PHASE filter, pages of `wanted`
            # could take a round trip per few jobs, so read larger pages then.
            "Limit": max(wanted, 100) if phases else wanted,
            **expr.request(),
        }
        if older_than is not None:
            request["ExclusiveStartKey"] = {
                "jobId": {"S": older_than.job_id},
                "ownerKey": {"S": owner_key(caller.owner)},
                "creationTime": {"S": stamp(older_than.creation_time)},
            }
        refs: list[JobRef] = []
        while True:
            with aws.translated_errors():
                page = self._db.query(**request)
            refs.extend(ref_from_item(item) for item in page.get("Items", []))
            if "LastEvaluatedKey" not in page or len(refs) >= wanted:
                break
            request["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        return refs[:limit], len(refs) > limit

    def expired(self, now: datetime.datetime, limit: int) -> Iterator[str]:
        """Ids of jobs whose destruction time is at or before ``now``, from the destruction
        index's shards: what is read grows with what is due, never with the jobs stored."""
        for entry in self._due(_DESTRUCTION_INDEX, "destructionShard", "destruction", now, limit):
            yield entry["jobId"]

    def overdue(self, cut: datetime.datetime, limit: int) -> Iterator[tuple[str, Phase]]:
        """(id, phase) of QUEUED or EXECUTING jobs whose deadline is at or before ``cut``,
        from the sparse deadline index (only such jobs have a deadline)."""
        for entry in self._due(_DEADLINE_INDEX, "deadlineShard", "deadline", cut, limit):
            yield entry["jobId"], Phase(entry["phase"])

    def _due(
        self, index: str, shard_key: str, time_key: str, now: datetime.datetime, limit: int
    ) -> Iterator[dict[str, Any]]:
        found = 0
        for number in range(SHARDS):
            request: dict[str, Any] = {
                "TableName": self.table,
                "IndexName": index,
                "KeyConditionExpression": "#s = :s AND #t <= :now",
                "ExpressionAttributeNames": {"#s": shard_key, "#t": time_key},
                "ExpressionAttributeValues": {":s": {"S": str(number)}, ":now": {"S": stamp(now)}},
            }
            while found < limit:
                request["Limit"] = limit - found
                with aws.translated_errors():
                    page = self._db.query(**request)
                for item in page.get("Items", []):
                    found += 1
                    yield {k: deserialize(v) for k, v in item.items()}
                if "LastEvaluatedKey" not in page:
                    break
                request["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    # ---- creation and deletion -------------------------------------------------------------

    def create(self, job: Job) -> None:
        """Store a new job (PENDING, or QUEUED with its queue deadline)."""
        item = item_from_job(job)
        with aws.translated_errors():
            self._db.put_item(
                TableName=self.table, Item=item, ConditionExpression="attribute_not_exists(jobId)"
            )

    def delete(self, job_id: str, caller: Caller, now: datetime.datetime) -> Job:
        """Delete the item in one conditional write; return what was deleted."""
        expr = _Expression()
        try:
            with aws.translated_errors():
                response = self._db.delete_item(
                    TableName=self.table,
                    Key={"jobId": {"S": job_id}},
                    ConditionExpression=_access_condition(expr, caller, now),
                    ReturnValues="ALL_OLD",
                    ReturnValuesOnConditionCheckFailure="ALL_OLD",
                    **expr.request(),
                )
        except ClientError as error:
            raise _conflict(error, caller, now) from None
        return job_from_item(response["Attributes"])

    def destroy_expired(self, job_id: str, now: datetime.datetime) -> bool:
        """Delete a job whose destruction time has passed; False if it is gone or was extended."""
        try:
            with aws.translated_errors():
                self._db.delete_item(
                    TableName=self.table,
                    Key={"jobId": {"S": job_id}},
                    ConditionExpression="#d <= :now",
                    ExpressionAttributeNames={"#d": "destruction"},
                    ExpressionAttributeValues={":now": {"S": stamp(now)}},
                )
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                return False
            raise
        return True

    # ---- what clients change ---------------------------------------------------------------

    def mark_queued(
        self, job_id: str, caller: Caller, now: datetime.datetime, deadline: datetime.datetime,
        required: Iterable[str] = (),
    ) -> Job:  # fmt: skip
        """PENDING → QUEUED, if every ``required`` parameter has a value; ``deadline`` (by
        which a worker must take the job up) goes into the deadline index."""
        change = _Change(
            set={"phase": Phase.QUEUED, "deadline": deadline, "deadlineShard": shard(job_id)},
            phases=sources(Phase.QUEUED),
        )
        names = list(required)
        if names:  # DynamoDB refuses names an expression does not use
            change.names = {"#params": "parameters"}
            change.names.update({f"#req{i}": name for i, name in enumerate(names)})
            change.condition = " AND ".join(
                f"attribute_exists(#params.#req{i})" for i in range(len(names))
            )
        return self._update(job_id, caller, now, change)

    def unqueue(self, job_id: str, caller: Caller, now: datetime.datetime) -> Job:
        """QUEUED → PENDING: the run request could not be handed to the worker."""
        change = _Change(set={"phase": Phase.PENDING}, remove=_NO_DEADLINE, phases={Phase.QUEUED})
        return self._update(job_id, caller, now, change)

    def mark_aborted(self, job_id: str, caller: Caller, now: datetime.datetime) -> Job:
        """Any active phase → ABORTED; a running worker sees it at its next check."""
        change = _Change(
            set={"phase": Phase.ABORTED, "endTime": now},
            remove=_NO_DEADLINE,
            phases=sources(Phase.ABORTED),
        )
        return self._update(job_id, caller, now, change)

    def set_execution_duration(
        self, job_id: str, caller: Caller, now: datetime.datetime, seconds: int
    ) -> Job:
        change = _Change(set={"executionDuration": seconds}, phases=EXECUTION_DURATION_CHANGEABLE)
        return self._update(job_id, caller, now, change)

    def set_destruction(
        self, job_id: str, caller: Caller, now: datetime.datetime, when: datetime.datetime,
        latest_after_creation: datetime.timedelta | None = None,
    ) -> Job:  # fmt: skip
        """Set the destruction time, in any phase; with ``latest_after_creation``, only if
        ``when`` is at most that long after the job's creation (StateConflict otherwise)."""
        change = _Change(set={"destruction": when})
        if latest_after_creation is not None:
            try:
                earliest_creation = when - latest_after_creation
            except OverflowError:  # ``when`` in year 1: within any limit
                earliest_creation = datetime.datetime.min
            change.condition = "#created >= :earliest"
            change.names = {"#created": "creationTime"}
            change.values = {":earliest": earliest_creation}
        return self._update(job_id, caller, now, change)

    def set_parameters(
        self, job_id: str, caller: Caller, now: datetime.datetime,
        parameters: dict[str, list[str]], uploads: dict[str, Upload], run_id: str | None = None,
    ) -> list[Upload]:  # fmt: skip
        """Set (replace) parameters and uploaded files, and the runId, while PENDING; return
        the uploads this write replaced (as the write found them, so that two writes at once
        each learn exactly what they displaced)."""
        change = _Change(phases=PARAMETERS_CHANGEABLE)
        change.set.update({f"parameters.{name}": values for name, values in parameters.items()})
        change.set.update({f"uploads.{name}": upload_value(u) for name, u in uploads.items()})
        if run_id is not None:
            change.set["runId"] = run_id
        old = self._update(job_id, caller, now, change, returning="UPDATED_OLD")
        return [upload_from_value(u) for u in old.get("uploads", {}).values()]

    # ---- what the worker and the reaper change ---------------------------------------------

    def mark_executing(self, job_id: str, now: datetime.datetime, execution_duration: int) -> Job:
        """QUEUED → EXECUTING, with the run's deadline (``now`` plus ``execution_duration``,
        which must still be the job's) in the deadline index; a redelivered message, one for
        an aborted job, or a duration changed meanwhile fails here (StateConflict)."""
        deadline = now + datetime.timedelta(seconds=execution_duration)
        change = _Change(
            set={"phase": Phase.EXECUTING, "startTime": now, "deadline": deadline,
                 "deadlineShard": shard(job_id), "jobInfo": {}},
            phases={Phase.QUEUED}, condition="#duration = :duration",
            names={"#duration": "executionDuration"}, values={":duration": execution_duration},
        )  # fmt: skip
        return self._update(job_id, SYSTEM, now, change)

    def record_progress(self, job_id: str, now: datetime.datetime, info: dict[str, str]) -> None:
        """Add to the jobInfo of an executing job."""
        change = _Change(set={f"jobInfo.{k}": v for k, v in info.items()}, phases={Phase.EXECUTING})
        self._update(job_id, SYSTEM, now, change)

    def record_results(self, job_id: str, now: datetime.datetime, results: list[Result]) -> None:
        """The result list of an executing job, as it is now."""
        listed = [result_value(r) for r in results]
        self._update(
            job_id, SYSTEM, now, _Change(set={"results": listed}, phases={Phase.EXECUTING})
        )

    def mark_completed(self, job_id: str, now: datetime.datetime) -> Job:
        return self._end(job_id, now, Phase.COMPLETED, {})

    def mark_failed(
        self, job_id: str, now: datetime.datetime, summary: ErrorSummary,
        dropping_progress: bool = False,
    ) -> Job:  # fmt: skip
        """EXECUTING → ERROR with the summary; with ``dropping_progress`` the job's jobInfo
        goes too (to make room in the item)."""
        values: dict[str, Any] = {"errorSummary": summary_value(summary)}
        if dropping_progress:
            values["jobInfo"] = {}
        return self._end(job_id, now, Phase.ERROR, values)

    def _end(
        self, job_id: str, now: datetime.datetime, phase: Phase, values: dict[str, Any]
    ) -> Job:
        change = _Change(
            set={"phase": phase, "endTime": now, **values},
            remove=_NO_DEADLINE,
            phases={Phase.EXECUTING},
        )
        return self._update(job_id, SYSTEM, now, change)

    def end_overdue(
        self, job_id: str, phase: Phase, now: datetime.datetime, cut: datetime.datetime,
        message: str,
    ) -> Job:  # fmt: skip
        """QUEUED or EXECUTING → ERROR for a job still in ``phase`` whose deadline is at or
        before ``cut`` (a client or the worker may have moved it on meanwhile)."""
        change = _Change(
            set={"phase": Phase.ERROR, "endTime": now,
                 "errorSummary": summary_value(ErrorSummary(message))},
            remove=_NO_DEADLINE,
            phases={phase},
            condition="#deadline <= :cut",
            names={"#deadline": "deadline"},
            values={":cut": cut},
        )  # fmt: skip
        return self._update(job_id, SYSTEM, now, change)

    def _update(
        self, job_id: str, caller: Caller, now: datetime.datetime, change: _Change,
        returning: str = "ALL_NEW",
    ) -> Any:  # fmt: skip
        """Apply ``change`` in one conditional write; return the job as it is afterwards (or,
        ``returning="UPDATED_OLD"``, the changed attributes as they were, as a plain dict).

        Raises NotFound or Forbidden as :meth:`load` would, and StateConflict (with the
        unchanged job) when the change's own condition does not hold.
        """
        expr = _Expression()
        assignments = [f"{expr.name(k)} = {expr.value(plain(v))}" for k, v in change.set.items()]
        version = expr.name("version")
        assignments.append(f"{version} = {version} + {expr.value(1)}")
        update = "SET " + ", ".join(assignments)
        if change.remove:
            update += " REMOVE " + ", ".join(expr.name(k) for k in change.remove)
        conditions = [_access_condition(expr, caller, now)]
        if change.phases is not None:
            options = ", ".join(expr.value(str(p)) for p in sorted(change.phases))
            conditions.append(f"{expr.name('phase')} IN ({options})")
        if change.condition:
            conditions.append(change.condition)
        expr.names.update(change.names)
        expr.values.update({k: serialize(plain(v)) for k, v in change.values.items()})
        try:
            with aws.translated_errors():
                response = self._db.update_item(
                    TableName=self.table,
                    Key={"jobId": {"S": job_id}},
                    UpdateExpression=update,
                    ConditionExpression=" AND ".join(f"({c})" for c in conditions),
                    ReturnValues=returning,
                    ReturnValuesOnConditionCheckFailure="ALL_OLD",
                    **expr.request(),
                )
        except ClientError as error:
            raise _conflict(error, caller, now) from None
        attributes = response.get("Attributes", {})
        if returning != "ALL_NEW":
            return {k: deserialize(v) for k, v in attributes.items()}
        return job_from_item(attributes)


def _access_condition(expr: _Expression, caller: Caller, now: datetime.datetime) -> str:
    """The job exists, is not past its destruction, and the caller may touch it."""
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


def _explain(job: Job | None, caller: Caller, now: datetime.datetime) -> None:
    """Raise what a caller asking for ``job`` must hear, if it may not have it."""
    if job is None or job.is_destroyed(now):
        raise NotFound(
            "No such job: it never existed, was deleted or is past its destruction time."
        )
    if job.owner is not None and job.owner != caller.owner and not caller.system:
        raise Forbidden("This job belongs to another owner.")


def _conflict(error: ClientError, caller: Caller, now: datetime.datetime) -> Exception:
    if error.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
        return error
    item = error.response.get("Item")
    job = None if item is None else job_from_item(item)
    _explain(job, caller, now)
    assert job is not None
    return StateConflict(job)
