"""The event sources of the template's functions, as Lambda and EventBridge run them: SQS
queues (the event source mapping, within its MaximumConcurrency), DynamoDB streams (in order,
retried as the template says), schedules, and an ECS cluster's tasks as processes."""

from __future__ import annotations

import itertools
import random
import threading
import time
import traceback
from typing import Any

import boto3

from .events import REGION, scheduled_event, sqs_event, stream_event
from .lambdas import Throttled, invoke
from .template import FunctionSpec, resolve

STREAM_POLL_SECONDS = 0.25  # Lambda polls a DynamoDB stream's shards four times a second


def event_sources(
    template: dict[str, Any], refs: dict[str, str], functions: dict[str, FunctionSpec]
) -> tuple[list[Any], list[FunctionSpec], list[Any]]:
    """(function, queue URL, batch size, maximum concurrency) for SQS events; functions
    with Schedule events; (function, stream ARN, batch size, tries) for DynamoDB streams."""
    queues, schedules, streams = [], [], []
    for name, resource in template["Resources"].items():
        if resource["Type"] != "AWS::Serverless::Function" or name not in functions:
            continue  # not a function, or one this deployment's conditions leave out
        for event in resource["Properties"].get("Events", {}).values():
            if event["Type"] == "SQS":
                arn = resolve(event["Properties"]["Queue"], refs)
                queue = next(k for k, v in refs.items() if v == arn).removesuffix(".Arn")
                batch = int(event["Properties"].get("BatchSize", 10))
                cap = event["Properties"].get("ScalingConfig", {}).get("MaximumConcurrency")
                cap = 1000 if cap is None else int(resolve(cap, refs))
                queues.append((functions[name], refs[queue], batch, cap))
            elif event["Type"] == "Schedule":
                schedules.append(functions[name])
            elif event["Type"] == "DynamoDB":
                arn = resolve(event["Properties"]["Stream"], refs)
                batch = int(event["Properties"].get("BatchSize", 100))
                tries = 1 + int(event["Properties"].get("MaximumRetryAttempts", 10))
                streams.append((functions[name], arn, batch, tries))
    return queues, schedules, streams


class EventSources:
    """The pollers of one deployment, each in a thread of its own, until ``stopping`` is set."""

    def __init__(self, stopping: threading.Event) -> None:
        self._stopping = stopping
        self.threads: list[threading.Thread] = []

    def spawn(self, name: str, target: Any, *args: Any) -> None:
        thread = threading.Thread(target=target, args=args, name=name, daemon=True)
        thread.start()
        self.threads.append(thread)

    def poll_queue(self, spec: FunctionSpec, queue_url: str, batch: int) -> None:
        """Lambda's SQS event source mapping: receive, invoke, delete what succeeded."""
        sqs = boto3.client("sqs", region_name=REGION)
        visibility = float(sqs.get_queue_attributes(
            QueueUrl=queue_url, AttributeNames=["VisibilityTimeout"]
        )["Attributes"]["VisibilityTimeout"])  # fmt: skip
        while not self._stopping.is_set():
            try:
                got = sqs.receive_message(
                    QueueUrl=queue_url, MaxNumberOfMessages=batch, WaitTimeSeconds=1,
                    AttributeNames=["All"],
                )  # fmt: skip
            except Exception:
                if self._stopping.is_set():
                    return
                time.sleep(0.5)
                continue
            messages = got.get("Messages", [])
            if messages:
                deliver(spec, queue_url, messages, sqs, self._stopping, visibility)

    def poll_stream(self, spec: FunctionSpec, stream_arn: str, batch: int, tries: int) -> None:
        """Lambda's DynamoDB stream event source mapping, from the latest record on: invoke
        with each batch, in order; a failed batch, or its part the function reports, is tried
        again as the template says."""
        reader = StreamReader(stream_arn)
        while not self._stopping.wait(STREAM_POLL_SECONDS):
            try:
                records = reader.read(batch)
            except Exception:
                if self._stopping.is_set():
                    return
                continue
            failures = 0
            for attempt in itertools.count():
                if not records or failures == tries:  # MaximumRetryAttempts, then the next batch
                    break
                try:
                    result = invoke(spec, stream_event(records, stream_arn)) or {}
                except Throttled:
                    # The batch never reached the function: tried again, with backoff, and not
                    # counted against MaximumRetryAttempts (Lambda Developer Guide, "Using
                    # Lambda with DynamoDB": retries apply to function errors only).
                    if self._stopping.wait(backoff(attempt)):
                        return
                    continue
                except Exception:  # as Lambda: try the batch again
                    traceback.print_exc()
                    result = {"batchItemFailures": [
                        {"itemIdentifier": records[0]["dynamodb"]["SequenceNumber"]}
                    ]}  # fmt: skip
                failed = result.get("batchItemFailures") or []
                failures += bool(failed)
                records = resumed(records, failed)
                if records and self._stopping.wait(0.2):
                    return

    def every(self, spec: FunctionSpec, seconds: float) -> None:
        """A schedule's asynchronous invocations: a throttled one is retried by Lambda, with
        backoff, for up to six hours (Lambda Developer Guide, "How Lambda handles errors and
        retries with asynchronous invocation"); a function error, by the next tick here."""
        while not self._stopping.wait(seconds):
            give_up = time.monotonic() + ASYNC_THROTTLE_RETRY_SECONDS
            for attempt in itertools.count():
                try:
                    invoke(spec, scheduled_event())
                except Throttled:
                    if time.monotonic() < give_up and not self._stopping.wait(backoff(attempt)):
                        continue
                except Exception:
                    pass
                break


def resumed(records: list[dict[str, Any]], failures: list[dict[str, str]]) -> list[dict[str, Any]]:
    """What a stream mapping with ReportBatchItemFailures delivers again: the records from
    the earliest one the function reported on (none if it reported none) (Lambda Developer
    Guide, "Configuring partial batch response with DynamoDB and Lambda")."""
    failed = {f["itemIdentifier"] for f in failures}
    for index, record in enumerate(records):
        if record["dynamodb"]["SequenceNumber"] in failed:
            return records[index:]
    return []


class StreamReader:
    """Reads one DynamoDB stream, shard by shard, in order: from its newest record on (as a
    mapping with StartingPosition LATEST), or from its oldest (TRIM_HORIZON)."""

    def __init__(self, stream_arn: str, start: str = "LATEST") -> None:
        from botocore.config import Config

        # botocore sends streams calls to an account-based endpoint moto does not serve
        config = Config(account_id_endpoint_mode="disabled")
        self.streams = boto3.client("dynamodbstreams", region_name=REGION, config=config)
        self.arn = stream_arn
        self.iterators: dict[str, str | None] = {}
        for shard in self.streams.describe_stream(StreamArn=stream_arn)["StreamDescription"][
            "Shards"
        ]:
            self.iterators[shard["ShardId"]] = self.streams.get_shard_iterator(
                StreamArn=stream_arn, ShardId=shard["ShardId"], ShardIteratorType=start
            )["ShardIterator"]

    def read(self, limit: int) -> list[dict[str, Any]]:
        records: list[dict[str, Any]] = []
        for shard, iterator in self.iterators.items():
            if iterator is None or len(records) >= limit:
                continue
            page = self.streams.get_records(ShardIterator=iterator, Limit=limit - len(records))
            records.extend(page.get("Records", []))
            self.iterators[shard] = page.get("NextShardIterator")
        return records


THROTTLE_PAUSE_CAP = 2.0  # the longest a mapping waits before invoking a throttled batch again
ASYNC_THROTTLE_RETRY_SECONDS = 6 * 3600  # how long Lambda retries a throttled async invocation


def backoff(attempt: int) -> float:
    """The pause before invoking a throttled batch again: exponential, jittered, capped."""
    return random.uniform(0, min(THROTTLE_PAUSE_CAP, 0.05 * 2**attempt))


def deliver(
    spec: FunctionSpec, queue_url: str, messages: list[dict], sqs: Any,
    stopping: threading.Event | None = None, visibility: float = 30.0,
) -> None:  # fmt: skip
    """Invoke a function with a batch of messages; delete those it did not report failed.
    A throttled invocation is tried again, with backoff, while the messages stay invisible:
    what the queue's visibility timeout of six times the function's is for (Lambda Developer
    Guide, "Creating and configuring an Amazon SQS event source mapping"). Once it is over
    they are back in the queue, and the next receive counts towards maxReceiveCount."""
    event = sqs_event(queue_url, messages)
    stopping = stopping or threading.Event()
    visible_again = time.monotonic() + visibility
    try:
        for attempt in itertools.count():
            try:
                result = invoke(spec, event) or {}
                break
            except Throttled:
                pause = backoff(attempt)
                if time.monotonic() + pause >= visible_again or stopping.wait(pause):
                    return  # the messages come back after their visibility timeout
        failed = {f["itemIdentifier"] for f in result.get("batchItemFailures", [])}
    except Exception:
        failed = {m["MessageId"] for m in messages}  # the whole batch comes back
    done = [m for m in messages if m["MessageId"] not in failed]
    if done:
        sqs.delete_message_batch(
            QueueUrl=queue_url,
            Entries=[
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(done)
            ],
        )
