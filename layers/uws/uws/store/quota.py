"""Active-job quotas (docs/uws.md, Quotas): one counter item per owner in the job table.

The counter holds the ids of the owner's jobs that hold a place (QUEUED or EXECUTING) as a
string set. A job takes its place in the same transaction that queues it, with the condition
that the set is smaller than the limit, and gives it back in the transaction that ends it.
Adding and deleting an id are idempotent, so a retried transaction never counts twice. A job
that holds a place says so (``holdsPlace``), which tells an ending transition whether it must
give one back. Counter ids cannot be job ids (``#`` is not in a job id), carry no owner,
destruction or deadline, and so stay out of every index and every job list.
"""

from __future__ import annotations

from typing import Any

HOLDS_PLACE = "holdsPlace"  # on a job item, while the job holds a place in its owner's quota
_PREFIX = "active#"


def counter_id(owner_key: str) -> str:
    """The counter of the owner stored under ``owner_key`` (the job item's ``ownerKey``)."""
    return _PREFIX + owner_key


def take_place(table: str, owner_key: str, job_id: str, limit: int) -> dict[str, Any]:
    """A transaction item: ``job_id`` joins its owner's active jobs if fewer than ``limit``."""
    return {
        "Update": {
            "TableName": table,
            "Key": {"jobId": {"S": counter_id(owner_key)}},
            "UpdateExpression": "ADD #jobs :job",
            "ConditionExpression": "attribute_not_exists(#jobs) OR size(#jobs) < :limit",
            "ExpressionAttributeNames": {"#jobs": "jobs"},
            "ExpressionAttributeValues": {":job": {"SS": [job_id]}, ":limit": {"N": str(limit)}},
        }
    }


def give_back(table: str, owner_key: str, job_id: str) -> dict[str, Any]:
    """A transaction item: ``job_id`` leaves its owner's active jobs (a no-op if not there)."""
    return {
        "Update": {
            "TableName": table,
            "Key": {"jobId": {"S": counter_id(owner_key)}},
            "UpdateExpression": "DELETE #jobs :job",
            "ExpressionAttributeNames": {"#jobs": "jobs"},
            "ExpressionAttributeValues": {":job": {"SS": [job_id]}},
        }
    }


def active_jobs(item: dict[str, Any] | None) -> set[str]:
    """The ids a counter item (as GetItem returns it) holds."""
    return set((item or {}).get("jobs", {}).get("SS", []))
