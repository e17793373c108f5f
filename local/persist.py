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
import sys
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


def _note_writes() -> None:
    """Learn from moto's backends when anything is written: which S3 keys are put or
    deleted, and that a table changed (once per process; whoever writes, a function, `make
    invoke` or the AWS CLI). Noted after the write, so a snapshot taken meanwhile cannot
    read the old object and forget the key."""
    from moto.dynamodb.models import DynamoDBBackend
    from moto.s3.models import S3Backend

    if getattr(S3Backend.put_object, "noted", False):
        return

    def tell() -> None:
        for listener in list(_listeners):
            listener()

    def noting_key(method: Any) -> Any:
        def noted(self: Any, bucket_name: str, key_name: str, *args: Any, **kwargs: Any) -> Any:
            try:
                return method(self, bucket_name, key_name, *args, **kwargs)
            finally:
                with _written_lock:
                    _written.add((bucket_name, key_name))
                tell()

        noted.noted = True  # type: ignore[attr-defined]
        return noted

    def noting(method: Any) -> Any:
        def noted(*args: Any, **kwargs: Any) -> Any:
            try:
                return method(*args, **kwargs)
            finally:
                tell()

        return noted

    S3Backend.put_object = noting_key(S3Backend.put_object)  # type: ignore[method-assign]
    S3Backend.delete_object = noting_key(S3Backend.delete_object)  # type: ignore[method-assign]
    for name in ("put_item", "update_item", "delete_item", "transact_write_items",
                 "batch_write_item"):  # fmt: skip
        setattr(DynamoDBBackend, name, noting(getattr(DynamoDBBackend, name)))


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
        self._whole = False  # whether the files saved are every file (else list them once)
        _note_writes()
        _listeners.append(self.changed)

    # ---- loading -------------------------------------------------------------------------------

    def load(self) -> int:
        """Put the snapshot's items and files into the (new, empty) deployment; return how
        many items it held."""
        self.directory.mkdir(parents=True, exist_ok=True)
        s3, dynamodb = boto3.client("s3"), boto3.client("dynamodb")
        for name, bucket in self.buckets.items():
            index = self._read_json(self.directory / name / "index.json", {})
            for key, entry in list(index.items()):
                path = self.directory / name / entry["file"]
                if not path.exists():  # a crash between the index and the file: the file lost
                    del index[key]
                    continue
                body = path.read_bytes()
                kind, metadata = entry["contentType"], entry["metadata"]
                s3.put_object(
                    Bucket=bucket, Key=key, Body=body, ContentType=kind, Metadata=metadata
                )
            self._indexes[name] = index
        _take_s3_writes()  # what was just loaded is in the snapshot already
        self._whole = True
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
        """Tables first, into memory, then the files, then the tables to disk: the service puts
        a file before it records it in an item, so every file an item saved names is saved."""
        with self._saving:
            self.directory.mkdir(parents=True, exist_ok=True)
            dynamodb = boto3.client("dynamodb")
            tables = {
                name: [
                    item
                    for page in dynamodb.get_paginator("scan").paginate(
                        TableName=table, ConsistentRead=True
                    )
                    for item in page["Items"]
                ]
                for name, table in self.tables.items()
            }
            written = _take_s3_writes()
            if not self._whole:  # files from before this snapshot existed: list them once
                s3 = boto3.client("s3")
                for bucket in self.buckets.values():
                    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
                        written |= {(bucket, o["Key"]) for o in page.get("Contents", [])}
            try:
                for name, bucket in self.buckets.items():
                    self._save_bucket(name, bucket, {k for b, k in written if b == bucket})
            except Exception:
                with _written_lock:  # the next snapshot tries these again
                    _written.update(written)
                raise
            self._whole = True
            for name, items in tables.items():
                body = json.dumps({"format": FORMAT, "items": items}, separators=(",", ":"))
                _write(self.directory / f"{name}.json", body.encode())

    def _save_bucket(self, name: str, bucket: str, written: set[str]) -> None:
        """Bring the files of the keys ``written`` since the last snapshot up to date: new
        files, then the index, then removals (a crash leaves at worst a file no index names)."""
        s3 = boto3.client("s3")
        folder = self.directory / name
        folder.mkdir(exist_ok=True)
        index = self._indexes.setdefault(name, {})
        removed = []
        for key in written:
            file = hashlib.sha256(key.encode()).hexdigest()
            try:
                got = s3.get_object(Bucket=bucket, Key=key)
            except s3.exceptions.NoSuchKey:  # deleted
                if index.pop(key, None) is not None:
                    removed.append(folder / file)
                continue
            _write(folder / file, got["Body"].read())
            index[key] = {"file": file, "contentType": got["ContentType"],
                          "metadata": got.get("Metadata", {})}  # fmt: skip
        _write(folder / "index.json", json.dumps(index).encode())
        for path in removed:
            path.unlink(missing_ok=True)


def resume_jobs(items: list[dict[str, Any]]) -> None:
    """What a restart means for jobs in flight: QUEUED ones go back on the queue; EXECUTING
    ones end in ERROR (their run died with the process)."""
    from uws.config import settings
    from uws.errors import NotFound
    from uws.isodt import utcnow
    from uws.job import ErrorSummary, is_job_id
    from uws.phases import Phase
    from uws.queue import RunQueue
    from uws.store import JobStore, StateConflict
    from uws.store.items import job_from_item

    store = JobStore(settings().table)
    queue = RunQueue(settings().queue_url)
    not_understood = []
    for item in items:
        job_id = item.get("jobId", {}).get("S", "")
        if not is_job_id(job_id):
            continue  # a quota's counter (uws.store.quota): restored as it was, nothing to resume
        try:
            job = job_from_item(item)
        except (KeyError, ValueError, TypeError):
            not_understood.append(job_id)
            continue
        if job.phase == Phase.QUEUED:
            queue.send(job.job_id, job.execution_duration)
        elif job.phase == Phase.EXECUTING:
            try:
                store.mark_failed(job.job_id, utcnow(), ErrorSummary(STOPPED_MESSAGE))
            except (NotFound, StateConflict):  # past its destruction: the reaper removes it
                continue
    if not_understood:
        print(
            f"Kept {len(not_understood)} item(s) of the job table that are not jobs as this "
            f"version reads them, without resuming them: {', '.join(not_understood[:5])}.",
            file=sys.stderr,
        )
