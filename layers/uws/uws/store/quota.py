"""Active-job quotas (docs/uws.md, Quotas): one counter item per owner in the job table.

The counter is the number of the owner's jobs that hold a place (QUEUED or EXECUTING). A job
takes its place in the same transaction that queues it, with the condition that the count is
below the limit, and says so on its own item (``holdsPlace``); the transaction that ends it
gives the place back only if the job still holds it, and removes the mark, so a place is given
back exactly once. A transaction botocore retries after a lost reply carries the same client
token, so DynamoDB applies it once. The counter is one small number however high the limit.
Counter ids cannot be job ids (``#`` is not in a job id), carry no owner, destruction or
deadline, and so stay out of every index and every job list.
"""

from __future__ import annotations

from typing import Any

HOLDS_PLACE = "holdsPlace"  # on a job item, while the job holds a place in its owner's quota
_PREFIX = "active#"


def counter_id(owner_key: str) -> str:
    """The counter of the owner stored under ``owner_key`` (the job item's ``ownerKey``)."""
    return _PREFIX + owner_key


def take_place(table: str, owner_key: str, limit: int) -> dict[str, Any]:
    """A transaction item: one more active job for the owner, if fewer than ``limit``."""
    return {
        "Update": {
            "TableName": table,
            "Key": {"jobId": {"S": counter_id(owner_key)}},
            "UpdateExpression": "ADD #active :one",
            "ConditionExpression": "attribute_not_exists(#active) OR #active < :limit",
            "ExpressionAttributeNames": {"#active": "active"},
            "ExpressionAttributeValues": {":one": {"N": "1"}, ":limit": {"N": str(limit)}},
        }
    }


def give_back(table: str, owner_key: str) -> dict[str, Any]:
    """A transaction item: one active job fewer for the owner (its job's own condition, that
    it holds a place, is what makes this happen once)."""
    return {
        "Update": {
            "TableName": table,
            "Key": {"jobId": {"S": counter_id(owner_key)}},
            "UpdateExpression": "ADD #active :minus",
            "ExpressionAttributeNames": {"#active": "active"},
            "ExpressionAttributeValues": {":minus": {"N": "-1"}},
        }
    }
