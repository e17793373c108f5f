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
from collections.abc import Iterable, Iterator
from typing import Any

from . import aws
from .store import stream_image
from .telemetry import logger

SOURCE = "uws"
PHASE_CHANGED = "UWS Job Phase Changed"
DESTROYED = "UWS Job Destroyed"
PUT_EVENTS_MAX = 10  # entries per PutEvents call (EventBridge quotas)


def phase_changes(records: Iterable[dict[str, Any]]) -> Iterator[tuple[str, dict[str, Any]]]:
    """(detail type, detail) for each stream record that creates, moves or removes a job."""
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


def publish(changes: list[tuple[str, dict[str, Any]]]) -> int:
    """Put the events on the bus, ten a call; an entry EventBridge refuses is tried once more,
    then the batch fails (the stream delivers it again: consumers see an event at least once)."""
    bus = os.environ.get("EVENT_BUS_NAME", "default")
    entries = [
        {"Source": SOURCE, "DetailType": kind, "Detail": json.dumps(detail),
         "Resources": [], "EventBusName": bus}
        for kind, detail in changes
    ]  # fmt: skip
    for kind, detail in changes:  # what `make serve` with LOG_LEVEL=INFO shows
        logger.info(kind, extra=detail)
    for start in range(0, len(entries), PUT_EVENTS_MAX):
        chunk = entries[start : start + PUT_EVENTS_MAX]
        for attempt in range(2):
            with aws.translated_errors():
                reply = aws.client("events").put_events(Entries=chunk)
            if not reply.get("FailedEntryCount"):
                break
            chunk = [e for e, r in zip(chunk, reply["Entries"], strict=True) if r.get("ErrorCode")]
            if attempt:
                raise RuntimeError(f"EventBridge refused {len(chunk)} events: {reply['Entries']}")
    return len(entries)
