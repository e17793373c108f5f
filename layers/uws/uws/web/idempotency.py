"""Idempotent creation (docs/uws.md, Idempotent creation): a POST to ``/async`` with an
``Idempotency-Key`` header creates at most one job per owner and key within 24 hours.

Powertools' Idempotency utility keeps the record, in a DynamoDB table of its own: the first
request writes it IN_PROGRESS (a conditional put), creates the job and stores its id; a
repeat with the same body gets that id, so the same 303; a repeat with another body is a 422,
and one while the first is still being served a 409. A creation that fails (a 400, a 503)
leaves no record, so the client may try again with the same key.

The record's own writes meet AWS's transient errors too. One that outlasts the SDK's retries
before the job is made is a 503 (nothing made; the key is free, or IN_PROGRESS for at most
REQUEST_SECONDS). Once the job is made, the creation has happened: its record's completion is
tried again, and if it still fails the client gets its 303 all the same, never a 500 for a
job that exists.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from collections.abc import Callable

from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from aws_lambda_powertools.utilities.idempotency.exceptions import (
    IdempotencyAlreadyInProgressError,
    IdempotencyInconsistentStateError,
    IdempotencyPersistenceLayerError,
    IdempotencyValidationError,
)

from .. import aws
from ..errors import BadRequest, Conflict, ServiceUnavailable, UnprocessableContent
from ..service import Service
from ..store.writes import TRANSACTION_ATTEMPTS, pause_after_conflict
from ..telemetry import logger
from .http import Request

LIFETIME = 86400  # seconds a key is remembered
KEY = re.compile(r"[\x21-\x7e]{1,255}")  # printable ASCII, as the IETF draft's examples
# A request is dead once API Gateway has given up on it (its integration timeout, 29 s): an
# IN_PROGRESS record older than that is left by a function that died, and does not block.
REQUEST_SECONDS = 29
# What one more write of the record may take, the SDK's retries and their backoff included
# (standard mode: 4 retries, jittered doubling delays): tried only with this much time left.
COMPLETION_MILLIS = 15_000


class _RequestBudget:
    """What Powertools asks of a Lambda context: the milliseconds this request has left."""

    def __init__(self, seconds: float) -> None:
        self.deadline = time.monotonic() + seconds

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.deadline - time.monotonic()) * 1000))


def fingerprint(request: Request) -> str:
    """The request body, as what decides whether a repeat is the same request: parameters in
    order (names in any case), uploaded files by name, type and content."""
    params = [[name.upper(), value] for name, value in request.params]
    files = sorted(
        [name.upper(), f.filename, f.content_type, hashlib.sha256(f.content).hexdigest()]
        for name, f in request.files.items()
    )
    canonical = json.dumps([params, files], ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def create_once(service: Service, request: Request, create: Callable[[], str]) -> str:
    """The id of the job this owner's key names: created now by ``create``, or before."""
    key = request.idempotency_key or ""
    if not KEY.fullmatch(key):
        raise BadRequest("Idempotency-Key must be 1 to 255 printable ASCII characters.")
    config = IdempotencyConfig(
        event_key_jmespath="[owner, key]",
        payload_validation_jmespath="body",
        raise_on_no_idempotency_key=True,
        expires_after_seconds=LIFETIME,
    )
    budget = _RequestBudget(REQUEST_SECONDS)
    config.register_lambda_context(budget)  # type: ignore[arg-type]
    store = DynamoDBPersistenceLayer(
        table_name=service.settings.idempotency_table, boto3_client=aws.client("dynamodb")
    )

    @idempotent_function(
        data_keyword_argument="creation", persistence_store=store, config=config,
        key_prefix="create-job",
    )  # fmt: skip
    def created(creation: dict[str, str]) -> dict[str, str]:
        made.append(create())
        return {"jobId": made[0]}

    made: list[str] = []
    creation = {"owner": request.caller.owner, "key": key, "body": fingerprint(request)}
    try:
        return created(creation=creation)["jobId"]
    except IdempotencyPersistenceLayerError as error:
        if made:  # the job exists; only its record's completion failed
            _complete(store, creation, made[0], budget)
            return made[0]
        if aws.transient(error.__cause__):
            raise ServiceUnavailable("The service is busy; please retry shortly.") from None
        raise
    except IdempotencyInconsistentStateError:  # the record changed under Powertools' reads
        raise ServiceUnavailable("The service is busy; please retry shortly.") from None
    except IdempotencyValidationError:
        raise UnprocessableContent(
            "This Idempotency-Key was used with another request body; use a new key."
        ) from None
    except IdempotencyAlreadyInProgressError:
        raise Conflict(
            "A request with this Idempotency-Key is still being served; try again shortly."
        ) from None


def _complete(
    store: DynamoDBPersistenceLayer, creation: dict[str, str], job_id: str, budget: _RequestBudget
) -> None:
    """Record the made job's id for its key, tried again while the request has time for the
    SDK's retries (a record left IN_PROGRESS gives repeats a 409 until REQUEST_SECONDS have
    passed, and then lets one make a second job); past that, the 303 matters more."""
    failure: Exception | None = None
    for attempt in range(TRANSACTION_ATTEMPTS):
        if budget.get_remaining_time_in_millis() < COMPLETION_MILLIS:
            break
        pause_after_conflict(attempt)
        try:
            store.save_success(data=creation, result={"jobId": job_id})
            return
        except Exception as error:  # Powertools' persistence layer raises what boto3 raised
            failure = error
    logger.warning(
        "idempotency record left in progress",
        extra={"jobId": job_id, "reason": str(failure or "no time left")},
    )
