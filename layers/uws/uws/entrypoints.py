"""The entry points the Lambda handlers call: one request in, one API Gateway response out.

This is the one place where exceptions become responses (303s from SeeOther, 4xx from
UWSError, 503 from AWS throttling) and where requests are logged and counted. Logger and
Metrics are Powertools' (EMF); tracing is Lambda's own active tracing (Powertools' Tracer would
cost about 650 ms of cold start).
"""

from __future__ import annotations

import json
from typing import Any

from .errors import NotFound, SeeOther, UWSError, shown
from .service import JobHandle, Service, build_service
from .telemetry import count, logger
from .web.actions import JobActions
from .web.http import (
    Request,
    Response,
    base_url,
    error_response,
    fits_lambda_response,
    lower_headers,
    parse_request,
    see_other,
    wants_html,
)
from .web.joblist import JobList
from .web.links import Links
from .web.resources import call_method

JOB_ACTIONS = JobActions()


def serve_job_action(action: str, event: dict[str, Any]) -> dict[str, Any]:
    """Serve ``{job}/<action>`` (``''`` for the job itself) for an API Gateway REST event,
    or one of its items (``parameters/{name}``) when API Gateway routed the event there."""
    job_id = (event.get("pathParameters") or {}).get("jobId", "")
    logger.thread_safe_clear_keys()  # a thread may serve many requests (the local runtime)
    logger.thread_safe_append_keys(job_id=job_id[:64])
    child = child_resource(action, event)
    return respond(
        event,
        lambda service, request: JOB_ACTIONS.dispatch(
            child, JobHandle(job_id, request.caller, service), request
        ),
    )


def child_resource(action: str, event: dict[str, Any]) -> str:
    """The resource below the job that API Gateway matched (its ``resource`` is the route's
    template, such as ``/async/{jobId}/results/{id}``): ``action`` or an item of it."""
    route = (event.get("resource") or "").removeprefix("/async/{jobId}/")
    return route if action and route.startswith(f"{action}/") else action


def serve_job_list(event: dict[str, Any]) -> dict[str, Any]:
    """Serve ``/async``: the caller's job list and job creation."""
    logger.thread_safe_clear_keys()
    return respond(event, lambda service, request: call_method(JobList(), service, request))


def serve_not_found(event: dict[str, Any]) -> dict[str, Any]:
    """Serve what no UWS resource takes (the API's catch-all routes): a 404 for any method,
    before the body is read."""
    logger.thread_safe_clear_keys()
    return respond(event, _not_found, read_body=False)


def _not_found(service: Service, request: Request) -> Response:
    proxy = request.path_parameters.get("proxy") or ""
    segments = [s for s in proxy.split("/") if s]
    if len(segments) > 2 and segments[0] == "async":
        child = "/".join(segments[2:])
        raise NotFound(f"Jobs have no resource {shown(child)}.")
    raise NotFound(f"There is no resource at this path; the job list is at {request.links.jobs()}.")


def respond(
    event: dict[str, Any], act: Any, read_body: bool = True, public: bool = False
) -> dict[str, Any]:
    """Answer an API Gateway event with ``act(service, request)``: its Response, or the
    response its exception stands for. ``public``: anyone may ask, whatever the AuthMode."""
    service = build_service()
    links = None
    try:
        request = parse_request(event, service.settings, read_body, public)
        links = request.links
        response = act(service, request)
    except SeeOther as redirect:
        assert links is not None
        response = see_other(redirect, links)
    except UWSError as error:
        logger.info("request refused", extra={"status": error.status, "reason": error.message})
        response = error_response(error)
        if wants_html(event):  # a browser: the same answer as a readable page
            response = _error_page(response, event, service)
        count("Throttled" if error.status >= 500 else "ClientErrors")
    except Exception:
        logger.exception("request failed")
        count("ServerErrors")
        response = Response(500, "The service failed on this request; please retry or report it.")
    if not fits_lambda_response(response.body):  # a net: every resource bounds its answer
        logger.error("response over Lambda's limit", extra={"length": len(response.body)})
        count("ServerErrors")
        response = Response(500, "The answer would be larger than this service can send.")
    logger.info(
        "request served",
        extra={
            "method": event.get("httpMethod"),
            "resource": event.get("resource"),
            "status": response.status,
        },
    )
    return response.to_api_gateway()


def _error_page(refusal: Response, event: dict[str, Any], service: Service) -> Response:
    from .web.pages import error_page

    links = Links(base_url(event, lower_headers(event), service.settings))
    page = error_page(refusal.status, refusal.body, links, service.new_job_type)
    page.headers.update(refusal.headers)  # Allow, Retry-After
    return page


def run_queued_jobs(event: dict[str, Any], context: Any = None) -> dict[str, list[dict[str, str]]]:
    """The worker's SQS batch (of one): run the job each message names. A message that fails
    (an exception) is logged and reported back to SQS (a partial batch response), which
    delivers it again after the queue's visibility timeout, and to the dead-letter queue in
    the end. Powertools' BatchProcessor does the same, but importing it costs the worker about
    a quarter more cold start (asyncio and every event class), for batches of one. The
    invocation's remaining time (``context``) is how long a run retries writes AWS refuses."""
    from .worker import execute_job

    seconds_left = None
    if context is not None:
        seconds_left = lambda: context.get_remaining_time_in_millis() / 1000  # noqa: E731

    failures = []
    for record in event["Records"]:
        try:
            message = json.loads(record["body"])
            job_id = message["jobId"]
            logger.thread_safe_append_keys(job_id=job_id)
            execute_job(job_id, build_service(), message.get("executionDuration"),
                        seconds_left=seconds_left)  # fmt: skip
        except Exception:
            shown = {"message_id": record.get("messageId"), "body": str(record.get("body"))[:200]}
            logger.exception("message failed; SQS delivers it again", extra=shown)
            failures.append({"itemIdentifier": record["messageId"]})
    return {"batchItemFailures": failures}


def sweep_jobs() -> dict[str, int]:
    from .reaper import sweep

    return vars(sweep(build_service()))


def announce_phase_changes(event: dict[str, Any]) -> dict[str, Any]:
    """The job table's stream, a batch of records: each phase change, creation and removal
    as an EventBridge event (docs/uws.md, Events). What could not be published is reported
    by its first record (a partial batch response, the template's ReportBatchItemFailures):
    Lambda delivers the batch again from there (Lambda Developer Guide, "Configuring partial
    batch response with DynamoDB and Lambda")."""
    from .eventbus import phase_changes, publish

    published, unpublished = publish(list(phase_changes(event.get("Records", []))))
    failures = [] if unpublished is None else [{"itemIdentifier": unpublished}]
    return {"published": published, "batchItemFailures": failures}
