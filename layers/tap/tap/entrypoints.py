"""What TAP's Lambda handlers call: /sync and the VOSI and DALI resources (/capabilities,
/availability, /tables, /examples) beside the UWS's /async (docs/tap.md).

They answer through the UWS's entry point (``uws.entrypoints.respond``: the caller, the
public base URL, errors as one-sentence responses, logs and metrics), so TAP's resources
behave as the UWS's do: 405 with Allow for other methods, 401/403 as the deployment's
AuthMode says, 503 with Retry-After when AWS throttles.
"""

from __future__ import annotations

import time
from typing import Any

from uws.entrypoints import respond
from uws.errors import NotFound, SeeOther, ServiceUnavailable, UWSError, shown
from uws.files import answer_key
from uws.service import Service
from uws.telemetry import count, logger
from uws.web.http import Request, Response, fits_lambda_response
from uws.web.resources import Resource, call_method

from . import vosi
from .examples import examples_of
from .request import Limits, StorageBusy, TapError, parse_tap_query
from .service import engine, uploads_of
from .votable import MIME as VOTABLE_MIME
from .votable import error_document

SYNC_SECONDS = 25  # within API Gateway's 29 s integration timeout, with room to answer
INLINE_BYTES = (
    6 * 1024 * 1024
)  # no file larger can fit Lambda's 6 MB answer; see fits_lambda_response


def serve_sync(event: dict[str, Any]) -> dict[str, Any]:
    return respond(event, lambda service, request: _storage_busy_is_503(Sync(), service, request))


def serve_vosi(event: dict[str, Any]) -> dict[str, Any]:
    """One of the VOSI and DALI resources, by the route API Gateway matched. They answer
    anyone, whatever the AuthMode: clients read /capabilities before they authenticate (TAP
    1.1, 2; pyvo's AuthSession does), and they hold no one's data."""
    resource = VOSI_RESOURCES.get((event.get("resource") or "").rstrip("/"))
    if resource is None:
        return respond(event, _no_such_resource, read_body=False, public=True)
    return respond(
        event, lambda service, request: _storage_busy_is_503(resource(), service, request),
        read_body=False, public=True,
    )  # fmt: skip


def _storage_busy_is_503(resource: Resource, service: Service, request: Request) -> Response:
    """A resource that reads the catalogue (/sync, /tables, /examples) when S3 refuses its
    reads for a moment (StorageBusy): a 503 with Retry-After, which a client retries."""
    try:
        return call_method(resource, service, request)
    except StorageBusy:
        raise ServiceUnavailable("The catalogue's storage is busy; please retry shortly.") from None


def _no_such_resource(service: Service, request: Request) -> Response:
    raise NotFound("There is no such TAP resource.")


def _parameters(request: Request) -> dict[str, list[str]]:
    grouped: dict[str, list[str]] = {}
    for name, value in request.params:
        grouped.setdefault(name.upper(), []).append(value)
    return grouped


def _refusal(message: str, status: int = 400) -> Response:
    """TAP's error document (a VOTable with QUERY_STATUS ERROR) with an HTTP status."""
    return Response(status, error_document(message).decode("utf-8"), VOTABLE_MIME)


class Sync(Resource):
    """``/sync``: the query runs while the client waits (within API Gateway's 29 s); its
    result is the answer, or a 303 to it in S3 when it is binary or too large to send."""

    def doGET(self, service: Service, request: Request) -> Response:
        return self.doPOST(service, request)

    def doPOST(self, service: Service, request: Request) -> Response:
        limits = Limits.from_environment()
        started = time.monotonic()

        def within_sync_time() -> None:
            if time.monotonic() - started > SYNC_SECONDS:
                raise TapError(
                    f"The query ran longer than the {SYNC_SECONDS} s /sync allows; "
                    "send it to /async, where it may run longer."
                )

        try:
            query = parse_tap_query(_parameters(request), limits)
            files = request.files
            uploads = uploads_of(
                query, lambda part: files[part].content if part in files else None, limits
            )
            outcome = engine().run(query, uploads, check=within_sync_time)
            try:
                if outcome.output.name != "parquet" and outcome.path.stat().st_size <= INLINE_BYTES:
                    text = outcome.path.read_text(encoding="utf-8")
                    if fits_lambda_response(text):  # as JSON, escapes and all
                        return Response(200, text, outcome.output.mime)
                key = answer_key(f"result.{outcome.output.extension}")
                service.files.put(key, outcome.path.read_bytes(), outcome.output.mime)
            finally:
                outcome.path.unlink(missing_ok=True)
        except (StorageBusy, UWSError):  # AWS busy, not the query's fault: 503, Retry-After
            raise
        except TapError as error:
            return _refusal(str(error))
        except Exception:  # a fault of ours, answered as TAP answers: an error VOTable
            logger.exception("query failed")
            count("ServerErrors")
            return _refusal("The service failed on this query; please retry or report it.", 500)
        seconds = service.settings.presign_seconds
        raise SeeOther(service.files.presigned_get(key, outcome.output.mime, seconds))


def limits_of(service: Service) -> vosi.Limits:
    settings, tap = service.settings, Limits.from_environment()
    return vosi.Limits(
        default_duration=settings.default_execution_duration,
        max_duration=settings.execution_duration_limit,
        default_retention=settings.default_destruction_days * 86400,
        max_retention=settings.max_destruction_days * 86400,
        default_maxrec=tap.default_maxrec,
        max_maxrec=tap.max_maxrec,
        upload_bytes=min(tap.upload_bytes, settings.max_body_bytes),
    )


class Capabilities(Resource):
    def doGET(self, service: Service, request: Request) -> Response:
        return Response(200, vosi.capabilities(request.links.base, limits_of(service)).decode(),
                        vosi.XML_MIME)  # fmt: skip


class Availability(Resource):
    def doGET(self, service: Service, request: Request) -> Response:
        note = "Serverless: the service starts on each request; nothing runs between them."
        return Response(200, vosi.availability(note).decode(), vosi.XML_MIME)


class Tables(Resource):
    def doGET(self, service: Service, request: Request) -> Response:
        """VOSI 1.1: the whole tableset; ``detail=min`` gives the names alone."""
        detail = (request.value("DETAIL") or "max").lower() != "min"
        return Response(200, vosi.tableset([engine().catalogue], detail).decode(), vosi.XML_MIME)


class Table(Resource):
    def doGET(self, service: Service, request: Request) -> Response:
        name = request.path_parameters.get("name", "")
        try:
            table = engine().catalogue.table(name)
        except KeyError:
            raise NotFound(f"There is no table {shown(name)}; /tables lists them.") from None
        return Response(200, vosi.table(table).decode(), vosi.XML_MIME)


class Examples(Resource):
    def doGET(self, service: Service, request: Request) -> Response:
        page = vosi.examples(
            examples_of(engine().catalogue, engine().read_text), request.links.base
        )
        return Response(200, page.decode(), vosi.XHTML_MIME)


VOSI_RESOURCES: dict[str, type] = {
    "/capabilities": Capabilities,
    "/availability": Availability,
    "/tables": Tables,
    "/tables/{name}": Table,
    "/examples": Examples,
}
