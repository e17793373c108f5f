"""API Gateway REST proxy events in, responses out.

Here live the HTTP facts of the service: form and multipart bodies, case-insensitive UWS
parameter names, the caller's identity from the request context (never from a header), the
API's public base URL for absolute Locations and hrefs, and the one translation of
exceptions into status codes and one-sentence ``text/plain`` bodies.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from ..config import Settings
from ..errors import (
    BadRequest,
    Forbidden,
    PayloadTooLarge,
    SeeOther,
    Unauthorized,
    UnsupportedMediaType,
    UWSError,
    shown,
)
from ..job import Caller, UploadedFile
from .links import Links

TEXT = "text/plain; charset=utf-8"

# Lambda returns at most 6 MB of response JSON to a synchronous caller (Lambda quotas,
# "Invocation payload"); over it, API Gateway answers the client with a bare 5xx. Headers
# and the JSON around the body take far less than the 64 KiB kept back here.
RESPONSE_BUDGET = 6 * 1024 * 1024 - 64 * 1024


def fits_lambda_response(body: str) -> bool:
    """Whether ``body`` fits a Lambda response as JSON (measured only when it could be near:
    an escape takes at most six bytes a character)."""
    if len(body) * 6 < RESPONSE_BUDGET:
        return True
    return len(json.dumps(body)) < RESPONSE_BUDGET


@dataclass
class Request:
    """What an action needs of API Gateway's event."""

    method: str
    path_parameters: dict[str, str]
    params: list[tuple[str, str]]  # query string then body, in order; names as sent
    files: dict[str, UploadedFile]
    caller: Caller
    links: Links
    wants_json: bool = False  # the Accept header prefers application/json to XML
    wants_html: bool = False  # the Accept header prefers text/html (a browser's)
    idempotency_key: str | None = None  # the Idempotency-Key header (docs/uws.md)

    def values(self, name: str) -> list[str]:
        """Every value of a parameter, its name matched case-insensitively (UWS)."""
        wanted = name.upper()
        return [v for k, v in self.params if k.upper() == wanted]

    def value(self, name: str) -> str | None:
        """The single value of a parameter; giving it twice is a 400."""
        values = self.values(name)
        if len(values) > 1:
            raise BadRequest(f"Parameter {name} may be given only once.")
        return values[0] if values else None

    def names(self) -> set[str]:
        return {k.upper() for k, _ in self.params}


@dataclass
class Response:
    """What an action answers; to_api_gateway() makes the proxy response."""

    status: int
    body: str = ""
    content_type: str = TEXT
    headers: dict[str, str] = field(default_factory=dict)

    def to_api_gateway(self) -> dict[str, Any]:
        headers = {"Content-Type": self.content_type, "Cache-Control": "no-store"}
        headers.update(self.headers)
        return {"statusCode": self.status, "headers": headers, "body": self.body}


# ---- parsing ------------------------------------------------------------------------------------


def lower_headers(event: dict[str, Any]) -> dict[str, str]:
    return {k.lower(): v for k, v in (event.get("headers") or {}).items()}


def wants_html(event: dict[str, Any]) -> bool:
    """Whether the client is a browser asking for pages (errors become pages too)."""
    return representation(lower_headers(event)) == "html"


def parse_request(
    event: dict[str, Any], settings: Settings, read_body: bool = True, public: bool = False
) -> Request:
    headers = lower_headers(event)
    context = event.get("requestContext") or {}
    caller = caller_from_context(context)
    if caller.owner is None and not settings.anonymous_allowed and not public:
        raise Unauthorized("This service needs credentials; please authenticate.")
    links = Links(base_url(event, headers, settings))
    method = (event.get("httpMethod") or "GET").upper()
    if method not in ("GET", "HEAD", "OPTIONS") and not same_site(headers, links.base):
        raise Forbidden("Requests from another site are refused; use this service's own pages.")
    params = _query_pairs(event)
    files: dict[str, UploadedFile] = {}
    body = _body_bytes(event, settings) if read_body else b""
    if body:
        body_params, files = _form(body, headers.get("content-type", ""))
        params.extend(body_params)
    wanted = representation(headers)
    return Request(
        method=method,
        path_parameters=dict(event.get("pathParameters") or {}),
        params=params,
        files=files,
        caller=caller,
        links=links,
        wants_json=wanted == "json",
        wants_html=wanted == "html",
        idempotency_key=headers.get("idempotency-key"),
    )


_REPRESENTATIONS = {
    "application/xml": "xml", "text/xml": "xml", "application/json": "json",
    "text/html": "html", "application/xhtml+xml": "html",
}  # fmt: skip


def preferred(accept: str) -> str:
    """Which representation an Accept header asks for: "json" or "html" when it names that
    type with a higher quality than the others, else "xml". XML stays the answer to no
    Accept and to */* (curl, pyvo); a browser's list (text/html before application/xml;q=0.9)
    gets HTML. On a tie, XML before JSON before HTML."""
    quality = {"xml": 0.0, "json": 0.0, "html": 0.0}
    for entry in accept.split(","):
        kind, *options = (part.strip() for part in entry.split(";"))
        q = 1.0
        for option in options:
            name, _, value = option.partition("=")
            if name.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        representation = _REPRESENTATIONS.get(kind.lower())
        if representation is not None:
            quality[representation] = max(quality[representation], q)
    best = max(quality.values())
    if best <= 0:
        return "xml"
    return next(r for r in ("xml", "json", "html") if quality[r] == best)


def representation(headers: dict[str, str]) -> str:
    """ "xml", "json" or "html" for a request's (lower-cased) headers. HTML only for a browser
    opening a page: its Accept prefers text/html and it navigates (Sec-Fetch-Dest: document,
    or application/xhtml+xml among its types). Java's default Accept ("text/html, image/gif,
    image/jpeg, *; q=.2, */*; q=.2"), sent by clients that set none, stays XML."""
    accept = headers.get("accept", "")
    kind = preferred(accept)
    navigating = (
        headers.get("sec-fetch-dest", "").lower() == "document"
        or "application/xhtml+xml" in accept.lower()
    )
    return "xml" if kind == "html" and not navigating else kind


def same_site(headers: dict[str, str], base: str) -> bool:
    """Whether a request may change state: it comes from the service's own pages, or from no
    page at all (pyvo, curl and the like send no Origin). A browser names the page's origin in
    Origin on every POST from another site (Fetch Standard), and says cross-site in
    Sec-Fetch-Site; a sandboxed or data: page sends Origin "null"."""
    if headers.get("sec-fetch-site", "").lower() == "cross-site":
        return False
    origin = headers.get("origin")
    if origin is None:
        return True
    own = urlsplit(base)
    return origin.rstrip("/").lower() == f"{own.scheme}://{own.netloc}".lower()


def caller_from_context(context: dict[str, Any]) -> Caller:
    """The owner: a stable id of the authenticated principal, never a header or a parameter.

    - cognito: the ``sub`` claim, the user's immutable id (a user name can be freed by deleting
      the user and taken again by someone else);
    - a Lambda authorizer (and the local runtime's Basic user): its ``principalId``;
    - iam: the caller's ARN, an assumed role's without its session name (see
      :func:`stable_principal`).
    """
    authorizer = context.get("authorizer") or {}
    claims = authorizer.get("claims") or {}
    identity = context.get("identity") or {}
    owner = (
        claims.get("sub")
        or authorizer.get("principalId")
        or stable_principal(identity.get("userArn") or "")
    )
    return Caller(str(owner) if owner else None)


_ASSUMED_ROLE = re.compile(r"(arn:[\w-]+:sts::\d+:assumed-role/[^/]+)/.+")


def stable_principal(arn: str) -> str:
    """An assumed role's ARN ``arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION`` names a new
    session at every credential refresh (the AWS CLI's is ``botocore-session-<epoch>``), so
    its owner is the role: ``arn:aws:sts::ACCOUNT:assumed-role/ROLE``. IAM users, federated
    users and the account root keep their ARN (IAM User Guide, "IAM identifiers": ARNs)."""
    match = _ASSUMED_ROLE.fullmatch(arn)
    return match.group(1) if match else arn


def base_url(event: dict[str, Any], headers: dict[str, str], settings: Settings) -> str:
    """The public root of the API, under which ``/async`` lies.

    ``requestContext.path`` is the path the client sent: it starts with the stage on an
    execute-api host, with the base path mapping behind a custom domain (``/tap``, ``/v1/tap``)
    and with nothing on a custom domain mapped at its root. The resource path, with its path
    parameters put in, is the end of it; what comes before is the prefix. Segments are
    counted rather than compared, since API Gateway decodes path parameters but not the path.
    """
    if settings.public_base_url:
        return settings.public_base_url.rstrip("/")
    context = event.get("requestContext") or {}
    host = context.get("domainName") or headers.get("host") or "localhost"
    scheme = headers.get("x-forwarded-proto", "https").split(",")[0].strip()
    return f"{scheme}://{host}{mount_prefix(event)}"


def mount_prefix(event: dict[str, Any]) -> str:
    """What stands before the resource path in the path the client sent ('' or '/a/b')."""
    context = event.get("requestContext") or {}
    sent = _segments(context.get("path") or event.get("path") or "")
    resource = context.get("resourcePath") or event.get("resource")
    if resource is None:
        return ""
    parameters = event.get("pathParameters") or {}
    depth = 0
    for segment in _segments(resource):
        greedy = _GREEDY.fullmatch(segment)
        if greedy is None:
            depth += 1
        else:  # {proxy+} stands for as many segments as its value has
            depth += len(_segments(parameters.get(greedy[1]) or ""))
    return "".join(f"/{s}" for s in sent[: max(0, len(sent) - depth)])


_GREEDY = re.compile(r"\{(\w+)\+\}")


def _segments(path: str) -> list[str]:
    return [s for s in path.split("/") if s]


def _query_pairs(event: dict[str, Any]) -> list[tuple[str, str]]:
    multi = event.get("multiValueQueryStringParameters")
    if multi:
        return [(k, v) for k, values in multi.items() for v in values or ()]
    return list((event.get("queryStringParameters") or {}).items())


def _body_bytes(event: dict[str, Any], settings: Settings) -> bytes:
    body = event.get("body")
    if not body:
        return b""
    if len(body) > settings.max_body_bytes * 4 // 3 + 4:
        raise PayloadTooLarge(
            f"The request body is over the limit of {settings.max_body_bytes} bytes."
        )
    if event.get("isBase64Encoded"):
        try:
            raw = base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError):
            raise BadRequest("The request body is not valid base64.") from None
    else:
        raw = body.encode("utf-8", "surrogateescape")
    if len(raw) > settings.max_body_bytes:
        raise PayloadTooLarge(
            f"The request body is over the limit of {settings.max_body_bytes} bytes."
        )
    return raw


def _form(body: bytes, content_type: str) -> tuple[list[tuple[str, str]], dict[str, UploadedFile]]:
    media_type = content_type.split(";")[0].strip().lower()
    if media_type in ("", "application/x-www-form-urlencoded"):
        return _urlencoded(body), {}
    if media_type == "multipart/form-data":
        return _multipart(body, content_type)
    raise UnsupportedMediaType(
        "POST bodies must be application/x-www-form-urlencoded or multipart/form-data, "
        f"not {media_type[:60]}."
    )


def _urlencoded(body: bytes) -> list[tuple[str, str]]:
    try:
        text_body = body.decode("utf-8")
        return parse_qsl(
            text_body,
            keep_blank_values=True,
            encoding="utf-8",
            errors="strict",
            max_num_fields=1000,
        )
    except UnicodeDecodeError:
        raise BadRequest("The form body is not valid UTF-8.") from None
    except ValueError:
        raise BadRequest("The form body has more than 1000 fields.") from None


_BOUNDARY = re.compile(r'boundary="?([^";]+)"?', re.IGNORECASE)


def _multipart(
    body: bytes, content_type: str
) -> tuple[list[tuple[str, str]], dict[str, UploadedFile]]:
    """multipart/form-data through the standard library's MIME parser (imported only here:
    most requests never pay for it)."""
    import email.parser
    import email.policy

    if "boundary=" not in content_type.lower():
        raise BadRequest("The multipart body has no boundary in its Content-Type.")
    given = _BOUNDARY.search(content_type)
    if given is not None and ("<" in given[1] or ">" in given[1]):
        # RFC 2046 allows < and > in a boundary (STILTS sends "<<<---…--->>>"), but the
        # standard library's MIME parser strips them as if they quoted an address: the body
        # gets a boundary of ours instead, which by RFC 2046 appears nowhere in its content.
        safe = f"uws-{os.urandom(12).hex()}"
        body = body.replace(f"--{given[1]}".encode("latin-1", "replace"), f"--{safe}".encode())
        content_type = _BOUNDARY.sub(f'boundary="{safe}"', content_type, count=1)
    head = f"MIME-Version: 1.0\r\nContent-Type: {content_type}\r\n\r\n".encode("latin-1", "replace")
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + body)
    boundary = message.get_boundary() or ""
    if body.strip() == f"--{boundary}--".encode("latin-1", "replace"):
        return [], {}  # a form with no fields (RFC 7578 allows it; the MIME parser does not)
    if not message.is_multipart() or message.defects:
        raise BadRequest("The multipart body is malformed.")
    params: list[tuple[str, str]] = []
    files: dict[str, UploadedFile] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if not name:
            raise BadRequest("A multipart part has no name in its Content-Disposition.")
        payload = part.get_payload(decode=True) or b""
        filename = part.get_filename()
        if filename == "" and not payload:
            continue  # a browser's file field with no file chosen
        if filename is not None:
            files[str(name)] = UploadedFile(filename, part.get_content_type(), payload)
            continue
        try:
            params.append((str(name), payload.decode("utf-8")))
        except UnicodeDecodeError:
            raise BadRequest(
                f"The multipart field {shown(str(name))} is not valid UTF-8."
            ) from None
    return params, files


# ---- responses ----------------------------------------------------------------------------------


def see_other(redirect: SeeOther, links: Links) -> Response:
    """A 303 whose Location is absolute: our own paths under the API's base, or a given URL."""
    absolute = urlsplit(redirect.path).scheme in ("http", "https")
    location = redirect.path if absolute else links.url(redirect.path)
    return Response(303, "", TEXT, {"Location": location})


def error_response(error: UWSError) -> Response:
    headers: dict[str, str] = {}
    allowed = getattr(error, "allowed", None)
    if allowed:
        headers["Allow"] = ", ".join(allowed)
    retry_after = getattr(error, "retry_after", None)
    if retry_after:
        headers["Retry-After"] = str(retry_after)
    message = error.message if len(error.message) <= 300 else error.message[:299] + "…"
    return Response(error.status, message, TEXT, headers)
