"""AWS's transient errors, injected into the functions' AWS calls: ``FAULT_RATE=0.05 make
serve`` and the tests' ``faults`` fixture.

moto never throttles, never meets a transaction and never fails; AWS does all three, and a
service that is right only on moto loses jobs there. Each fault here is an error as AWS sends
it (status code, error code and body in the service's protocol), answered in place of moto's
reply to botocore (:func:`the_cloud_fails_transiently`), so botocore parses it and retries it
(or not) as it would AWS's, and what outlasts its retries reaches our code as on AWS. Only
the calls of a function being invoked are hit (``local.lambdas.acting_function``), never the
harness's.

What is injected (docs/aws.md, "Transient errors"), one of the service's at random:

- DynamoDB: ThrottlingException and ProvisionedThroughputExceededException (400),
  InternalServerError (500) (DynamoDB Developer Guide, "Error handling with DynamoDB");
  TransactWriteItems cancelled with a TransactionConflict reason, and a single-item write
  meeting a transaction (TransactionConflictException), which the SDK does not retry
  (DynamoDB Developer Guide, "Transaction conflict handling").
- S3: SlowDown (503) and InternalError (500) (S3 API Reference, "Error responses"), to the
  SDK's calls and to DuckDB's reads of the catalogue over HTTP (:func:`storage_fails_too`,
  counted as ``duckdb:``).
- SQS: RequestThrottled (400); ECS and EventBridge: ThrottlingException (400).
- Lambda: an invocation throttled (TooManyRequestsException, 429), raised by
  :func:`local.lambdas.invoke` for :func:`throttle_invocation`.
"""

from __future__ import annotations

import json
import random
import threading
import uuid
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from botocore.awsrequest import AWSResponse

WRITES = {"PutItem", "UpdateItem", "DeleteItem"}  # what a transaction on the item refuses


@dataclass(frozen=True)
class Fault:
    """One error as AWS sends it: HTTP status, error code and message."""

    status: int
    code: str
    message: str
    only: frozenset[str] | None = None  # the operations it can answer (None: any)


_DYNAMODB = [
    Fault(400, "ThrottlingException", "Rate of requests exceeds the allowed throughput."),
    Fault(400, "ProvisionedThroughputExceededException",
          "The level of configured provisioned throughput for the table was exceeded."),
    Fault(500, "InternalServerError", "Internal server error"),
    Fault(400, "TransactionCanceledException",
          "Transaction cancelled, please refer cancellation reasons for specific reasons",
          frozenset({"TransactWriteItems"})),
    Fault(400, "TransactionConflictException",
          "Transaction is ongoing for the item", frozenset(WRITES)),
]  # fmt: skip
_S3 = [
    Fault(503, "SlowDown", "Please reduce your request rate."),
    Fault(500, "InternalError", "We encountered an internal error. Please try again."),
]
FAULTS: dict[str, list[Fault]] = {
    "dynamodb": _DYNAMODB,
    "s3": _S3,
    "duckdb": _S3,  # S3's answers to DuckDB's own HTTP reads, as S3's XML
    "sqs": [Fault(400, "RequestThrottled", "Request is throttled.")],
    "ecs": [Fault(400, "ThrottlingException", "Rate exceeded")],
    "eventbridge": [Fault(400, "ThrottlingException", "Rate exceeded")],
}  # by botocore's service id in its event names
# Lambda API Reference, Invoke: TooManyRequestsException (HTTP 429), as for a function over
# its concurrency (Reason ConcurrentInvocationLimitExceeded).
LAMBDA_THROTTLE = Fault(429, "TooManyRequestsException", "Rate Exceeded.")


class _Raw:
    """What botocore reads an HTTP body from (``AWSResponse.raw``)."""

    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, **_: Any) -> Any:
        yield self._body


def response(service: str, fault: Fault, url: str, items: int = 1) -> AWSResponse:
    """``fault`` in ``service``'s protocol: JSON (DynamoDB, SQS, ECS, EventBridge) or S3's
    XML, with the headers botocore reads the error code from; ``items``: a transaction's."""
    request_id = str(uuid.uuid4())
    headers = {"x-amzn-RequestId": request_id}
    if service == "s3":
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            f"<Error><Code>{fault.code}</Code><Message>{fault.message}</Message>"
            f"<RequestId>{request_id}</RequestId><HostId>local</HostId></Error>"
        ).encode()
        headers.update({"Content-Type": "application/xml", "x-amz-request-id": request_id})
        return AWSResponse(url, fault.status, headers, _Raw(body))
    namespace = {
        "dynamodb": "com.amazonaws.dynamodb.v20120810#",
        "sqs": "com.amazonaws.sqs#",
    }.get(service, "")
    document: dict[str, Any] = {"__type": namespace + fault.code, "message": fault.message}
    if fault.code == "TransactionCanceledException":  # one reason an item, in order
        conflict = {"Code": "TransactionConflict", "Message": "Transaction is ongoing for the item"}
        reasons = [conflict] + [{"Code": "None"}] * (items - 1)
        document["CancellationReasons"] = reasons
        document["message"] += f" [{', '.join(r['Code'] for r in reasons)}]"
    if service == "sqs":  # SQS's JSON protocol also names the query error (awsQueryCompatible)
        headers["x-amzn-query-error"] = f"{fault.code};Sender"
    headers["Content-Type"] = "application/x-amz-json-1.0"
    return AWSResponse(url, fault.status, headers, _Raw(json.dumps(document).encode()))


@dataclass
class Injector:
    """Fails each call of an acting function with probability ``rate``; counts what it did.
    ``script``: the fault codes for the next calls of an operation (or invocations of a
    function), in order, None letting one through, before any at random (what a test uses to
    fail exactly the call it means)."""

    rate: float = 0.0
    seed: int | None = None
    injected: Counter[str] = field(default_factory=Counter)
    script: dict[str, list[str | None]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self._random = random.Random(self.seed)

    def choose(self, service: str, operation: str) -> Fault | None:
        """The fault for this call, if it gets one."""
        with self._lock:
            scripted = self.script.get(operation)
            if scripted:
                code = scripted.pop(0)
                if code is None:  # this call goes through
                    return None
                fault = next(f for f in FAULTS[service] + [LAMBDA_THROTTLE] if f.code == code)
            else:
                options = [
                    f for f in FAULTS.get(service, []) if f.only is None or operation in f.only
                ]
                if not options or self._random.random() >= self.rate:
                    return None
                fault = self._random.choice(options)
            self.injected[f"{service}:{fault.code}"] += 1
            return fault

    def summary(self) -> str:
        """``12 (dynamodb:ThrottlingException 5, s3:SlowDown 7)``: for logs and benchmarks."""
        shown = ", ".join(f"{kind} {n}" for kind, n in sorted(self.injected.items()))
        return f"{sum(self.injected.values())} ({shown})"

    def throttles_invocation(self, function: str) -> bool:
        """Whether Lambda throttles this invocation of ``function``."""
        with self._lock:
            scripted = self.script.get(function)
            hit = scripted.pop(0) == LAMBDA_THROTTLE.code if scripted else (
                self.rate > 0 and self._random.random() < self.rate
            )  # fmt: skip
            if hit:
                self.injected[f"lambda:{LAMBDA_THROTTLE.code}"] += 1
            return hit


INJECTOR = Injector()  # rate 0: nothing injected until :func:`inject` says so


def inject(rate: float, seed: int | None = None) -> Injector:
    """From now on, fail the functions' AWS calls and invocations at ``rate`` (0 to stop)."""
    global INJECTOR
    INJECTOR = Injector(rate, seed)
    return INJECTOR


def before_send(request: Any, event_name: str) -> AWSResponse | None:
    """An AWS error in place of moto's reply to a request botocore is about to send, or None
    to let the call through."""
    injector = INJECTOR
    if not injector.rate and not injector.script:
        return None
    from .lambdas import acting_function

    if acting_function() is None:
        return None
    _, service, operation = event_name.split(".", 2)
    fault = injector.choose(service, operation)
    if fault is None:
        return None
    items = 1
    if operation == "TransactWriteItems":
        items = len(json.loads(request.body or b"{}").get("TransactItems", [None]))
    return response(service, fault, request.url, items)


def throttle_invocation(function: str) -> bool:
    """Whether this invocation of ``function`` is throttled by the injected faults."""
    injector = INJECTOR
    return bool(injector.rate or injector.script) and injector.throttles_invocation(function)


def the_cloud_fails_transiently() -> None:
    """moto's in-process answer to each call (its botocore ``before-send`` stubber) is the
    injected fault instead, when there is one. (A ``before-send`` hook of our own would not
    do: botocore calls every hook, and moto's would apply the write it was to refuse.)"""
    from moto.core.botocore_stubber import BotocoreStubber

    answer = BotocoreStubber.__call__

    def faulty(self: Any, event_name: str, request: Any, **kwargs: Any) -> Any:
        if self.enabled:
            fault = before_send(request, event_name)
            if fault is not None:
                return fault
        return answer(self, event_name, request, **kwargs)

    BotocoreStubber.__call__ = faulty  # type: ignore[method-assign]


DUCKDB_AGENT = "duckdb/"  # how DuckDB's httpfs names itself (User-Agent: duckdb/v1.5.5(…))


def storage_fails_too() -> None:
    """moto's server answers DuckDB's S3 reads (the TAP engine's, over HTTP) with S3's
    transient errors at the same rate: DuckDB retries them itself, and what outlasts its
    retries must reach the client as a 503, or run the job's query again, never an ERROR."""
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication

    dispatch = DomainDispatcherApplication.__call__

    def faulty(self: Any, environ: dict[str, Any], start_response: Any) -> Any:
        injector = INJECTOR
        if (injector.rate or injector.script) and str(
            environ.get("HTTP_USER_AGENT", "")
        ).startswith(DUCKDB_AGENT):
            fault = injector.choose("duckdb", environ.get("REQUEST_METHOD", "GET"))
            if fault is not None:
                body = (
                    '<?xml version="1.0" encoding="UTF-8"?><Error>'
                    f"<Code>{fault.code}</Code><Message>{fault.message}</Message>"
                    f"<RequestId>{uuid.uuid4().hex[:16].upper()}</RequestId></Error>"
                ).encode()
                reason = "Slow Down" if fault.status == 503 else "Internal Server Error"
                start_response(f"{fault.status} {reason}", [
                    ("Content-Type", "application/xml"), ("Content-Length", str(len(body))),
                ])  # fmt: skip
                return [b"" if environ.get("REQUEST_METHOD") == "HEAD" else body]
        return dispatch(self, environ, start_response)

    DomainDispatcherApplication.__call__ = faulty  # type: ignore[method-assign]
