"""Job records as DynamoDB items, and back: the table's attribute names and stored forms.

Part of the store: only :mod:`uws.store` uses these. Times are stored as sortable strings
with microseconds; owners under a key that tells anonymous jobs apart; the destruction and
deadline index entries carry a shard so the reaper can read them in a few partitions.
"""

from __future__ import annotations

import datetime
import zlib
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

from ..job import ErrorSummary, Job, JobRef, Result, Upload
from ..phases import Phase

SHARDS = 8  # destruction and deadline index partitions; the reaper queries each
_ANONYMOUS_KEY = "anonymous"  # owners are stored as "user:<id>", so this cannot collide

serialize = TypeSerializer().serialize
deserialize = TypeDeserializer().deserialize


def owner_key(owner: str | None) -> str:
    return _ANONYMOUS_KEY if owner is None else f"user:{owner}"


def shard(job_id: str) -> str:
    return str(zlib.crc32(job_id.encode()) % SHARDS)


def stamp(dt: datetime.datetime) -> str:
    """Stored times keep microseconds and sort lexicographically (zero-padded years)."""
    return dt.isoformat(timespec="microseconds") + "Z"


def unstamp(text: str) -> datetime.datetime:
    return datetime.datetime.fromisoformat(text.removesuffix("Z"))


def plain(value: Any) -> Any:
    """Python values as DynamoDB stores them (datetimes as sortable strings)."""
    if isinstance(value, datetime.datetime):
        return stamp(value)
    if isinstance(value, Phase):
        return str(value)
    return value


def item_from_job(job: Job) -> dict[str, Any]:
    item: dict[str, Any] = {
        "jobId": job.job_id,
        "ownerKey": owner_key(job.owner),
        "phase": str(job.phase),
        "creationTime": stamp(job.creation_time),
        "executionDuration": job.execution_duration,
        "destruction": stamp(job.destruction),
        "destructionShard": shard(job.job_id),
        "jobType": job.job_type,
        "parameters": job.parameters,
        "uploads": {name: upload_value(u) for name, u in job.uploads.items()},
        "results": [result_value(r) for r in job.results],
        "jobInfo": job.job_info,
        "version": job.version,
    }
    optional = {
        "owner": job.owner,
        "runId": job.run_id,
        "startTime": job.start_time and stamp(job.start_time),
        "endTime": job.end_time and stamp(job.end_time),
        "quote": job.quote and stamp(job.quote),
        "deadline": job.deadline and stamp(job.deadline),
        "deadlineShard": job.deadline and shard(job.job_id),
    }
    item.update({k: v for k, v in optional.items() if v is not None})
    if job.error_summary is not None:
        item["errorSummary"] = summary_value(job.error_summary)
    return {k: serialize(v) for k, v in item.items()}


def summary_value(summary: ErrorSummary) -> dict[str, Any]:
    return {"type": summary.type, "message": summary.message, "hasDetail": summary.has_detail}


def result_value(result: Result) -> dict[str, Any]:
    return {"id": result.id, "key": result.key, "mimeType": result.mime_type, "size": result.size}


def upload_value(upload: Upload) -> dict[str, Any]:
    return {"key": upload.key, "mimeType": upload.mime_type, "size": upload.size}


def upload_from_value(value: dict[str, Any]) -> Upload:
    return Upload(value["key"], value["mimeType"], int(value["size"]))


def _time(item: dict[str, Any], name: str) -> datetime.datetime | None:
    value = item.get(name)
    return None if value is None else unstamp(value)


def job_from_item(raw: dict[str, Any]) -> Job:
    item = {k: deserialize(v) for k, v in raw.items()}
    summary = item.get("errorSummary")
    return Job(
        job_id=item["jobId"],
        owner=item.get("owner"),
        phase=Phase(item["phase"]),
        creation_time=unstamp(item["creationTime"]),
        execution_duration=int(item["executionDuration"]),
        destruction=unstamp(item["destruction"]),
        job_type=item["jobType"],
        run_id=item.get("runId"),
        start_time=_time(item, "startTime"),
        end_time=_time(item, "endTime"),
        quote=_time(item, "quote"),
        parameters={k: list(v) for k, v in item.get("parameters", {}).items()},
        uploads={name: upload_from_value(u) for name, u in item.get("uploads", {}).items()},
        results=[
            Result(r["id"], r["key"], r["mimeType"], int(r["size"]))
            for r in item.get("results", [])
        ],
        error_summary=None
        if summary is None
        else ErrorSummary(summary["message"], summary["type"], bool(summary["hasDetail"])),
        deadline=_time(item, "deadline"),
        job_info={k: str(v) for k, v in item.get("jobInfo", {}).items()},
        version=int(item.get("version", 0)),
        holds_place=bool(item.get("holdsPlace")),
        task_arn=item.get("taskArn"),
        in_container=bool(item.get("inContainer")),
    )


def ref_from_item(raw: dict[str, Any]) -> JobRef:
    item = {k: deserialize(v) for k, v in raw.items()}
    return JobRef(
        job_id=item["jobId"],
        phase=Phase(item["phase"]),
        owner=item.get("owner"),
        run_id=item.get("runId"),
        creation_time=unstamp(item["creationTime"]),
    )


def stream_image(image: dict[str, Any] | None) -> dict[str, Any] | None:
    """What a phase-change event tells of a job item as a stream record shows it (DynamoDB
    JSON); None for an item that is no job (a quota counter) or no image at all."""
    if not image or "phase" not in image:
        return None
    item = {k: deserialize(v) for k, v in image.items()}
    summary = item.get("errorSummary")
    return {
        "jobId": item["jobId"],
        "ownerId": item.get("owner"),
        "runId": item.get("runId"),
        "phase": item["phase"],
        "errorMessage": None if summary is None else summary["message"],
    }
