"""Removing jobs: a client's DELETE and the reaper's destruction of expired jobs. Part of
:class:`~uws.store.JobStore`. A job holding a place in its owner's quota gives it back in the
same transaction as its removal.
"""

from __future__ import annotations

import datetime
from typing import Any

from botocore.exceptions import ClientError

from .. import aws
from ..job import Caller, Job
from .items import job_from_item, stamp
from .quota import HOLDS_PLACE, give_back
from .writes import (
    Cancelled,
    Expression,
    access_condition,
    conflicts_retried,
    explain,
    refusal,
    refused_item,
    transact,
)


class JobRemoval:
    table: str
    _db: Any

    def delete(self, job_id: str, caller: Caller, now: datetime.datetime) -> Job:
        """Delete the item in one conditional write; return what was deleted. A job holding a
        place in its owner's quota gives it back in the same transaction."""
        expr = Expression()
        condition = access_condition(expr, caller, now)
        try:
            with aws.translated_errors():
                response = conflicts_retried(lambda: self._db.delete_item(
                    TableName=self.table,
                    Key={"jobId": {"S": job_id}},
                    ConditionExpression=f"({condition}) AND attribute_not_exists({HOLDS_PLACE})",
                    ReturnValues="ALL_OLD",
                    ReturnValuesOnConditionCheckFailure="ALL_OLD",
                    **expr.request(),
                ))  # fmt: skip
        except ClientError as error:
            item = refused_item(error)
            if item is None or HOLDS_PLACE not in item:
                raise refusal(item, caller, now) from None
            explain(job_from_item(item), caller, now)
            try:
                self._delete_holding(item, f"{condition} AND {expr.name('version')} = :seen", expr)
            except Cancelled:  # changed since: the worker ended it, say; start again
                return self.delete(job_id, caller, now)
            return job_from_item(item)
        return job_from_item(response["Attributes"])

    def destroy_expired(self, job_id: str, now: datetime.datetime) -> bool:
        """Delete a job whose destruction time has passed; False if it is gone or was extended."""
        condition = "#d <= :now"
        names, values = {"#d": "destruction"}, {":now": {"S": stamp(now)}}
        try:
            with aws.translated_errors():
                conflicts_retried(lambda: self._db.delete_item(
                    TableName=self.table,
                    Key={"jobId": {"S": job_id}},
                    ConditionExpression=f"{condition} AND attribute_not_exists({HOLDS_PLACE})",
                    ExpressionAttributeNames=names,
                    ExpressionAttributeValues=values,
                    ReturnValuesOnConditionCheckFailure="ALL_OLD",
                ))  # fmt: skip
        except ClientError as error:
            item = refused_item(error)
            if item is None or HOLDS_PLACE not in item or item["destruction"]["S"] > stamp(now):
                return False
            expr = Expression()
            expr.names.update(names)
            expr.values.update(values)
            try:
                self._delete_holding(item, f"{condition} AND {expr.name('version')} = :seen", expr)
            except Cancelled:
                return False
        return True

    def _delete_holding(self, item: dict[str, Any], condition: str, expr: Expression) -> None:
        """Delete ``item`` (unchanged since it was read: same version) and give its place back."""
        expr.values[":seen"] = item["version"]
        delete = {
            "TableName": self.table,
            "Key": {"jobId": item["jobId"]},
            "ConditionExpression": condition,
            **expr.request(),
        }
        transact(self._db, [{"Delete": delete}, give_back(self.table, item["ownerKey"]["S"])])
