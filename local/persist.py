"""Jobs and their files kept across restarts of ``make serve``: a snapshot in a directory.

moto keeps everything in memory. The snapshot is taken through the AWS APIs (Scan of each
table, GetObject of each file written since the last snapshot) rather than by pickling moto's
models: those are moto's internals and change between its releases, while what DynamoDB and
S3 answer is a stable format (DynamoDB's own JSON, the object's bytes, type and metadata) that
could be loaded into real AWS as well. Only which S3 keys changed is learnt from moto (its
backend's put_object and delete_object): listing a bucket every second costs more than all
the rest.

A snapshot is written within :data:`SAVE_AFTER` seconds of a change and at a clean stop, each
file replaced atomically, so a crash loses at most the last second's changes. At start the
snapshot is loaded back; QUEUED jobs are sent to the queue again (the queue itself is not
kept), and jobs that were EXECUTING end in ERROR, since their run died with the process.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from pathlib import Path
from typing import Any

import boto3

from .template import resources_of_type

SAVE_AFTER = 1.0  # seconds from a change to the snapshot that holds it
STOPPED_MESSAGE = "The local service stopped while the job was executing."
FORMAT = 1


_written: set[tuple[str, str]] = set()  # (bucket, key) put or deleted since the last look
_written_lock = threading.Lock()
_listeners: list[Any] = []


def _note_s3_writes() -> None:
    """Learn from moto's S3 backend which keys are put or deleted (once per process)."""
    from moto.s3.models import S3Backend

    if getattr(S3Backend.put_object, "noted", False):
        return
    put, delete = S3Backend.put_object, S3Backend.delete_object

    def noting(method: Any) -> Any:
        def noted(self: Any, bucket_name: str, key_name: str, *args: Any, **kwargs: Any) -> Any:
            with _written_lock:
                _written.add((bucket_name, key_name))
            for listener in _listeners:
                listener()
            return method(self, bucket_name, key_name, *args, **kwargs)

        noted.noted = True  # type: ignore[attr-defined]
        return noted

    S3Backend.put_object = noting(put)  # type: ignore[method-assign]
    S3Backend.delete_object = noting(delete)  # type: ignore[method-assign]


def _take_s3_writes() -> set[tuple[str, str]]:
    with _written_lock:
        taken = set(_written)
        _written.clear()
    return taken


def _write(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` atomically (a crash leaves the old file or the new)."""
    partial = path.with_name(path.name + ".partial")
    partial.write_bytes(data)
    os.replace(partial, path)


class Snapshot:
    """The tables and buckets of one local deployment, kept in ``directory``."""

    def __init__(self, directory: Path, template: dict[str, Any], refs: dict[str, str]) -> None:
        self.directory = directory
        self.tables = {n: refs[n] for n in resources_of_type(template, "AWS::DynamoDB::Table")}
        self.buckets = {n: refs[n] for n in resources_of_type(template, "AWS::S3::Bucket")}
        self._changed = threading.Event()
        self._stopping = threading.Event()
        self._saving = threading.Lock()
        self._thread: threading.Thread | None = None
        self._indexes: dict[str, dict[str, dict[str, Any]]] = {}
        _note_s3_writes()
        _listeners.append(self.changed)

    # ---- loading -------------------------------------------------------------------------------

    def load(self) -> int:
        """Put the snapshot's items and files into the (new, empty) deployment; return how
        many items it held."""
        self.directory.mkdir(parents=True, exist_ok=True)
        s3, dynamodb = boto3.client("s3"), boto3.client("dynamodb")
        for name, bucket in self.buckets.items():
            index = self._read_json(self.directory / name / "index.json", {})
            for key, entry in index.items():
                body = (self.directory / name / entry["file"]).read_bytes()
                kind, metadata = entry["contentType"], entry["metadata"]
                s3.put_object(
                    Bucket=bucket, Key=key, Body=body, ContentType=kind, Metadata=metadata
                )
            self._indexes[name] = index
        _take_s3_writes()  # what was just loaded is in the snapshot already
        count = 0
        for name, table in self.tables.items():
            items = self._read_json(self.directory / f"{name}.json", {"items": []})["items"]
            for start in range(0, len(items), 25):  # BatchWriteItem takes 25 at a time
                batch = [{"PutRequest": {"Item": item}} for item in items[start : start + 25]]
                pending: dict[str, Any] = {table: batch}
                while pending:
                    pending = dynamodb.batch_write_item(RequestItems=pending)["UnprocessedItems"]
            count += len(items)
            if name == "JobsTable":
                resume_jobs(items)
        return count

    @staticmethod
    def _read_json(path: Path, empty: Any) -> Any:
        if not path.exists():
            return empty
        data = json.loads(path.read_text())
        if isinstance(data, dict) and data.get("format", FORMAT) != FORMAT:
            raise SystemExit(f"{path} is from another version; `make clean` forgets it.")
        return data

    # ---- saving --------------------------------------------------------------------------------

    def changed(self) -> None:
        """Something may have changed: a snapshot follows within SAVE_AFTER seconds."""
        self._changed.set()

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="snapshot", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop saving after one last snapshot."""
        if self.changed in _listeners:
            _listeners.remove(self.changed)
        self._stopping.set()
        self._changed.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
        self.save()

    def _run(self) -> None:
        while not self._stopping.is_set():
            self._changed.wait()
            if self._stopping.wait(SAVE_AFTER):  # gather what follows a change into one save
                return
            self._changed.clear()
            try:
                self.save()
            except Exception as error:  # the next change tries again; the service goes on
                print(f"snapshot failed ({error}); it is retried on the next change")
                self._changed.set()

    def save(self) -> None:
        with self._saving:
            self.directory.mkdir(parents=True, exist_ok=True)
            written = _take_s3_writes()
            try:
                for name, bucket in self.buckets.items():  # files first: items name them
                    self._save_bucket(name, bucket, {k for b, k in written if b == bucket})
            except Exception:
                with _written_lock:  # the next snapshot tries these again
                    _written.update(written)
                raise
            dynamodb = boto3.client("dynamodb")
            for name, table in self.tables.items():
                items = [
                    item
                    for page in dynamodb.get_paginator("scan").paginate(
                        TableName=table, ConsistentRead=True
                    )
                    for item in page["Items"]
                ]
                body = json.dumps({"format": FORMAT, "items": items}, separators=(",", ":"))
                _write(self.directory / f"{name}.json", body.encode())

    def _save_bucket(self, name: str, bucket: str, written: set[str]) -> None:
        """Bring the files of the keys ``written`` since the last snapshot up to date."""
        s3 = boto3.client("s3")
        folder = self.directory / name
        folder.mkdir(exist_ok=True)
        index = self._indexes.setdefault(name, {})
        for key in written:
            file = hashlib.sha256(key.encode()).hexdigest()
            try:
                got = s3.get_object(Bucket=bucket, Key=key)
            except s3.exceptions.NoSuchKey:  # deleted
                index.pop(key, None)
                (folder / file).unlink(missing_ok=True)
                continue
            _write(folder / file, got["Body"].read())
            index[key] = {"file": file, "contentType": got["ContentType"],
                          "metadata": got.get("Metadata", {})}  # fmt: skip
        _write(folder / "index.json", json.dumps(index).encode())


def resume_jobs(items: list[dict[str, Any]]) -> None:
    """What a restart means for jobs in flight: QUEUED ones go back on the queue; EXECUTING
    ones end in ERROR (their run died with the process)."""
    from uws.config import settings
    from uws.isodt import utcnow
    from uws.job import ErrorSummary
    from uws.phases import Phase
    from uws.queue import RunQueue
    from uws.store import JobStore
    from uws.store.items import job_from_item

    store = JobStore(settings().table)
    queue = RunQueue(settings().queue_url)
    for item in items:
        job = job_from_item(item)
        if job.phase == Phase.QUEUED:
            queue.send(job.job_id, job.execution_duration)
        elif job.phase == Phase.EXECUTING:
            store.mark_failed(job.job_id, utcnow(), ErrorSummary(STOPPED_MESSAGE))
