"""Make moto's DynamoDB, SQS, EventBridge and S3 behave as AWS does where our correctness
depends on it. Each patch is named after the AWS rule it imposes (docs/aws.md has a row for
each, with its source); :func:`apply_all` applies them, and :mod:`.moto_containers`' for ECS
and Lambda layers, once per process. One patch is for speed, not behaviour:
:func:`item_replies_as_dynamodb_sends_them`.

They serve the local runtime and the tests alike, so that both exercise our conditional
writes and least-privilege policies rather than moto's shortcuts.
"""

from __future__ import annotations

import base64
import copy
import json
import sys
import threading
import types
from collections.abc import Callable
from typing import Any

PATCHES: list[Callable[[], None]] = []
_applied = False


def patch(function: Callable[[], None]) -> Callable[[], None]:
    PATCHES.append(function)
    return function


def apply_all() -> None:
    """Every patch here and in :mod:`.moto_containers`, and the hook of :mod:`.faults`
    (which injects nothing until asked), once."""
    global _applied
    if _applied:
        return
    _applied = True
    from . import faults, moto_containers

    for function in [
        *PATCHES,
        *moto_containers.PATCHES,
        faults.the_cloud_fails_transiently,
        faults.storage_fails_too,
    ]:
        function()


# ---- DynamoDB ----------------------------------------------------------------------------

_LOCK = threading.RLock()


@patch
def each_request_changes_one_item_atomically() -> None:
    """DynamoDB applies each request to an item atomically (DynamoDB Developer Guide,
    "Condition expressions"); moto does not lock, so two threads can lose a ``version =
    version + 1`` or build a reply from a half-changed item. Its requests are serialised."""
    from moto.dynamodb.responses import DynamoHandler

    call_action = DynamoHandler.call_action

    def serialised(self: Any) -> Any:
        with _LOCK:
            return call_action(self)

    DynamoHandler.call_action = serialised  # type: ignore[method-assign]


_copies = threading.local()


class _RememberingCopy(types.ModuleType):
    """The ``copy`` module for moto's DynamoDB models, remembering the last deep copy."""

    def deepcopy(self, value: Any, memo: Any = None) -> Any:
        _copies.last = copy.deepcopy(value, memo)
        return _copies.last

    def __getattr__(self, name: str) -> Any:
        return getattr(copy, name)


@patch
def an_update_past_400_kb_changes_nothing() -> None:
    """DynamoDB refuses an UpdateItem that would grow an item past 400 KB and changes nothing
    (DynamoDB Developer Guide, "Service, account, and table quotas"); moto applies the update
    to the stored item first and raises afterwards. The item is restored when moto raises."""
    from moto.dynamodb.exceptions import ItemSizeToUpdateTooLarge
    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodb.models.dynamo_type import DynamoType

    update_item = DynamoDBBackend.update_item
    # moto's update_item deep-copies the item before it changes it; that copy is the state to
    # restore, so the patch costs no copy of its own (a millisecond an update).
    dynamodb_models = sys.modules[DynamoDBBackend.__module__]
    dynamodb_models.copy = _RememberingCopy("copy")  # type: ignore[attr-defined]

    def all_or_nothing(
        self: Any, table_name: str, key: dict[str, Any], *args: Any, **kwargs: Any
    ) -> Any:
        _copies.last = None
        try:
            return update_item(self, table_name, key, *args, **kwargs)
        except ItemSizeToUpdateTooLarge:
            table = self.get_table(table_name)
            item = table.get_item(DynamoType(key[table.hash_key_attr]), None)
            before = _copies.last
            if item is not None and before is not None:
                item.attrs = before.attrs
            raise

    DynamoDBBackend.update_item = all_or_nothing  # type: ignore[method-assign]


@patch
def limit_is_a_32_bit_integer_of_at_least_1() -> None:
    """DynamoDB's ``Limit`` is an Integer with a minimum of 1 (DynamoDB API Reference, Query);
    a larger one fails to deserialise (SerializationException), which moto takes. Refusing it
    as DynamoDB does keeps an unclamped ``LAST`` from passing here and failing on AWS."""
    from moto.dynamodb.exceptions import DynamodbException
    from moto.dynamodb.responses import DynamoHandler

    class SerializationException(DynamodbException):
        def __init__(self, message: str) -> None:
            super().__init__("SerializationException", message)

    def bounded(action: Any) -> Any:
        def checked(self: Any) -> Any:
            limit = self.body.get("Limit")
            if limit is not None and not 1 <= int(limit) <= 2**31 - 1:
                raise SerializationException(f"Limit {limit} is not a 32-bit integer of at least 1")
            return action(self)

        return checked

    DynamoHandler.query = bounded(DynamoHandler.query)  # type: ignore[method-assign]
    DynamoHandler.scan = bounded(DynamoHandler.scan)  # type: ignore[method-assign]


# What IAM authorizes each kind of TransactWriteItems entry as.
TRANSACTION_ACTIONS = {
    "Put": "PutItem",
    "Update": "UpdateItem",
    "Delete": "DeleteItem",
    "ConditionCheck": "ConditionCheckItem",
}


@patch
def transaction_items_are_authorized_one_by_one() -> None:
    """IAM authorizes each item of a TransactWriteItems as the item's own action (PutItem,
    UpdateItem, DeleteItem, ConditionCheckItem) on its table (DynamoDB Developer Guide, "Using
    IAM with DynamoDB transactions"); moto asks for a "dynamodb:TransactWriteItems" that no
    policy names. Authorizing item by item lets moto enforce the real policies there too."""
    from moto.dynamodb.responses import DynamoHandler

    authorize = DynamoHandler._authenticate_and_authorize_normal_action

    def item_by_item(self: Any, resource: str = "*") -> None:
        if self._get_action() != "TransactWriteItems":
            return authorize(self, resource)
        for entry in (getattr(self, "body", None) or {}).get("TransactItems", []):
            for kind, request in entry.items():
                action = TRANSACTION_ACTIONS[kind]
                arn = f"arn:aws:dynamodb:{self.region}:{self.current_account}:table/"
                self._get_action = lambda action=action: action
                try:
                    authorize(self, arn + request["TableName"])
                finally:
                    del self._get_action
        return None

    DynamoHandler._authenticate_and_authorize_normal_action = item_by_item  # type: ignore[method-assign]


@patch
def transactions_change_only_their_items() -> None:
    """A DynamoDB transaction changes only its items, atomically, and the table's stream
    carries every committed change (DynamoDB Developer Guide, "Amazon DynamoDB Transactions");
    moto deep-copies every table it names before each one and, when it is cancelled, puts the
    copies in place of the tables: a copy of the whole table per transaction and, worse, a
    stream whose records after a cancelled transaction never reach a reader. Here a
    transaction checks every condition first, then applies its items; should an item still
    fail, the items already changed are put back as they were."""
    from moto.dynamodb.models import DynamoDBBackend

    DynamoDBBackend.transact_write_items = _transaction_in_place  # type: ignore[method-assign]


# Operations whose results moto builds in DynamoDB's wire shape.
ITEM_OPERATIONS = frozenset(
    {"GetItem", "PutItem", "UpdateItem", "DeleteItem", "Query", "Scan", "BatchGetItem",
     "BatchWriteItem", "TransactGetItems", "TransactWriteItems"}
)  # fmt: skip


def _wire_value(value: Any) -> str:
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    raise TypeError(f"{type(value).__name__} is not DynamoDB JSON")


@patch
def item_replies_as_dynamodb_sends_them() -> None:
    """Speed, not behaviour: moto 5.2 renders every DynamoDB reply through its model-driven
    serializer, about 150 attribute look-ups for a job item and most of a GetItem's time (under
    the per-item lock, so it also limits concurrency). The item operations' results are already
    DynamoDB's wire JSON; they are dumped as they are (binary values in base64, as the
    serializer writes them); tests/integration/test_moto_fixes.py holds the two renderings
    equal. moto also lists a handler class's methods on every request; the list is kept."""
    import functools

    from moto.core import responses
    from moto.core.responses import ActionResult

    if getattr(ActionResult.execute_result, "wire_json", False):
        return
    responses.method_names_from_class = functools.cache(responses.method_names_from_class)
    execute_result = ActionResult.execute_result

    def dumped(self: Any, context: Any) -> Any:
        if (
            context.service_model.service_name == "dynamodb"
            and context.operation_model.name in ITEM_OPERATIONS
            and not isinstance(self.result, Exception)
        ):
            body = json.dumps(self.result, default=_wire_value)
            return 200, {"Content-Type": "application/x-amz-json-1.0"}, body
        return execute_result(self, context)

    dumped.wire_json = True  # type: ignore[attr-defined]
    dumped.moto_serializer = execute_result  # type: ignore[attr-defined]
    ActionResult.execute_result = dumped  # type: ignore[method-assign]


# ---- IAM's resources ---------------------------------------------------------------------


@patch
def iam_authorizes_on_the_table_queue_and_bus() -> None:
    """IAM authorizes DynamoDB, SQS and EventBridge actions against the table, index, queue or
    event bus ARN (Service Authorization Reference); moto checks them against "*", so
    least-privilege policies that name their table would be refused. Naming the resources as
    IAM does lets moto enforce the functions' real policies (local.iam)."""
    from moto.dynamodb.responses import DynamoHandler
    from moto.events.responses import EventsHandler
    from moto.sqs.responses import SQSResponse

    def table_or_index(self: Any) -> str:
        body = getattr(self, "body", None) or {}
        table = body.get("TableName")
        if not table:
            return "*"
        arn = f"arn:aws:dynamodb:{self.region}:{self.current_account}:table/{table}"
        return f"{arn}/index/{body['IndexName']}" if body.get("IndexName") else arn

    def event_bus(self: Any) -> str:
        """PutEvents names a bus per entry; ours all go to one (uws.eventbus)."""
        body = getattr(self, "body", None) or "{}"
        entries = (json.loads(body) if isinstance(body, str) else body).get("Entries") or [{}]
        name = entries[0].get("EventBusName") or "default"
        return name if name.startswith("arn:") else (
            f"arn:aws:events:{self.region}:{self.current_account}:event-bus/{name}"
        )  # fmt: skip

    def queue(self: Any) -> str:
        try:
            name = self._get_queue_name()
        except Exception:
            return "*"
        return f"arn:aws:sqs:{self.region}:{self.current_account}:{name}"

    DynamoHandler._determine_resource = table_or_index  # type: ignore[attr-defined]
    SQSResponse._determine_resource = queue  # type: ignore[attr-defined]
    EventsHandler._determine_resource = event_bus  # type: ignore[attr-defined]


@patch
def delete_objects_is_authorized_per_object() -> None:
    """S3 authorizes DeleteObjects' s3:DeleteObject on each object (S3 API Reference,
    DeleteObjects); moto checks it on the bucket and, when that fails, refuses every key."""
    from moto.s3.exceptions import BucketAccessDeniedError, S3AccessDeniedError
    from moto.s3.responses import S3Response

    delete_keys = S3Response._bucket_response_delete_keys

    def per_object(self: Any, bucket_name: str, authenticated: bool = True) -> Any:
        if authenticated:
            return delete_keys(self, bucket_name)
        import xmltodict

        objects = xmltodict.parse(self.body)["Delete"].get("Object", [])
        objects = objects if isinstance(objects, list) else [objects]
        for obj in objects:
            try:
                self._authenticate_and_authorize_s3_action(bucket_name, obj["Key"])
            except (BucketAccessDeniedError, S3AccessDeniedError):
                return delete_keys(self, bucket_name, authenticated=False)
        return delete_keys(self, bucket_name)

    S3Response._bucket_response_delete_keys = per_object  # type: ignore[method-assign]


@patch
def presigned_urls_are_authorized_by_their_signer() -> None:
    """S3 authorizes a presigned request as its signer; moto's IAM reads only the
    Authorization header and fails (500) on a query-string signature. moto cannot check it,
    so a presigned request passes (docs/aws.md lists the gap)."""
    from moto.s3.responses import S3Response

    s3_authorization = S3Response._authenticate_and_authorize_s3_action

    def presigned_too(self: Any, *args: Any, **kwargs: Any) -> Any:
        if "Authorization" not in self.headers and "X-Amz-Signature" in self.querystring:
            return None
        return s3_authorization(self, *args, **kwargs)

    S3Response._authenticate_and_authorize_s3_action = presigned_too  # type: ignore[method-assign]


# ---- transactions, in place --------------------------------------------------------------


def _transaction_in_place(self: Any, transact_items: list[dict[str, Any]]) -> None:
    """TransactWriteItems on the items it names, not on copies of whole tables."""
    from moto.dynamodb.comparisons import get_filter_expression
    from moto.dynamodb.exceptions import (
        MultipleTransactionsException,
        TooManyTransactionsException,
        TransactionCanceledException,
        TransactWriteSingleOpException,
    )

    if len(transact_items) > 100:
        raise TooManyTransactionsException()
    steps, errors, seen = [], [], set()
    for entry in transact_items:
        if len(entry) > 1:
            raise TransactWriteSingleOpException
        kind, op = next(iter(entry.items()))
        table = self.get_table(op["TableName"])
        key = op["Key"] if kind != "Put" else {table.hash_key_attr: op["Item"][table.hash_key_attr]}
        if table.range_key_attr is not None and kind == "Put":
            key[table.range_key_attr] = op["Item"][table.range_key_attr]
        marker = (op["TableName"], json.dumps(key, sort_keys=True))
        if marker in seen:
            raise MultipleTransactionsException()
        seen.add(marker)
        current = self.get_item(op["TableName"], key)
        condition = op.get("ConditionExpression")
        error: tuple[Any, Any, Any] = (None, None, None)
        if condition is not None and not get_filter_expression(
            condition, op.get("ExpressionAttributeNames"), op.get("ExpressionAttributeValues")
        ).expr(current):
            old = None
            if op.get("ReturnValuesOnConditionCheckFailure") == "ALL_OLD" and current:
                old = current.to_json()["Attributes"]
            error = ("ConditionalCheckFailed", "The conditional request failed", old)
        errors.append(error)
        steps.append((kind, op, table, key, copy.deepcopy(current)))
    if any(code is not None for code, _, _ in errors):
        raise TransactionCanceledException(errors)
    done = []
    try:
        for kind, op, table, key, before in steps:
            names, values = op.get("ExpressionAttributeNames"), op.get("ExpressionAttributeValues")
            if kind == "Put":
                self.put_item(op["TableName"], op["Item"])
            elif kind == "Delete":
                self.delete_item(op["TableName"], key)
            elif kind == "Update":
                self.update_item(
                    op["TableName"], key, update_expression=op["UpdateExpression"],
                    expression_attribute_names=names, expression_attribute_values=values,
                )  # fmt: skip
            done.append((table, key, before))
    except Exception:
        from moto.dynamodb.models.dynamo_type import DynamoType

        for table, key, before in reversed(done):
            hash_key = DynamoType(key[table.hash_key_attr])
            if before is None:
                table.items.pop(hash_key, None)
            else:
                table.items[hash_key] = before
        raise
