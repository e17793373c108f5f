"""The run queue in SQS, and the only module that calls SQS."""

from __future__ import annotations

import json
from typing import Any

from . import aws


class RunQueue:
    def __init__(self, queue_url: str) -> None:
        self.queue_url = queue_url

    def send(self, job_id: str, execution_duration: int) -> None:
        """Ask the worker to run a job; the worker's conditional write makes redelivery harmless.
        The execution duration the job had when it was queued spares the worker a read."""
        client: Any = aws.client("sqs")
        body = json.dumps({"jobId": job_id, "executionDuration": execution_duration})
        with aws.translated_errors():
            client.send_message(QueueUrl=self.queue_url, MessageBody=body)
