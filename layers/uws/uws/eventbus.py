"""Phase changes as Amazon EventBridge events (docs/uws.md, Events), from the job table's stream.

Every committed change to a job item reaches :func:`phase_changes` at least once, in order per
job (a DynamoDB stream, NEW_AND_OLD_IMAGES); those that change the phase, create a job or remove it
become events on the deployment's bus. Publishing from the stream rather than from each
request means no request waits on EventBridge, and no change is missed when a function dies
between its write and its publish. EventBridge Pipes could read the stream without our code,
but its filters cannot compare a record's old and new phase, so every progress or parameter
write would become an event.
"""

from __future__ import annotations

import json
import os
import random
import time
from collections.abc import Iterable, Iterator
from typing import Any

from . import aws
from .errors import ServiceUnavailable
from .store import stream_image
from .telemetry import logger

SOURCE = "uws"
PHASE_CHANGED = "UWS Job Phase Changed"
DESTROYED = "UWS Job Destroyed"
PUT_EVENTS_MAX = 10  # entries per PutEvents call (EventBridge quotas)
PUT_EVENTS_TRIES = 4  # a chunk's entries EventBridge refused are sent again, with backoff


def phase_changes(records: Iterable[dict[str, Any]]) -> Iterator[tuple[str, dict[str, Any]]]:
    """(detail type, detail) for each stream record that creates, moves or removes a job; the
    detail's ``sequence`` is the record's, by which a failed batch is resumed."""
    base = os.environ.get("JOB_URL_BASE", "").rstrip("/")
    for record in records:
        stream = record.get("dynamodb", {})
        old, new = stream_image(stream.get("OldImage")), stream_image(stream.get("NewImage"))
        job = new or old
        if job is None or (old and new and old["phase"] == new["phase"]):
            continue  # a counter item, or a change that left the phase as it was
        detail = {
            "jobId": job["jobId"],
            "ownerId": job["ownerId"],
            "runId": job["runId"],
            "oldPhase": old["phase"] if old else None,
            "newPhase": new["phase"] if new else None,
            "jobUrl": f"{base}/async/{job['jobId']}",
            "sequence": stream.get("SequenceNumber"),  # for consumers that drop repeats
        }
        if new and new["errorMessage"] is not None:
            detail["errorMessage"] = new["errorMessage"]
        yield (PHASE_CHANGED if new else DESTROYED), detail


def publish(changes: list[tuple[str, dict[str, Any]]]) -> tuple[int, str | None]:
    """Put the events on the bus, ten a call, in stream order; entries EventBridge refuses are
    sent again after a jittered, doubling pause. Returns how many were published and, if a
    chunk could not be, the sequence number of its first unpublished record: the stream
    delivers the batch again from that record on (a partial batch response), so the chunks
    before it are not published twice (consumers still see an event at least once)."""
    bus = os.environ.get("EVENT_BUS_NAME", "default")
    entries = [
        {"Source": SOURCE, "DetailType": kind, "Detail": json.dumps(detail),
         "Resources": [], "EventBusName": bus}
        for kind, detail in changes
    ]  # fmt: skip
    for kind, detail in changes:  # the owner is personal data: DEBUG only (LOG_LEVEL=DEBUG)
        logger.debug(kind, extra=detail)
    published = 0
    for start in range(0, len(entries), PUT_EVENTS_MAX):
        pending = list(range(start, min(start + PUT_EVENTS_MAX, len(entries))))
        for attempt in range(PUT_EVENTS_TRIES):
            if attempt:
                time.sleep(random.uniform(0, 0.1 * 2**attempt))
            try:
                with aws.translated_errors():
                    reply = aws.client("events").put_events(Entries=[entries[i] for i in pending])
            except ServiceUnavailable:  # throttled past the SDK's retries: try the chunk again
                continue
            refused = [
                i for i, r in zip(pending, reply["Entries"], strict=True) if r.get("ErrorCode")
            ]
            published += len(pending) - len(refused)
            pending = refused
            if not pending:
                break
        if pending:
            sequence = changes[pending[0]][1]["sequence"]
            shown = {"unpublished": len(pending), "sequence": sequence}
            logger.warning("events not published; the stream delivers them again", extra=shown)
            return published, sequence
    return published, None
