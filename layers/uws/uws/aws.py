"""boto3 clients, created once per container and only when first used.

Creating a client costs milliseconds; a Lambda container reuses it for every later request.
``AWS_ENDPOINT_URL`` (the standard boto3 setting) points them at moto's server locally.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import boto3
from botocore.config import Config

# Standard retry mode backs off on throttling; what outlasts it becomes a 503 with Retry-After.
_CONFIG = Config(
    retries={"mode": "standard", "max_attempts": 4},  # retries after the first call
    connect_timeout=3,
    read_timeout=10,
    signature_version="s3v4",
)

THROTTLING_CODES = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "RequestLimitExceeded",
        "Throttling",
        "SlowDown",
        "ServiceUnavailable",
        "InternalServerError",
    }
)


@cache
def client(service: str) -> Any:
    return boto3.client(service, config=_CONFIG)


def reset() -> None:
    """Forget the cached clients (tests switch between moto backends)."""
    client.cache_clear()
