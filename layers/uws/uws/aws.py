"""boto3 clients, created once per container and only when first used.

Creating a client costs milliseconds; a Lambda container reuses it for every later request.
Locally moto answers them in-process, and ``AWS_ENDPOINT_URL_S3`` (a standard boto3 setting)
makes presigned URLs name moto's server (local/runtime.py).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from functools import cache
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError, HTTPClientError
from botocore.exceptions import ConnectionError as BotoConnectionError

from .errors import PayloadTooLarge, ServiceUnavailable

# ClientError: for callers
__all__ = ["ClientError", "client", "error_code", "reset", "transient", "translated_errors"]

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
        "TransactionConflictException",  # a write met a transaction on its item, retries spent
        "ThrottlingException",
        "RequestLimitExceeded",
        "Throttling",
        "SlowDown",
        "ServiceUnavailable",
        "InternalServerError",
        "InternalError",
        "RequestThrottled",
    }
)


def error_code(error: ClientError) -> str:
    """The error code AWS sent (``ThrottlingException``, ``SlowDown`` …)."""
    return str(error.response.get("Error", {}).get("Code", ""))


def transient(error: BaseException | None) -> bool:
    """Whether ``error`` is one of AWS's transient failures, the SDK's retries spent: an error
    AWS asks to retry (throttling, a conflict, a 500), or no answer at all (a connection
    refused or timed out)."""
    if isinstance(error, BotoConnectionError | HTTPClientError):
        return True
    return isinstance(error, ClientError) and error_code(error) in THROTTLING_CODES


@cache
def client(service: str) -> Any:
    return boto3.client(service, config=_CONFIG)


def s3_access() -> dict[str, str | None]:
    """What a library with its own S3 client (DuckDB's httpfs) needs to read S3 as this
    function does: the keys its S3 client signs with (the function's role on Lambda) and the
    endpoint it calls (moto's server locally)."""
    s3 = client("s3")
    # botocore keeps the signer's credentials there; they refresh when they near expiry.
    keys = s3._request_signer._credentials.get_frozen_credentials()
    return {
        "key_id": keys.access_key,
        "secret": keys.secret_key,
        "session_token": keys.token,
        "region": s3.meta.region_name,
        "endpoint": s3.meta.endpoint_url,
    }


def reset() -> None:
    """Forget the cached clients (tests switch between moto backends)."""
    client.cache_clear()


@contextlib.contextmanager
def translated_errors() -> Iterator[None]:
    """AWS errors a client should hear about: throttling that outlasted the retries is a 503
    (Retry-After), an item over DynamoDB's 400 KB a 413. Everything else propagates."""
    try:
        yield
    except ClientError as error:
        code = error_code(error)
        message = error.response.get("Error", {}).get("Message", "")
        if code in THROTTLING_CODES:
            raise ServiceUnavailable("The service is busy; please retry shortly.") from None
        if code == "ValidationException" and "size" in message.lower():
            raise PayloadTooLarge("The job's parameters are too large to store.") from None
        raise
