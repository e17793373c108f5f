"""JobStore: the job table in DynamoDB. The store (this package) is the only caller of the
job table and the only place that knows its words (attribute names, indexes, condition
expressions); the Idempotency-Key table is Powertools' own (``uws.web.idempotency``).

The store offers the reads and the named transitions of a job's life (``mark_queued``,
``mark_executing``, ``mark_completed`` …, each one of ``uws.phases``' transitions). Each is
one conditional write: the
condition says what it needs (the job exists, is not past its destruction time, is visible
to the caller, is in a phase the transition starts from, and anything particular to it);
when it fails, DynamoDB hands back the old item (``ReturnValuesOnConditionCheckFailure``) and
:func:`.writes.refusal` tells the caller why, without a second read: NotFound or Forbidden as
a read would, or :class:`StateConflict` with the job as it is. Two Lambdas changing one job
at once therefore never lose an update.

With a quota (``active_limit``), a job's place in its owner's quota is taken and given back
in the same transaction as the phase change that needs it (:mod:`.quota`); a deployment
without one never pays for a transaction.
"""

from __future__ import annotations

import dataclasses
import datetime
from collections.abc import Iterable
from typing import Any

from botocore.exceptions import ClientError

from .. import aws
from ..job import SYSTEM, Caller, ErrorSummary, Job, Result, Upload
from ..phases import (
    ABORT,
    COMPLETE,
    END_LOST,
    EXECUTION_DURATION_CHANGEABLE,
    FAIL,
    HOLD,
    PARAMETERS_CHANGEABLE,
    QUEUE,
    START,
    TO_CONTAINER,
    UNQUEUE,
    Phase,
    Transition,
)
from .indexes import JobIndexes
from .items import (
    deserialize,
    item_from_job,
    job_from_item,
    owner_key,
    result_value,
    shard,
    summary_value,
    upload_from_value,
    upload_value,
)
from .quota import HOLDS_PLACE, give_back, take_place
from .removal import JobRemoval
from .writes import (
    Cancelled,
    Change,
    StateConflict,
    conflicts_retried,
    explain,
    refusal,
    refused_item,
    transact,
    update_request,
)

_NO_DEADLINE = ("deadline", "deadlineShard")  # removed when a job leaves QUEUED/EXECUTING
_NOT_HOLDING = Change(condition=f"attribute_not_exists({HOLDS_PLACE})")
_HOLDING = Change(condition=f"attribute_exists({HOLDS_PLACE})", remove=(HOLDS_PLACE,))
_NOT_IN_CONTAINER = Change(condition="attribute_not_exists(inContainer)")


class QuotaReached(Exception):
    """RUN found the owner's QUEUED and EXECUTING jobs at the deployment's limit."""


def _also(change: Change, more: Change) -> Change:
    """``change`` with ``more``'s condition and removals as well."""
    conditions = [c for c in (change.condition, more.condition) if c]
    return dataclasses.replace(
        change,
        remove=change.remove + more.remove,
        condition=" AND ".join(f"({c})" for c in conditions)
        if len(conditions) > 1
        else next(iter(conditions), None),  # DynamoDB refuses redundant parentheses
        names={**change.names, **more.names},
        values={**change.values, **more.values},
    )


def _of_type(job_type: str) -> Change:
    """A condition: the job is of ``job_type`` (what a write was checked against without
    reading the job; a job created before a redeploy changed the type fails it)."""
    return Change(condition="#jobType = :jobType", names={"#jobType": "jobType"},
                  values={":jobType": job_type})  # fmt: skip


class JobStore(JobIndexes, JobRemoval):
    def __init__(self, table: str, active_limit: int = 0) -> None:
        self.table = table
        self.active_limit = active_limit  # QUEUED + EXECUTING jobs per owner; 0: no limit

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
        explain(job, caller, now)
        assert job is not None
        return job

    # ---- creation (deletion: .removal) ----------------------------------------------------

    def create(self, job: Job) -> None:
        """Store a new job (PENDING, or QUEUED with its queue deadline). A QUEUED job takes a
        place in its owner's quota in the same transaction; QuotaReached if there is none."""
        item = item_from_job(job)
        if job.phase == Phase.QUEUED and self.active_limit:
            item[HOLDS_PLACE] = {"BOOL": True}
            put = {"TableName": self.table, "Item": item,
                   "ConditionExpression": "attribute_not_exists(jobId)"}  # fmt: skip
            place = take_place(self.table, item["ownerKey"]["S"], self.active_limit)
            try:
                transact(self._db, [{"Put": put}, place])
            except Cancelled:
                raise QuotaReached from None  # a new id cannot clash: it was the quota
            return
        with aws.translated_errors():
            self._db.put_item(
                TableName=self.table, Item=item, ConditionExpression="attribute_not_exists(jobId)"
            )  # a new id: no transaction can be on its item

    # ---- what clients change ---------------------------------------------------------------

    def mark_queued(
        self, job_id: str, caller: Caller, now: datetime.datetime, deadline: datetime.datetime,
        job_type: str, required: Iterable[str] = (),
    ) -> Job:  # fmt: skip
        """PENDING or HELD → QUEUED, if the job is of ``job_type`` and every ``required``
        parameter (of that type) has a value; ``deadline`` (by which a worker must take the job
        up) goes into the deadline index. With a quota, the job takes a place in its owner's in
        the same transaction (QuotaReached if none is free; the job is then unchanged)."""
        change = _also(
            Change(
                set={"phase": QUEUE.target, "deadline": deadline, "deadlineShard": shard(job_id)},
                phases=QUEUE.sources,
            ),
            _of_type(job_type),
        )
        names = list(required)
        if names:  # DynamoDB refuses names an expression does not use
            present = Change(names={"#params": "parameters"})
            present.names.update({f"#req{i}": name for i, name in enumerate(names)})
            present.condition = " AND ".join(
                f"attribute_exists(#params.#req{i})" for i in range(len(names))
            )
            change = _also(change, present)
        if not self.active_limit:
            return self._update(job_id, caller, now, change)
        change.set[HOLDS_PLACE] = True
        key = owner_key(caller.owner)
        for _ in range(2):  # the caller's quota; an anonymous job's, if it was one
            owned = Change(condition="#ownerKey = :ownerKey", names={"#ownerKey": "ownerKey"},
                           values={":ownerKey": key})  # fmt: skip
            update = update_request(self.table, job_id, caller, now, _also(change, owned))
            place = take_place(self.table, key, self.active_limit)
            try:
                transact(self._db, [{"Update": update}, place])
            except Cancelled as cancelled:
                item = cancelled.items[0]
                if not cancelled.failed[0]:
                    raise QuotaReached from None
                if item is not None and item.get("ownerKey", {}).get("S", key) != key:
                    key = item["ownerKey"]["S"]
                    continue
                raise refusal(item, caller, now) from None
            break
        return self.load(job_id, caller, now)  # a transaction returns no item

    def mark_held(self, job_id: str, caller: Caller, now: datetime.datetime) -> Job:
        """PENDING → HELD: RUN found no free place in the owner's quota (UWS 1.1: the client
        sends RUN again later)."""
        return self._update(job_id, caller, now, Change(set={"phase": HOLD.target},
                                                        phases=HOLD.sources))  # fmt: skip

    def unqueue(self, job_id: str, caller: Caller, now: datetime.datetime) -> None:
        """QUEUED → PENDING: the run request could not be handed to the worker."""
        change = Change(set={"phase": UNQUEUE.target}, remove=_NO_DEADLINE, phases=UNQUEUE.sources)
        self._leave_active(job_id, caller, now, change)

    def mark_aborted(self, job_id: str, caller: Caller, now: datetime.datetime) -> Job:
        """Any active phase → ABORTED; return the job as it was (its phase and task tell
        whether a container must be stopped). A running worker sees it at its next check."""
        change = Change(
            set={"phase": ABORT.target, "endTime": now},
            remove=_NO_DEADLINE,
            phases=ABORT.sources,
        )
        return self._leave_active(job_id, caller, now, change)

    def set_execution_duration(
        self, job_id: str, caller: Caller, now: datetime.datetime, seconds: int,
        queued_limit: int | None = None,
    ) -> Job:  # fmt: skip
        """Set the execution duration; with ``queued_limit``, a QUEUED job on the worker's queue
        gets at most that (its runner was chosen when it was queued); one the worker handed to
        the container runner (``inContainer``) has no such limit."""
        change = Change(set={"executionDuration": seconds}, phases=EXECUTION_DURATION_CHANGEABLE)
        if queued_limit is None or seconds <= queued_limit:
            return self._update(job_id, caller, now, change)
        change.condition = "#phase <> :queuedPhase OR attribute_exists(inContainer)"
        change.names = {"#phase": "phase"}
        change.values = {":queuedPhase": Phase.QUEUED}
        try:
            return self._update(job_id, caller, now, change)
        except StateConflict as conflict:
            if conflict.job.phase != Phase.QUEUED or conflict.job.in_container:
                raise
        return self.set_execution_duration(job_id, caller, now, queued_limit)

    def set_destruction(
        self, job_id: str, caller: Caller, now: datetime.datetime, when: datetime.datetime,
        latest_after_creation: datetime.timedelta | None = None,
    ) -> Job:  # fmt: skip
        """Set the destruction time, in any phase; with ``latest_after_creation``, only if
        ``when`` is at most that long after the job's creation (StateConflict otherwise)."""
        change = Change(set={"destruction": when})
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
        job_type: str, parameters: dict[str, list[str]], uploads: dict[str, Upload],
        run_id: str | None = None,
    ) -> list[Upload]:  # fmt: skip
        """Set (replace) parameters and uploaded files, and the runId, while PENDING, of a job
        of ``job_type`` (the type they were checked against); return the uploads this write
        replaced (as the write found them, so that two writes at once each learn exactly what
        they displaced)."""
        change = _also(Change(phases=PARAMETERS_CHANGEABLE), _of_type(job_type))
        change.set.update({f"parameters.{name}": values for name, values in parameters.items()})
        change.set.update({f"uploads.{name}": upload_value(u) for name, u in uploads.items()})
        if run_id is not None:
            change.set["runId"] = run_id
        old = self._update(job_id, caller, now, change, returning="UPDATED_OLD")
        return [upload_from_value(u) for u in old.get("uploads", {}).values()]

    # ---- what the worker and the reaper change ---------------------------------------------

    def mark_executing(
        self, job_id: str, now: datetime.datetime, execution_duration: int,
        task_arn: str | None = None, in_container: bool = False,
    ) -> Job:  # fmt: skip
        """QUEUED → EXECUTING, with the run's deadline (``now`` plus ``execution_duration``,
        which must still be the job's) in the deadline index, and the container task that
        runs it (if one does); a redelivered message, one for an aborted job, or a duration
        changed meanwhile fails here (StateConflict), and so does the worker
        (``in_container`` false) on a job it handed to the container runner."""
        deadline = now + datetime.timedelta(seconds=execution_duration)
        change = Change(
            set={"phase": START.target, "startTime": now, "deadline": deadline,
                 "deadlineShard": shard(job_id), "jobInfo": {}},
            phases=START.sources, condition="#duration = :duration",
            names={"#duration": "executionDuration"}, values={":duration": execution_duration},
        )  # fmt: skip
        if task_arn is not None:
            change.set["taskArn"] = task_arn
        if not in_container:
            change = _also(change, _NOT_IN_CONTAINER)
        return self._update(job_id, SYSTEM, now, change)

    def mark_in_container(self, job_id: str, now: datetime.datetime, info: dict[str, str]) -> Job:
        """QUEUED, still, but the container runner's now: the worker started a task for the
        job (its type asked for one) and records it, with ``info`` (why) as the jobInfo, so
        that ABORT and DELETE stop that task and a redelivered message does not run the job
        on the worker too. Fails (StateConflict) for a job no longer queued or already handed
        over; a duration changed meanwhile is the task's to read (:meth:`mark_executing`)."""
        change = _also(
            Change(set={"inContainer": True, "jobInfo": info}, phases=TO_CONTAINER.sources),
            _NOT_IN_CONTAINER,
        )
        return self._update(job_id, SYSTEM, now, change)

    def record_progress(self, job_id: str, now: datetime.datetime, info: dict[str, str]) -> None:
        """Add to the jobInfo of an executing job."""
        change = Change(set={f"jobInfo.{k}": v for k, v in info.items()}, phases={Phase.EXECUTING})
        self._update(job_id, SYSTEM, now, change)

    def record_results(self, job_id: str, now: datetime.datetime, results: list[Result]) -> None:
        """The result list of an executing job, as it is now."""
        listed = [result_value(r) for r in results]
        self._update(job_id, SYSTEM, now, Change(set={"results": listed}, phases={Phase.EXECUTING}))

    def mark_completed(self, job_id: str, now: datetime.datetime) -> None:
        self._end(job_id, now, COMPLETE, {})

    def mark_failed(
        self, job_id: str, now: datetime.datetime, summary: ErrorSummary,
        dropping_progress: bool = False,
    ) -> None:  # fmt: skip
        """EXECUTING → ERROR with the summary; with ``dropping_progress`` the job's jobInfo
        goes too (to make room in the item)."""
        values: dict[str, Any] = {"errorSummary": summary_value(summary)}
        if dropping_progress:
            values["jobInfo"] = {}
        self._end(job_id, now, FAIL, values)

    def _end(
        self, job_id: str, now: datetime.datetime, end: Transition, values: dict[str, Any]
    ) -> None:
        change = Change(
            set={"phase": end.target, "endTime": now, **values},
            remove=_NO_DEADLINE,
            phases=end.sources,
        )
        self._leave_active(job_id, SYSTEM, now, change)

    def end_overdue(
        self, job_id: str, phase: Phase, now: datetime.datetime, cut: datetime.datetime,
        message: str,
    ) -> Job:  # fmt: skip
        """QUEUED or EXECUTING → ERROR for a job still in ``phase`` whose deadline is at or
        before ``cut`` (a client or the worker may have moved it on meanwhile); return the
        job as it was."""
        assert phase in END_LOST.sources
        change = Change(
            set={"phase": END_LOST.target, "endTime": now,
                 "errorSummary": summary_value(ErrorSummary(message))},
            remove=_NO_DEADLINE,
            phases={phase},
            condition="#deadline <= :cut",
            names={"#deadline": "deadline"},
            values={":cut": cut},
        )  # fmt: skip
        return self._leave_active(job_id, SYSTEM, now, change)

    def end_lost_task(
        self, job_id: str, task_arn: str, now: datetime.datetime, message: str
    ) -> Job:
        """QUEUED or EXECUTING → ERROR for a job whose container task stopped without ending
        it (its task, or one that never got as far as saying it was: a job has one)."""
        change = Change(
            set={"phase": END_LOST.target, "endTime": now,
                 "errorSummary": summary_value(ErrorSummary(message))},
            remove=_NO_DEADLINE,
            phases=END_LOST.sources,
            condition="attribute_not_exists(#task) OR #task = :task",
            names={"#task": "taskArn"},
            values={":task": task_arn},
        )  # fmt: skip
        return self._leave_active(job_id, SYSTEM, now, change)

    def _leave_active(
        self, job_id: str, caller: Caller, now: datetime.datetime, change: Change
    ) -> Job:
        """A change that ends a job's time in QUEUED or EXECUTING: one conditional write, or,
        for a job holding a place in its owner's quota, the change and the place's return in
        one transaction. (Without a quota no job holds one, and the first write is all.)
        Returns the job as it was before the change."""
        try:
            return self._update(job_id, caller, now, _also(change, _NOT_HOLDING), "ALL_OLD")
        except StateConflict as conflict:
            if not conflict.job.holds_place:
                raise
            before = conflict.job
        update = update_request(self.table, job_id, caller, now, _also(change, _HOLDING))
        try:
            transact(self._db, [{"Update": update}, give_back(self.table, owner_key(before.owner))])
        except Cancelled as cancelled:
            raise refusal(cancelled.items[0], caller, now) from None
        return before

    def _update(
        self, job_id: str, caller: Caller, now: datetime.datetime, change: Change,
        returning: str = "ALL_NEW",
    ) -> Any:  # fmt: skip
        """Apply ``change`` in one conditional write; return the job as it is afterwards (or,
        ``returning="ALL_OLD"``, as it was; ``"UPDATED_OLD"``: the changed attributes as they
        were, as a plain dict).

        Raises NotFound or Forbidden as :meth:`load` would, and StateConflict (with the
        unchanged job) when the change's own condition does not hold.
        """
        request = update_request(self.table, job_id, caller, now, change)
        try:
            # A transaction (a quota's) changing the item at that moment is retried first
            # (conflicts_retried); throttling that outlasted the SDK's retries is a 503.
            with aws.translated_errors():
                response = conflicts_retried(
                    lambda: self._db.update_item(**request, ReturnValues=returning)
                )
        except ClientError as error:
            raise refusal(refused_item(error), caller, now) from None
        attributes = response.get("Attributes", {})
        if returning not in ("ALL_NEW", "ALL_OLD"):
            return {k: deserialize(v) for k, v in attributes.items()}
        return job_from_item(attributes)
