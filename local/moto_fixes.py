"""Make moto's DynamoDB behave like DynamoDB where our correctness depends on it.

1. DynamoDB applies each request to an item atomically; moto does not lock, so two threads
   can lose a ``version = version + 1`` or build a reply from a half-changed item.
   Serialising moto's DynamoDB requests restores per-item atomicity.
2. DynamoDB refuses an UpdateItem that would grow an item past 400 KB and changes nothing;
   moto applies the update to the stored item first and raises afterwards. Restoring the
   item when moto raises gives DynamoDB's all-or-nothing.

Both are for the local runtime and the tests, so that they exercise our conditional writes
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
    from moto.dynamodb.exceptions import ItemSizeToUpdateTooLarge
    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodb.models.dynamo_type import DynamoType
    from moto.dynamodb.responses import DynamoHandler

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

    DynamoHandler.call_action = serialised  # type: ignore[method-assign]
    DynamoDBBackend.update_item = all_or_nothing  # type: ignore[method-assign]
