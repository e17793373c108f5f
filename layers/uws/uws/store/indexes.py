"""The job table's indexes: a caller's jobs newest first, and what the reaper must do. Part
of :class:`~uws.store.JobStore`; each read grows with its answer, never with the jobs stored.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterator
from typing import Any

from .. import aws
from ..job import Caller, JobRef, ListPosition
from ..phases import Phase
from .items import SHARDS, deserialize, owner_key, ref_from_item, stamp
from .writes import Expression

_OWNER_INDEX = "byOwner"
_DESTRUCTION_INDEX = "byDestruction"
_DEADLINE_INDEX = "byDeadline"


class JobIndexes:
    table: str
    _db: Any

    def list_for(
        self,
        caller: Caller,
        now: datetime.datetime,
        limit: int,
        phases: frozenset[Phase] | None = None,
        after: datetime.datetime | None = None,
        older_than: ListPosition | None = None,
    ) -> tuple[list[JobRef], bool]:
        """Up to ``limit`` of the caller's jobs, newest first (older than ``older_than`` when
        paging on), from the owner index, and whether more follow: reads grow with the
        answer, never with the jobs stored."""
        expr = Expression()
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
