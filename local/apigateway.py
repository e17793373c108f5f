"""HTTP requests as API Gateway REST proxy events, and functions loaded as Lambda loads them."""

from __future__ import annotations

import base64
import importlib.util
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any
from urllib.parse import parse_qsl, urlencode

from .template import FunctionSpec, Route

TEXT_TYPES = ("text/", "application/x-www-form-urlencoded", "application/json", "application/xml")


def find_route(routes: list[Route], path: str) -> tuple[Route, dict[str, str]] | None:
    """The matching route; literal segments beat parameters, as in API Gateway."""
    best = None
    for route in routes:
        params = route.match(path)
        if params is not None and (best is None or len(params) < len(best[1])):
            best = (route, params)
    return best


def rest_event(
    method: str,
    route: Route,
    path: str,
    path_parameters: dict[str, str],
    query: str = "",
    headers: dict[str, str] | None = None,
    body: bytes = b"",
    principal: str | None = None,
    stage: str = "local",
    host: str = "127.0.0.1",
    base_path: str = "",
) -> dict[str, Any]:
    """The event API Gateway's REST proxy integration sends for one request."""
    headers = dict(headers or {})
    headers.setdefault("Host", host)
    content_type = next((v for k, v in headers.items() if k.lower() == "content-type"), "")
    binary = bool(body) and not content_type.startswith(TEXT_TYPES)
    pairs = parse_qsl(query, keep_blank_values=True)
    multi_query: dict[str, list[str]] = {}
    for key, value in pairs:
        multi_query.setdefault(key, []).append(value)
    context: dict[str, Any] = {
        "resourcePath": route.path,
        "httpMethod": method,
        "path": base_path + path,  # the stage prefix on execute-api hosts; "" at a custom domain
        "stage": stage,
        "requestId": str(uuid.uuid4()),
        "requestTimeEpoch": int(time.time() * 1000),
        "domainName": host,
        "identity": {"sourceIp": "127.0.0.1", "userArn": None},
    }
    if principal is not None:
        context["authorizer"] = {"principalId": principal}
    return {
        "resource": route.path,
        "path": path,
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
    stage: str = "uws",
    host: str = "abc123.execute-api.us-east-1.amazonaws.com",
) -> tuple[Route, dict[str, Any]]:
    """The event of a request to the deployed stage, ``data`` sent as a form body (tests and
    benchmarks call the handlers with these)."""
    found = find_route(routes, path)
    assert found is not None, f"no route for {path}"
    route, params = found
    if body is None and data is not None:
        body = urlencode(data, doseq=True).encode()
        headers = {"Content-Type": "application/x-www-form-urlencoded", **(headers or {})}
    event = rest_event(
        method, route, path, params, query=urlencode(query or {}, doseq=True), headers=headers,
        body=body or b"", principal=owner, stage=stage, host=host, base_path=f"/{stage}",
    )  # fmt: skip
    return route, event


@dataclass
class LambdaContext:
    """What a Lambda runtime passes as ``context`` (the fields Powertools reads)."""

    function_name: str
    memory_limit_in_mb: int = 256
    timeout_seconds: int = 29
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    started: float = field(default_factory=time.monotonic)

    @property
    def invoked_function_arn(self) -> str:
        return f"arn:aws:lambda:us-east-1:123456789012:function:{self.function_name}"

    def get_remaining_time_in_millis(self) -> int:
        return int((self.timeout_seconds - (time.monotonic() - self.started)) * 1000)


_loaded: dict[str, ModuleType] = {}


def load_handler(spec: FunctionSpec) -> Callable[[dict[str, Any], Any], Any]:
    """Import a function's module by file path, once, as Lambda does (no shared sys.path)."""
    module = _loaded.get(spec.name)
    if module is None:
        loader_spec = importlib.util.spec_from_file_location(f"lambda_{spec.name}", spec.file)
        assert loader_spec is not None and loader_spec.loader is not None
        module = importlib.util.module_from_spec(loader_spec)
        loader_spec.loader.exec_module(module)
        _loaded[spec.name] = module
    return getattr(module, spec.handler)


def invoke(spec: FunctionSpec, event: dict[str, Any]) -> Any:
    context = LambdaContext(spec.name, spec.memory, spec.timeout)
    return load_handler(spec)(event, context)
