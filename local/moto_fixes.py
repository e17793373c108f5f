"""Make moto's DynamoDB behave like DynamoDB where our correctness depends on it.

1. DynamoDB applies each request to an item atomically; moto does not lock, so two threads
   can lose a ``version = version + 1`` or build a reply from a half-changed item.
   Serialising moto's DynamoDB requests restores per-item atomicity.
2. DynamoDB refuses an UpdateItem that would grow an item past 400 KB and changes nothing;
   moto applies the update to the stored item first and raises afterwards. Restoring the
   item when moto raises gives DynamoDB's all-or-nothing.

3. DynamoDB's ``Limit`` is a 32-bit integer from 1 (DynamoDB API Reference, Query: "Limit
   Type: Integer, Valid Range: Minimum value of 1"); a larger one fails to deserialise
   (``SerializationException``), which moto takes. Refusing it as DynamoDB does keeps
   an unclamped ``LAST`` from passing here and failing on AWS.

All are for the local runtime and the tests, so that they exercise our conditional writes
rather than moto's shortcuts.
"""

from __future__ import annotations

import copy
import threading
from typing import Any

_LOCK = threading.RLock()
_patched = False


def serialise_dynamodb() -> None:
    global _patched
    if _patched:
        return
    _patched = True
    from moto.dynamodb.exceptions import DynamodbException, ItemSizeToUpdateTooLarge
    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodb.models.dynamo_type import DynamoType
    from moto.dynamodb.responses import DynamoHandler

    class SerializationException(DynamodbException):
        def __init__(self, message: str) -> None:
            super().__init__("SerializationException", message)

    call_action = DynamoHandler.call_action

    def serialised(self: Any) -> Any:
        with _LOCK:
            return call_action(self)

    update_item = DynamoDBBackend.update_item

    def all_or_nothing(
        self: Any, table_name: str, key: dict[str, Any], *args: Any, **kwargs: Any
    ) -> Any:
        table = self.get_table(table_name)
        item = table.get_item(DynamoType(key[table.hash_key_attr]), None)
        saved = copy.deepcopy(item.attrs) if item is not None else None
        try:
            return update_item(self, table_name, key, *args, **kwargs)
        except ItemSizeToUpdateTooLarge:
            if item is not None:
                item.attrs = saved
            raise

    def bounded(action: Any) -> Any:
        def checked(self: Any) -> Any:
            limit = self.body.get("Limit")
            if limit is not None and not 1 <= int(limit) <= 2**31 - 1:
                raise SerializationException(f"Limit {limit} is not a 32-bit integer of at least 1")
            return action(self)

        return checked

    DynamoHandler.query = bounded(DynamoHandler.query)  # type: ignore[method-assign]
    DynamoHandler.scan = bounded(DynamoHandler.scan)  # type: ignore[method-assign]
    DynamoHandler.call_action = serialised  # type: ignore[method-assign]
    DynamoDBBackend.update_item = all_or_nothing  # type: ignore[method-assign]
