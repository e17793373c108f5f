"""A job's files in S3 (results and uploads), and the only module that calls S3.

Keys are ``jobs/<jobId>/results/<name>`` and ``jobs/<jobId>/uploads/<name>``. The bucket is
private; clients fetch a file by a 303 to a presigned GET that lives minutes, so the hrefs in
job documents (our own URLs) never expire.
"""

from __future__ import annotations

import os
from typing import Any

from . import aws


def job_prefix(job_id: str) -> str:
    return f"jobs/{job_id}/"


def result_key(job_id: str, name: str) -> str:
    return f"{job_prefix(job_id)}results/{name}"


def upload_key(job_id: str, name: str) -> str:
    return f"{job_prefix(job_id)}uploads/{name}"


ANSWERS_PREFIX = "answers/"  # the bucket's lifecycle rule removes these after a day


def answer_key(name: str) -> str:
    """Where a synchronous answer too large (or too binary) for Lambda's response goes, under
    a fresh unguessable prefix; the client gets a presigned URL of it."""
    return f"{ANSWERS_PREFIX}{os.urandom(16).hex()}/{name}"


ATTACHMENT = "attachment"  # RFC 6266: save the file, do not display it


class FilesNotDeleted(Exception):
    """S3 refused to delete some of the keys of a DeleteObjects."""


class FileStore:
    def __init__(self, bucket: str) -> None:
        self.bucket = bucket

    @property
    def _s3(self) -> Any:
        return aws.client("s3")

    def put(self, key: str, body: bytes, mime_type: str, attachment: bool = False) -> int:
        """Store ``body`` under ``key``; return its size in bytes. An ``attachment`` is
        downloaded, never shown, by a browser that fetches the object itself."""
        extra = {"ContentDisposition": ATTACHMENT} if attachment else {}
        with aws.translated_errors():
            self._s3.put_object(
                Bucket=self.bucket, Key=key, Body=body, ContentType=mime_type, **extra
            )
        return len(body)

    def read(self, key: str) -> bytes:
        with aws.translated_errors():
            return self._s3.get_object(Bucket=self.bucket, Key=key)["Body"].read()

    def keys(self, prefix: str) -> list[str]:
        paginator = self._s3.get_paginator("list_objects_v2")
        with aws.translated_errors():
            return [
                obj["Key"]
                for page in paginator.paginate(Bucket=self.bucket, Prefix=prefix)
                for obj in page.get("Contents", [])
            ]

    def delete_keys(self, keys: list[str]) -> None:
        """Delete these objects, a thousand per call (none for none)."""
        for start in range(0, len(keys), 1000):
            batch = [{"Key": k} for k in keys[start : start + 1000]]
            with aws.translated_errors():
                answer = self._s3.delete_objects(
                    Bucket=self.bucket, Delete={"Objects": batch, "Quiet": True}
                )
            # DeleteObjects answers 200 even when it deleted nothing: refusals are per key.
            if answer.get("Errors"):
                first = answer["Errors"][0]
                raise FilesNotDeleted(f"{len(answer['Errors'])} files not deleted: {first}")

    def delete_job(self, job_id: str) -> int:
        """Delete every object under the job's prefix, a thousand per call; return the count."""
        keys = self.keys(job_prefix(job_id))
        self.delete_keys(keys)
        return len(keys)

    def presigned_get(
        self, key: str, mime_type: str, seconds: int, attachment: bool = False
    ) -> str:
        """A short-lived URL that downloads the object with its recorded MIME type; as an
        ``attachment`` (S3 API Reference, GetObject: response-content-disposition) for what
        a client uploaded, so that an uploaded HTML page or script is saved, never rendered
        from the bucket's origin."""
        params = {"Bucket": self.bucket, "Key": key, "ResponseContentType": mime_type}
        if attachment:
            params["ResponseContentDisposition"] = ATTACHMENT
        return self._s3.generate_presigned_url("get_object", Params=params, ExpiresIn=seconds)
