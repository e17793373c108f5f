"""What every HTTP resource of the service shares: ``do<METHOD>`` dispatch (a missing method
is a 405 naming the ones there are) and the negotiated representation of a UWS document."""

from __future__ import annotations

from typing import Any

from ..errors import MethodNotAllowed
from . import jsondoc
from .http import Request, Response
from .xml import MIME as XML

METHODS = ("GET", "POST", "PUT", "DELETE", "PATCH")


class Resource:
    """Something answering HTTP methods through ``do<METHOD>`` methods."""

    @classmethod
    def allowed(cls) -> list[str]:
        return [m for m in METHODS if hasattr(cls, f"do{m}")]


def call_method(resource: Any, *args: Any) -> Response:
    """Call ``do<METHOD>``; a missing method is a 405.

    HEAD is answered as GET, body and all: the HTTP front end (API Gateway, or the local
    runtime) sends the headers only, with the Content-Length of the GET (RFC 9110, 9.3.2).
    """
    request: Request = args[-1]
    method = "GET" if request.method == "HEAD" else request.method
    handler = getattr(resource, f"do{method}", None)
    if handler is None:
        raise MethodNotAllowed(request.method, type(resource).allowed())
    return handler(*args)


def negotiated(
    request: Request, subject: Any, as_xml: Any, as_json: Any, as_html: Any = None
) -> Response:
    """A 200 with ``subject``'s UWS document: JSON when the client's Accept prefers it, an
    HTML page (``as_html``, a whole response) when a browser asks, else XML; ``Vary: Accept``
    on all (docs/uws.md, JSON and Browsers)."""
    if request.wants_html and as_html is not None:
        return as_html(subject)
    if request.wants_json:
        response = Response(200, jsondoc.dumps(as_json(subject, request.links)), jsondoc.MIME)
    else:
        response = Response(200, as_xml(subject, request.links).decode("utf-8"), XML)
    response.headers["Vary"] = "Accept"
    return response
