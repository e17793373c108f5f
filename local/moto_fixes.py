"""Make moto's DynamoDB behave like DynamoDB where our correctness depends on it.

DynamoDB applies each request to an item atomically; moto does not lock, so two threads can
lose a ``version = version + 1`` or build a reply from a half-changed item. Serialising
moto's DynamoDB requests restores DynamoDB's per-item atomicity for the local runtime and the
tests, so that races exercise our conditional writes rather than moto's missing lock.
"""

from __future__ import annotations

import threading
from typing import Any

_LOCK = threading.RLock()
_original: Any = None


def serialise_dynamodb() -> None:
    global _original
    from moto.dynamodb.responses import DynamoHandler

    if _original is not None:
        return
    _original = DynamoHandler.call_action

    def call_action(self: Any) -> Any:
        with _LOCK:
            return _original(self)

    DynamoHandler.call_action = call_action  # type: ignore[method-assign]
