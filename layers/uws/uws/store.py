"""JobStore: the job table in DynamoDB, and the only module that calls DynamoDB.

Every change is one conditional write. The condition says what the change needs (the job
exists, is not past its destruction time, is visible to the caller, is in a phase the change
allows, and anything particular to the change); when it fails, DynamoDB hands back the old
item (``ReturnValuesOnConditionCheckFailure``) and :func:`_explain` tells the caller why,
without a second read. Two Lambdas changing one job at once therefore never lose an update.
"""

from __future__ import annotations

import datetime
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError

from . import aws
from .config import Settings
from .errors import Forbidden, NotFound
from .job import ErrorSummary, Job, JobRef, Result, Upload
from .phases import Phase

OWNER_INDEX = "byOwner"
DESTRUCTION_INDEX = "byDestruction"
DEADLINE_INDEX = "byDeadline"
SHARDS = 8  # destruction and deadline index partitions; the reaper queries each
ANONYMOUS_KEY = "anonymous"  # owners are stored as "user:<id>", so this cannot collide

_serialize = TypeSerializer().serialize
_deserialize = TypeDeserializer().deserialize


@dataclass(frozen=True)
class Caller:
    """Who is asking: the owner id from the API Gateway request context, None if anonymous.

    ``system`` is the service itself (worker, reaper): it may touch any job.
    """

    owner: str | None
    system: bool = False

    @property
    def owner_key(self) -> str:
        return owner_key(self.owner)


def owner_key(owner: str | None) -> str:
    return ANONYMOUS_KEY if owner is None else f"user:{owner}"


def shard(job_id: str) -> str:
    return str(zlib.crc32(job_id.encode()) % SHARDS)


def stamp(dt: datetime.datetime) -> str:
    """Stored times keep microseconds and sort lexicographically (zero-padded years)."""
    return dt.isoformat(timespec="microseconds") + "Z"


def unstamp(text: str) -> datetime.datetime:
    return datetime.datetime.fromisoformat(text.removesuffix("Z"))


def queue_deadline(job_id: str, now: datetime.datetime, settings: Settings) -> dict[str, Any]:
    """The sparse deadline index entry of a job entering QUEUED: the reaper's to enforce."""
    return {
        "deadline": now + datetime.timedelta(seconds=settings.queue_timeout),
        "deadlineShard": shard(job_id),
    }


class StateConflict(Exception):
    """The job is there and the caller may touch it, but the change's condition failed."""

    def __init__(self, job: Job) -> None:
        super().__init__(job.phase)
        self.job = job


@dataclass
class Change:
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
        self.values[placeholder] = _serialize(python_value)
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
        key = f"{expr.name('ownerKey')} = {expr.value(caller.owner_key)}"
        if after is not None:
            key += f" AND {expr.name('creationTime')} > {expr.value(stamp(after))}"
        filters = [f"{expr.name('destruction')} > {expr.value(stamp(now))}"]
        if phases:
            options = ", ".join(expr.value(str(p)) for p in sorted(phases))
            filters.append(f"{expr.name('phase')} IN ({options})")
        wanted = limit + 1  # one more tells whether another page follows
        request: dict[str, Any] = {
            "TableName": self.table,
            "IndexName": OWNER_INDEX,
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
                "ownerKey": {"S": caller.owner_key},
                "creationTime": {"S": stamp(older_than.creation_time)},
            }
        refs: list[JobRef] = []
        while True:
            with aws.translated_errors():
                page = self._db.query(**request)
            refs.extend(_ref_from_item(item) for item in page.get("Items", []))
            if "LastEvaluatedKey" not in page or len(refs) >= wanted:
                break
            request["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        return refs[:limit], len(refs) > limit

    def due(self, index: str, now: datetime.datetime, limit: int) -> Iterator[dict[str, Any]]:
        """Index entries whose time (destruction or deadline) is at or before ``now``, across
        the shards: what is read grows with what is due, never with the jobs stored."""
        shard_key, time_key = {
            DESTRUCTION_INDEX: ("destructionShard", "destruction"),
            DEADLINE_INDEX: ("deadlineShard", "deadline"),
        }[index]
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
                    yield {k: _deserialize(v) for k, v in item.items()}
                if "LastEvaluatedKey" not in page:
                    break
                request["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def delete_expired(self, job_id: str, now: datetime.datetime) -> bool:
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

    # ---- writes -----------------------------------------------------------------------------

    def create(self, job: Job) -> None:
        with aws.translated_errors():
            self._db.put_item(
                TableName=self.table,
                Item=item_from_job(job),
                ConditionExpression="attribute_not_exists(jobId)",
            )

    def update(self, job_id: str, caller: Caller, now: datetime.datetime, change: Change) -> Job:
        """Apply ``change`` in one conditional write; return the job as it is afterwards.

        Raises NotFound or Forbidden as :meth:`load` would, and StateConflict (with the
        unchanged job) when the change's own condition does not hold.
        """
        expr = _Expression()
        assignments = [f"{expr.name(k)} = {expr.value(_plain(v))}" for k, v in change.set.items()]
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
        expr.values.update({k: _serialize(_plain(v)) for k, v in change.values.items()})
        try:
            with aws.translated_errors():
                response = self._db.update_item(
                    TableName=self.table,
                    Key={"jobId": {"S": job_id}},
                    UpdateExpression=update,
                    ConditionExpression=" AND ".join(f"({c})" for c in conditions),
                    ReturnValues="ALL_NEW",
                    ReturnValuesOnConditionCheckFailure="ALL_OLD",
                    **expr.request(),
                )
        except ClientError as error:
            raise _conflict(error, caller, now) from None
        return job_from_item(response["Attributes"])

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


SYSTEM = Caller(owner=None, system=True)


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


# ---- item <-> Job ------------------------------------------------------------------------------


def _plain(value: Any) -> Any:
    """Python values as DynamoDB stores them (datetimes as sortable strings)."""
    if isinstance(value, datetime.datetime):
        return stamp(value)
    if isinstance(value, Phase):
        return str(value)
    return value


def item_from_job(job: Job) -> dict[str, Any]:
    item: dict[str, Any] = {
        "jobId": job.job_id,
        "ownerKey": owner_key(job.owner),
        "phase": str(job.phase),
        "creationTime": stamp(job.creation_time),
        "executionDuration": job.execution_duration,
        "destruction": stamp(job.destruction),
        "destructionShard": shard(job.job_id),
        "jobType": job.job_type,
        "parameters": job.parameters,
        "uploads": {
            name: {"key": u.key, "mimeType": u.mime_type, "size": u.size}
            for name, u in job.uploads.items()
        },
        "results": [
            {"id": r.id, "key": r.key, "mimeType": r.mime_type, "size": r.size} for r in job.results
        ],
        "jobInfo": job.job_info,
        "version": job.version,
    }
    optional = {
        "owner": job.owner,
        "runId": job.run_id,
        "startTime": job.start_time and stamp(job.start_time),
        "endTime": job.end_time and stamp(job.end_time),
        "quote": job.quote and stamp(job.quote),
        "errorDetail": job.error_detail,
        "deadline": job.deadline and stamp(job.deadline),
        "deadlineShard": job.deadline and shard(job.job_id),
    }
    item.update({k: v for k, v in optional.items() if v is not None})
    if job.error_summary is not None:
        item["errorSummary"] = error_summary_value(job.error_summary)
    return {k: _serialize(v) for k, v in item.items()}


def error_summary_value(summary: ErrorSummary) -> dict[str, Any]:
    return {"type": summary.type, "message": summary.message, "hasDetail": summary.has_detail}


def _time(item: dict[str, Any], name: str) -> datetime.datetime | None:
    value = item.get(name)
    return None if value is None else unstamp(value)


def job_from_item(raw: dict[str, Any]) -> Job:
    item = {k: _deserialize(v) for k, v in raw.items()}
    summary = item.get("errorSummary")
    return Job(
        job_id=item["jobId"],
        owner=item.get("owner"),
        phase=Phase(item["phase"]),
        creation_time=unstamp(item["creationTime"]),
        execution_duration=int(item["executionDuration"]),
        destruction=unstamp(item["destruction"]),
        job_type=item["jobType"],
        run_id=item.get("runId"),
        start_time=_time(item, "startTime"),
        end_time=_time(item, "endTime"),
        quote=_time(item, "quote"),
        parameters={k: list(v) for k, v in item.get("parameters", {}).items()},
        uploads={
            name: Upload(u["key"], u["mimeType"], int(u["size"]))
            for name, u in item.get("uploads", {}).items()
        },
        results=[
            Result(r["id"], r["key"], r["mimeType"], int(r["size"]))
            for r in item.get("results", [])
        ],
        error_summary=None
        if summary is None
        else ErrorSummary(summary["message"], summary["type"], bool(summary["hasDetail"])),
        error_detail=item.get("errorDetail"),
        deadline=_time(item, "deadline"),
        job_info={k: str(v) for k, v in item.get("jobInfo", {}).items()},
        version=int(item.get("version", 0)),
    )


def _ref_from_item(raw: dict[str, Any]) -> JobRef:
    item = {k: _deserialize(v) for k, v in raw.items()}
    return JobRef(
        job_id=item["jobId"],
        phase=Phase(item["phase"]),
        owner=item.get("owner"),
        run_id=item.get("runId"),
        creation_time=unstamp(item["creationTime"]),
    )
