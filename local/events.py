"""The events AWS sends the functions: API Gateway REST proxy events (in every shape a
client's way in gives them), SQS batches for the worker and scheduled events for the reaper.
Tests, benchmarks, the local runtime and events/ build them here; local.lambdas invokes."""

from __future__ import annotations

import base64
import time
import uuid
from dataclasses import dataclass
from functools import cache
from typing import Any
from urllib.parse import parse_qsl, urlencode

from .resources import ACCOUNT
from .template import RestApi, Route, load, parameter_defaults, rest_api

REGION = "us-east-1"  # the embedded AWS's region


def find_route(routes: list[Route], path: str) -> tuple[Route, dict[str, str]] | None:
    """The matching route, as API Gateway picks it: literal segments beat {parameters}, which
    beat a greedy {proxy+}; a greedy route takes what no more specific one matches."""
    matches = [(route, params) for route in routes if (params := route.match(path)) is not None]
    return min(matches, key=lambda found: found[0].specificity, default=None)


@dataclass(frozen=True)
class Mount:
    """How a client reaches the API, and so the shape of the event API Gateway sends.

    Sources: API Gateway Developer Guide, "Input format of a Lambda function for proxy
    integration" (``path``, ``resource``, ``requestContext.path``/``resourcePath``/``stage``/
    ``domainName``); with a custom domain's base path mapping both ``path`` and
    ``requestContext.path`` carry the base path (as Powertools' ``strip_prefixes`` documents
    for the same reason); an edge-optimized endpoint is fronted by CloudFront, which adds its
    ``Via``, ``X-Amz-Cf-Id`` and ``CloudFront-*`` headers.
    """

    host: str
    stage: str = "uws"
    stage_in_path: bool = True  # the execute-api host: /<stage> before the resource path
    base_path: str = ""  # a custom domain's base path mapping, e.g. /tap or /v1/tap
    edge: bool = False

    @classmethod
    def execute_api(cls, host: str, stage: str = "uws", edge: bool = False) -> Mount:
        return cls(host, stage, stage_in_path=True, edge=edge)

    @classmethod
    def custom_domain(cls, host: str, base_path: str = "", stage: str = "uws") -> Mount:
        return cls(host, stage, stage_in_path=False, base_path=base_path.rstrip("/"))

    @classmethod
    def local(cls, host: str) -> Mount:
        """The local runtime: like a custom domain mapped at its root."""
        return cls(host, "local", stage_in_path=False)

    def paths(self, path: str) -> tuple[str, str]:
        """(event ``path``, ``requestContext.path``) for a request to ``path``."""
        sent = self.base_path + path
        return sent, (f"/{self.stage}" if self.stage_in_path else "") + sent

    def headers(self) -> dict[str, str]:
        if not self.edge:
            return {}
        return {
            "Via": "2.0 a1b2c3d4e5f6.cloudfront.net (CloudFront)",
            "X-Amz-Cf-Id": "Q3l2qVn1fRkJ1q7yYtVXa0mJdSmTmFlmRq3kY8xN0T3bq6dQmJ5c1A==",
            "CloudFront-Forwarded-Proto": "https",
            "CloudFront-Is-Desktop-Viewer": "true",
            "CloudFront-Is-Mobile-Viewer": "false",
            "CloudFront-Is-SmartTV-Viewer": "false",
            "CloudFront-Is-Tablet-Viewer": "false",
            "CloudFront-Viewer-Country": "DE",
        }


DEPLOYED = Mount.execute_api("abc123.execute-api.us-east-1.amazonaws.com")


def rest_event(
    method: str,
    route: Route,
    path: str,
    path_parameters: dict[str, str],
    mount: Mount,
    query: str = "",
    headers: dict[str, str] | None = None,
    body: bytes = b"",
    principal: str | None = None,
    binary: bool = False,
) -> dict[str, Any]:
    """The event API Gateway's REST proxy integration sends for one request; ``binary`` if
    the body's Content-Type is one of the API's binary media types (then it is base64)."""
    headers = {**mount.headers(), **(headers or {})}
    headers.setdefault("Host", mount.host)
    pairs = parse_qsl(query, keep_blank_values=True)
    multi_query: dict[str, list[str]] = {}
    for key, value in pairs:
        multi_query.setdefault(key, []).append(value)
    event_path, sent_path = mount.paths(path)
    context: dict[str, Any] = {
        "resourcePath": route.path,
        "httpMethod": method,
        "path": sent_path,
        "stage": mount.stage,
        "requestId": str(uuid.uuid4()),
        "requestTimeEpoch": int(time.time() * 1000),
        "domainName": mount.host,
        "identity": {"sourceIp": "127.0.0.1", "userArn": None},
    }
    if principal is not None:
        context["authorizer"] = {"principalId": principal}
    binary = binary and bool(body)
    return {
        "resource": route.path,
        "path": event_path,
        "httpMethod": method,
        "headers": headers,
        "multiValueHeaders": {k: [v] for k, v in headers.items()},
        "queryStringParameters": {k: v[-1] for k, v in multi_query.items()} or None,
        "multiValueQueryStringParameters": multi_query or None,
        "pathParameters": path_parameters or None,
        "stageVariables": None,
        "requestContext": context,
        "body": (base64.b64encode(body).decode() if binary else body.decode("utf-8", "replace"))
        if body
        else None,
        "isBase64Encoded": binary,
    }


def form_event(
    routes: list[Route],
    method: str,
    path: str,
    *,
    data: Any = None,
    query: Any = None,
    owner: str | None = None,
    headers: dict[str, str] | None = None,
    body: bytes | None = None,
    mount: Mount | None = None,
) -> tuple[Route, dict[str, Any]]:
    """The event of a request to the deployed API, ``data`` sent as a form body (tests and
    benchmarks call the handlers with these). Bodies of the template's binary media types
    arrive base64-encoded, as API Gateway sends them."""
    found = find_route(routes, path)
    assert found is not None, f"no route for {path}"
    route, params = found
    if body is None and data is not None:
        body = urlencode(data, doseq=True).encode()
        headers = {"Content-Type": "application/x-www-form-urlencoded", **(headers or {})}
    content_type = next((v for k, v in (headers or {}).items() if k.lower() == "content-type"), "")
    event = rest_event(
        method, route, path, params, mount or DEPLOYED, query=urlencode(query or {}, doseq=True),
        headers=headers, body=body or b"", principal=owner,
        binary=default_api().is_binary(content_type),
    )  # fmt: skip
    return route, event


@cache
def default_api() -> RestApi:
    """template.yaml's API with its parameters' defaults."""
    template = load()
    return rest_api(template, parameter_defaults(template))


def sqs_event(queue_url: str, messages: list[dict[str, Any]]) -> dict[str, Any]:
    queue_name = queue_url.rsplit("/", 1)[-1]
    return {
        "Records": [
            {
                "messageId": m["MessageId"],
                "receiptHandle": m["ReceiptHandle"],
                "body": m["Body"],
                "attributes": m.get("Attributes", {}),
                "messageAttributes": {},
                "md5OfBody": m.get("MD5OfBody", ""),
                "eventSource": "aws:sqs",
                "eventSourceARN": f"arn:aws:sqs:{REGION}:{ACCOUNT}:{queue_name}",
                "awsRegion": REGION,
            }
            for m in messages
        ]
    }


def stream_event(records: list[dict[str, Any]], stream_arn: str) -> dict[str, Any]:
    """What Lambda's DynamoDB event source sends: the stream's records as GetRecords gives
    them, times in epoch seconds, each naming the stream."""
    converted = []
    for record in records:
        change = dict(record["dynamodb"])
        created = change.get("ApproximateCreationDateTime")
        if hasattr(created, "timestamp"):
            change["ApproximateCreationDateTime"] = int(created.timestamp())
        converted.append(
            {**record, "dynamodb": change, "eventSource": "aws:dynamodb",
             "awsRegion": REGION, "eventSourceARN": stream_arn}
        )  # fmt: skip
    return {"Records": converted}


def scheduled_event() -> dict[str, Any]:
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": ACCOUNT,
        "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "region": REGION,
        "resources": [f"arn:aws:events:{REGION}:{ACCOUNT}:rule/uws-reaper"],
        "detail": {},
    }
