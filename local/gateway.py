"""API Gateway's part of a request: its routes, its limits and its own answers, before and
after the function behind the route (a REST API with Lambda proxy integrations)."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Any

from .events import Mount, find_route, rest_event
from .lambdas import Throttled, invoke
from .template import FunctionSpec, RestApi, Route

# What a REST API's ANY method takes; API Gateway routes no other method (API Gateway
# Developer Guide, "Set up a method": DELETE, GET, HEAD, OPTIONS, PATCH, POST, PUT).
API_GATEWAY_METHODS = frozenset({"DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT"})
# API Gateway quotas: "Payload size" of a REST API request, 10 MB.
API_GATEWAY_MAX_PAYLOAD = 10 * 1024 * 1024
# Lambda quotas: "Invocation payload (request and response)", 6 MB each for synchronous
# invocations, counted on the JSON of the event and of the function's response.
LAMBDA_MAX_PAYLOAD = 6 * 1024 * 1024


def over_lambda_payload(document: dict[str, Any], body_length: int) -> bool:
    """Whether the JSON of an event or a response is over Lambda's synchronous limit (the
    exact size is taken only when the body could bring it near: JSON escapes take at most
    six bytes a character)."""
    if body_length * 6 + 64 * 1024 < LAMBDA_MAX_PAYLOAD:
        return False
    return len(json.dumps(document).encode()) > LAMBDA_MAX_PAYLOAD


@dataclass
class HttpReply:
    status: int
    headers: dict[str, str]
    body: bytes


@dataclass
class ApiGateway:
    """The deployed REST API: the template's routes, to the functions behind them."""

    routes: list[Route]
    api: RestApi
    functions: dict[str, FunctionSpec]

    def answer(
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
        try:
            result = invoke(self.functions[route.function], event)
        except Throttled as throttled:
            return self.throttled(str(throttled))
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

    def throttled(self, error: str) -> HttpReply:
        """API Gateway's answer when Lambda throttles the function behind a proxy integration:
        500 "Internal server error" (Lambda Developer Guide, "Handling Lambda errors with an
        API Gateway API"), logged as a configuration error: the API_CONFIGURATION_ERROR
        gateway response unless the template maps it (API Gateway Developer Guide, "Gateway
        response types")."""
        return self._gateway("API_CONFIGURATION_ERROR", 500, error)

    def _gateway(self, kind: str, status: int, error: str) -> HttpReply:
        return HttpReply(*self.api.gateway_response(kind, status, error))


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
