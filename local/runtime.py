"""The deployment of template.yaml on one machine: moto as AWS, functions in-process.

Handlers run exactly the code they run on Lambda. Their AWS calls reach moto in-process
(``mock_aws``: no HTTP hop, a GetItem costs a third of what it does through moto's server).
S3's endpoint is moto's server (``AWS_ENDPOINT_URL_S3``), so that a presigned URL names a host
a client can reach, and moto is told it is S3 (``MOTO_S3_CUSTOM_ENDPOINTS``), so that the
functions' own S3 calls to it stay in-process too. The server shares the same backends and
offers them to ``make invoke`` and the AWS CLI. Functions are loaded by file path with
the environment the template gives them; API requests become REST proxy events; queue messages
reach the functions the template subscribes to the queue, as Lambda's event source mapping
would; scheduled functions run on a timer.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import socket
import threading
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3

from . import iam, resources
from .events import (
    REGION,
    Mount,
    find_route,
    rest_event,
    scheduled_event,
    sqs_event,
    stream_event,
)
from .fargate import LocalFargate
from .lambdas import invoke
from .moto_fixes import serialise_dynamodb
from .persist import Snapshot
from .template import (
    ROOT,
    FunctionSpec,
    functions,
    load,
    resolve,
    resources_of_type,
    rest_api,
    routes,
)

STATE_FILE = ROOT / ".uws-local.json"  # where a running `make serve` tells `make invoke` its AWS


def state_file() -> Path:
    """STATE_FILE, or UWS_LOCAL_STATE's: the tests run several services at once."""
    return Path(os.environ.get("UWS_LOCAL_STATE") or STATE_FILE)


# What a REST API's ANY method takes; API Gateway routes no other method (API Gateway
# Developer Guide, "Set up a method": DELETE, GET, HEAD, OPTIONS, PATCH, POST, PUT).
API_GATEWAY_METHODS = frozenset({"DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT"})
# API Gateway quotas: "Payload size" of a REST API request, 10 MB.
API_GATEWAY_MAX_PAYLOAD = 10 * 1024 * 1024
# Lambda quotas: "Invocation payload (request and response)", 6 MB each for synchronous
# invocations, counted on the JSON of the event and of the function's response.
LAMBDA_MAX_PAYLOAD = 6 * 1024 * 1024
STREAM_POLL_SECONDS = 0.25  # Lambda polls a DynamoDB stream's shards four times a second


def over_lambda_payload(document: dict[str, Any], body_length: int) -> bool:
    """Whether the JSON of an event or a response is over Lambda's synchronous limit (the
    exact size is taken only when the body could bring it near: JSON escapes take at most
    six bytes a character)."""
    if body_length * 6 + 64 * 1024 < LAMBDA_MAX_PAYLOAD:
        return False
    return len(json.dumps(document).encode()) > LAMBDA_MAX_PAYLOAD


def running_service() -> dict[str, Any] | None:
    """What the `make serve` that `make invoke` should use wrote down, if it still runs."""
    try:
        state = json.loads(state_file().read_text())
        os.kill(state["pid"], 0)
    except (OSError, ValueError, KeyError):
        return None
    return state


def claim_state(state: dict[str, Any]) -> bool:
    """Write down this service for `make invoke`, unless another running one did first."""
    if running_service() is not None:
        return False
    state_file().write_text(json.dumps(state))
    return True


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class HttpReply:
    status: int
    headers: dict[str, str]
    body: bytes


@dataclass
class LocalDeployment:
    """Start with :meth:`start`, stop with :meth:`stop`; :meth:`http` serves requests between."""

    moto_port: int = 0
    stage: str = "local"
    template: dict[str, Any] = field(default_factory=load)
    refs: dict[str, str] = field(default_factory=dict)
    _moto: Any = None
    _in_process: Any = None
    snapshot: Snapshot | None = None
    restored: int = 0  # items the snapshot brought back at start
    _threads: list[threading.Thread] = field(default_factory=list)
    _stopping: threading.Event = field(default_factory=threading.Event)
    roles: iam.FunctionRoles | None = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.moto_port}"

    def start(
        self, env: dict[str, str] | None = None, parameters: dict[str, str] | None = None,
        enforce_iam: bool = False, keep_in: Path | None = None,
    ) -> LocalDeployment:  # fmt: skip
        """Start moto and create the resources; ``parameters`` override the template's
        defaults, as ``sam deploy --parameter-overrides`` would. ``enforce_iam``: each
        function signs as its own role, and moto enforces IAM (local.iam). ``keep_in``: a
        directory that keeps jobs and files across restarts (local.persist)."""
        from moto import mock_aws
        from moto.moto_server.werkzeug_app import MotoRequestHandler
        from moto.server import ThreadedMotoServer

        # Keep-alive, as S3 offers: HTTP/1.0 made every download of a result a new connection.
        MotoRequestHandler.protocol_version = "HTTP/1.1"

        logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto's server's access log
        serialise_dynamodb()
        self.moto_port = self.moto_port or free_port()
        self._moto = ThreadedMotoServer(ip_address="127.0.0.1", port=self.moto_port, verbose=False)
        self._moto.start()
        # The same backends in-process; our keys stay (moto would put in fake ones).
        self._in_process = mock_aws(config={"core": {"mock_credentials": False}})
        self._in_process.start(reset=False)
        os.environ.pop("AWS_ENDPOINT_URL", None)  # mock_aws serves only AWS's own hosts
        os.environ.update(
            {
                "AWS_ENDPOINT_URL_S3": self.endpoint,
                "MOTO_S3_CUSTOM_ENDPOINTS": self.endpoint,
                "AWS_ACCESS_KEY_ID": "local",
                "AWS_SECRET_ACCESS_KEY": "local",
                "AWS_DEFAULT_REGION": REGION,
                "AWS_REGION": REGION,
            }
        )
        os.environ.pop("AWS_SESSION_TOKEN", None)
        boto3.DEFAULT_SESSION = None
        unknown = set(parameters or {}) - set(self.template.get("Parameters", {}))
        if unknown:
            raise ValueError(f"template.yaml has no parameter {', '.join(sorted(unknown))}")
        self.refs = resources.create_all(
            self.template, prefix="uws-local", region=REGION, parameters=parameters
        )
        if enforce_iam:
            self.roles = iam.FunctionRoles(iam.role_policies(iam.sam_template(), self.refs))
            iam.use_keys(self.roles.create())
            iam.enforce()
        self._configure(env)
        if keep_in is not None:
            self.snapshot = Snapshot(keep_in, self.template, self.refs)
            self.restored = self.snapshot.load()
            self.snapshot.start()
        return self

    def attach(
        self, endpoint: str, refs: dict[str, str], harness: dict[str, str] | None = None
    ) -> LocalDeployment:
        """Use the embedded AWS another process started (a running `make serve`); with the
        ``harness`` keys of one that enforces IAM."""
        self.moto_port = int(endpoint.rsplit(":", 1)[1])
        os.environ.update({"AWS_ENDPOINT_URL": endpoint, "AWS_DEFAULT_REGION": REGION})
        iam.use_keys({"AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local"})
        self.refs = refs
        if harness:
            self.roles = iam.FunctionRoles(iam.role_policies(iam.sam_template(), refs))
            self.roles.harness = harness
            self.roles.harness_arn = harness.pop("arn", "")
            iam.use_keys(harness)
        self._configure(None)
        return self

    @property
    def harness(self) -> dict[str, str] | None:
        """The keys `make invoke` needs to use this deployment's AWS, when IAM is enforced."""
        if self.roles is None:
            return None
        return {**self.roles.harness, "arn": self.roles.harness_arn}

    def _configure(self, env: dict[str, str] | None) -> None:
        self.functions = functions(self.template)
        self.routes = routes(self.template)
        self.api = rest_api(self.template, self.refs)
        global_env = self.template.get("Globals", {}).get("Function", {})
        base_env = global_env.get("Environment", {}).get("Variables", {})
        os.environ.update(resources.function_environment(base_env, self.refs, self.template))
        # Lambda's logs go to CloudWatch; here they would drown the terminal. LOG_LEVEL=INFO
        # shows them, METRICS=1 shows the EMF metric lines too.
        os.environ["POWERTOOLS_LOG_LEVEL"] = os.environ.get("LOG_LEVEL", "WARNING")
        os.environ["POWERTOOLS_METRICS_DISABLED"] = "false" if os.environ.get("METRICS") else "true"
        os.environ.update(env or {})
        if self.roles is not None:
            iam.sign_as_functions(self.roles)
        self._reset_layer_caches()

    def stop(self) -> None:
        """Stop the event sources (five seconds in all: a job still running then dies with
        the process, as a Lambda's would, and a restart ends it in ERROR), then keep the
        state and stop the embedded AWS."""
        self._stopping.set()
        deadline = time.monotonic() + 5
        for thread in self._threads:
            thread.join(timeout=max(0.0, deadline - time.monotonic()))
        if self.snapshot is not None:
            self.snapshot.stop()
        if self._in_process is not None:
            self._in_process.stop(remove_data=False)
            self._in_process = None
        if self._moto is not None:
            self._moto.stop()
            self._moto = None
        if self.roles is not None:
            iam.relax()
            iam.sign_as_one()

    @staticmethod
    def _reset_layer_caches() -> None:
        from uws import aws
        from uws.config import settings

        settings.cache_clear()
        aws.reset()

    # ---- API Gateway -------------------------------------------------------------------------

    def http(
        self,
        method: str,
        path: str,
        query: str,
        headers: dict[str, str],
        body: bytes,
        host: str,
    ) -> HttpReply:
        """Answer one HTTP request as API Gateway and the function behind the route would,
        with API Gateway's and Lambda's limits and API Gateway's own answers."""
        if method not in API_GATEWAY_METHODS or (found := find_route(self.routes, path)) is None:
            return self._gateway(
                "MISSING_AUTHENTICATION_TOKEN", 403, "Missing Authentication Token"
            )
        if len(body) > API_GATEWAY_MAX_PAYLOAD:
            return self.too_large()
        route, params = found
        principal = basic_user(headers)
        headers = {k: v for k, v in headers.items() if k.lower() != "authorization"}
        headers["X-Forwarded-Proto"] = "http"
        content_type = next((v for k, v in headers.items() if k.lower() == "content-type"), "")
        event = rest_event(
            method, route, path, params, Mount.local(host), query=query,
            headers=headers, body=body, principal=principal,
            binary=self.api.is_binary(content_type),
        )  # fmt: skip
        if over_lambda_payload(event, len(event.get("body") or "")):
            # Lambda refuses the invocation (RequestEntityTooLargeException) and API Gateway
            # answers the client with its REQUEST_TOO_LARGE response; the function never runs.
            return self.too_large()
        result = invoke(self.functions[route.function], event)
        if over_lambda_payload(result, len(result.get("body") or "")):
            return self._gateway("DEFAULT_5XX", 502, "Internal server error")
        payload = result.get("body") or ""
        data = base64.b64decode(payload) if result.get("isBase64Encoded") else payload.encode()
        return HttpReply(int(result["statusCode"]), dict(result.get("headers") or {}), data)

    def too_large(self) -> HttpReply:
        """API Gateway's answer to a request over its payload limit or to one whose event
        Lambda refuses: 413 "Request Too Long", x-amzn-ErrorType BadRequestException (API
        Gateway Developer Guide, "Gateway response types": REQUEST_TOO_LARGE)."""
        reply = self._gateway("REQUEST_TOO_LARGE", 413, "Request Too Long")
        reply.headers["x-amzn-ErrorType"] = "BadRequestException"
        return reply

    def _gateway(self, kind: str, status: int, error: str) -> HttpReply:
        return HttpReply(*self.api.gateway_response(kind, status, error))

    # ---- event sources: queues and schedules -----------------------------------------------

    def event_sources(self) -> tuple[list[Any], list[FunctionSpec], list[Any]]:
        """(function, queue URL, batch size, maximum concurrency) for SQS events; functions
        with Schedule events; (function, stream ARN, batch size, tries) for DynamoDB streams."""
        queues, schedules, streams = [], [], []
        for name, resource in self.template["Resources"].items():
            if resource["Type"] != "AWS::Serverless::Function":
                continue
            for event in resource["Properties"].get("Events", {}).values():
                if event["Type"] == "SQS":
                    arn = resolve(event["Properties"]["Queue"], self.refs)
                    queue = next(k for k, v in self.refs.items() if v == arn).removesuffix(".Arn")
                    batch = int(event["Properties"].get("BatchSize", 10))
                    cap = event["Properties"].get("ScalingConfig", {}).get("MaximumConcurrency")
                    cap = 1000 if cap is None else int(resolve(cap, self.refs))
                    queues.append((self.functions[name], self.refs[queue], batch, cap))
                elif event["Type"] == "Schedule":
                    schedules.append(self.functions[name])
                elif event["Type"] == "DynamoDB":
                    arn = resolve(event["Properties"]["Stream"], self.refs)
                    batch = int(event["Properties"].get("BatchSize", 100))
                    tries = 1 + int(event["Properties"].get("MaximumRetryAttempts", 10))
                    streams.append((self.functions[name], arn, batch, tries))
        return queues, schedules, streams

    def start_event_sources(self, workers: int = 4, reaper_every: float = 60.0) -> None:
        queues, schedules, streams = self.event_sources()
        for spec, arn, batch, tries in streams:
            self._spawn(spec.name, self._poll_stream, spec, arn, batch, tries)
        for spec, queue_url, batch, cap in queues:
            # Lambda's event source runs at most MaximumConcurrency invocations at once.
            for index in range(min(workers, cap)):
                self._spawn(f"{spec.name}-{index}", self._poll_queue, spec, queue_url, batch)
        for spec in schedules:
            self._spawn(spec.name, self._every, spec, reaper_every)
        for name in resources_of_type(self.template, "AWS::ECS::Cluster"):
            self._spawn(name, self._fargate(name, workers).run)

    def _fargate(self, cluster: str, capacity: int) -> LocalFargate:
        """The cluster's tasks as processes, each with its task role's keys under IAM."""
        credentials = None
        if self.roles is not None:
            roles = self.roles
            task_role = next(iter(set(roles.policies) & set(resources_of_type(
                self.template, "AWS::IAM::Role"))))  # fmt: skip
            credentials = lambda: roles.credentials(task_role)  # noqa: E731
        return LocalFargate(
            self.refs[cluster], self.endpoint, credentials, self._stopping, capacity
        )

    def _spawn(self, name: str, target: Any, *args: Any) -> None:
        thread = threading.Thread(target=target, args=args, name=name, daemon=True)
        thread.start()
        self._threads.append(thread)

    def _poll_queue(self, spec: FunctionSpec, queue_url: str, batch: int) -> None:
        """Lambda's SQS event source mapping: receive, invoke, delete what succeeded."""
        sqs = boto3.client("sqs", region_name=REGION)
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
                deliver(spec, queue_url, messages, sqs)

    def _poll_stream(self, spec: FunctionSpec, stream_arn: str, batch: int, tries: int) -> None:
        """Lambda's DynamoDB stream event source mapping, from the latest record on: invoke
        with each batch, in order; a failed batch is tried again as the template says."""
        reader = StreamReader(stream_arn)
        while not self._stopping.wait(STREAM_POLL_SECONDS):
            try:
                records = reader.read(batch)
            except Exception:
                if self._stopping.is_set():
                    return
                continue
            for _ in range(tries):  # the template's MaximumRetryAttempts, then the next batch
                if not records:
                    break
                try:
                    invoke(spec, stream_event(records, stream_arn))
                    break
                except Exception:  # EventBridge refused: as Lambda, try the batch again
                    traceback.print_exc()
                    if self._stopping.wait(0.2):
                        return

    def _every(self, spec: FunctionSpec, seconds: float) -> None:
        while not self._stopping.wait(seconds):
            try:
                invoke(spec, scheduled_event())
            except Exception:  # the next tick tries again, as EventBridge would
                continue


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


def deliver(spec: FunctionSpec, queue_url: str, messages: list[dict], sqs: Any) -> None:
    """Invoke a function with a batch of messages; delete those it did not report failed."""
    event = sqs_event(queue_url, messages)
    try:
        result = invoke(spec, event) or {}
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


def basic_user(headers: dict[str, str]) -> str | None:
    """The user name of HTTP Basic credentials (the password is not checked locally)."""
    value = next((v for k, v in headers.items() if k.lower() == "authorization"), "")
    scheme, _, encoded = value.partition(" ")
    if scheme.lower() != "basic" or not encoded:
        return None
    try:
        user = base64.b64decode(encoded, validate=True).decode("utf-8").partition(":")[0]
    except (ValueError, UnicodeDecodeError):
        return None
    return user or None


def dumps(reply: Any) -> str:
    return json.dumps(reply, indent=2, sort_keys=True, default=str)
