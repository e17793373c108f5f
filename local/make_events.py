"""Write events/: one API Gateway REST proxy event per route and method a user would try.

Run ``python -m local.make_events`` after changing routes; the tests invoke every file.
The events look like what API Gateway sends for the deployed stage (host, stage prefix,
request context), so they are good for ``sam local invoke -e`` too.
"""

from __future__ import annotations

import json
from pathlib import Path

from .events import Mount, form_event
from .template import ROOT, load, routes

JOB = "Q2ZkR3dmYWtlLWpvYi1pZA"  # an id of our shape; `make invoke` creates the job first
HOST = "abc123defg.execute-api.eu-west-1.amazonaws.com"
STAGE = "uws"

# name: (method, path, query, form)
CASES = {
    "jobs-get": ("GET", "/async", {}, None),
    "jobs-get-filtered": ("GET", "/async", {"PHASE": "COMPLETED", "LAST": "10"}, None),
    "jobs-post": ("POST", "/async", {}, {"TEXT": "hello", "DURATION": "1", "RUNID": "demo-1"}),
    "jobs-post-run": ("POST", "/async", {}, {"TEXT": "hello", "PHASE": "RUN"}),
    "job-get": ("GET", f"/async/{JOB}", {}, None),
    "job-get-wait": ("GET", f"/async/{JOB}", {"WAIT": "30", "PHASE": "EXECUTING"}, None),
    "job-delete": ("DELETE", f"/async/{JOB}", {}, None),
    "job-post-action-delete": ("POST", f"/async/{JOB}", {}, {"ACTION": "DELETE"}),
    "phase-get": ("GET", f"/async/{JOB}/phase", {}, None),
    "phase-post-run": ("POST", f"/async/{JOB}/phase", {}, {"PHASE": "RUN"}),
    "phase-post-abort": ("POST", f"/async/{JOB}/phase", {}, {"PHASE": "ABORT"}),
    "executionduration-get": ("GET", f"/async/{JOB}/executionduration", {}, None),
    "executionduration-post": (
        "POST",
        f"/async/{JOB}/executionduration",
        {},
        {"EXECUTIONDURATION": "120"},
    ),
    "destruction-get": ("GET", f"/async/{JOB}/destruction", {}, None),
    "destruction-post": (
        "POST",
        f"/async/{JOB}/destruction",
        {},
        {"DESTRUCTION": "2030-01-01T00:00:00Z"},
    ),
    "error-get": ("GET", f"/async/{JOB}/error", {}, None),
    "quote-get": ("GET", f"/async/{JOB}/quote", {}, None),
    "owner-get": ("GET", f"/async/{JOB}/owner", {}, None),
    "starttime-get": ("GET", f"/async/{JOB}/startTime", {}, None),
    "parameters-get": ("GET", f"/async/{JOB}/parameters", {}, None),
    "parameters-get-one": ("GET", f"/async/{JOB}/parameters/TEXT", {}, None),
    "parameters-post": (
        "POST",
        f"/async/{JOB}/parameters",
        {},
        {"TEXT": "changed", "DURATION": "2"},
    ),
    "results-get": ("GET", f"/async/{JOB}/results", {}, None),
    "results-get-one": ("GET", f"/async/{JOB}/results/result", {}, None),
    "phase-put-not-allowed": ("PUT", f"/async/{JOB}/phase", {}, None),
    "unknown-child-get": ("GET", f"/async/{JOB}/nosuchthing", {}, None),
}
# a TAP deployment's own resources (JobType tap; docs/tap.md)
TAP_CASES = {
    "sync-post": (
        "POST", "/sync", {},
        {"LANG": "ADQL", "QUERY": "SELECT TOP 5 hip, hpmag FROM hipparcos.main ORDER BY hpmag"},
    ),
    "capabilities-get": ("GET", "/capabilities", {}, None),
    "availability-get": ("GET", "/availability", {}, None),
    "tables-get": ("GET", "/tables", {}, None),
    "tables-get-one": ("GET", "/tables/hipparcos.main", {}, None),
    "examples-get": ("GET", "/examples", {}, None),
}  # fmt: skip
CASES.update(TAP_CASES)


def build(name: str) -> dict:
    method, path, query, form = CASES[name]
    headers = {
        "Accept": "*/*",
        "User-Agent": "python-requests/2.32 pyvo/1.6",
        "X-Forwarded-For": "198.51.100.7",
        "X-Forwarded-Port": "443",
        "X-Forwarded-Proto": "https",
    }
    _, event = form_event(
        routes(load()),
        method,
        path,
        data=form,
        query=query,
        headers=headers,
        mount=Mount.execute_api(HOST, STAGE),
    )
    context = event["requestContext"]
    context.update(
        accountId="123456789012", apiId="abc123defg", protocol="HTTP/1.1",
        requestId="c6af9ac6-7b61-11e6-9a41-93e8deadbeef", requestTime="23/Nov/2026:19:00:00 +0000",
        requestTimeEpoch=1795460400000, extendedRequestId="XyZ123=",
    )  # fmt: skip
    context["identity"].update(userAgent=headers["User-Agent"], sourceIp="198.51.100.7")
    return event


def worker_event() -> dict:
    """What SQS hands the worker for one queued job (batch size 1)."""
    from .events import sqs_event

    message = {
        "MessageId": "059f36b4-87a3-44ab-83d2-661975830a7d",
        "ReceiptHandle": "AQEBwJnKyrHigUMZj6rYigCgxlaS3SLy0a...",
        "Body": json.dumps({"jobId": JOB}),
        "Attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": "1795460400000"},
        "MD5OfBody": "e4e68fb7bd0e697a0ae8f1bb342846b3",
    }
    return sqs_event("https://sqs.eu-west-1.amazonaws.com/123456789012/uws-JobsQueue", [message])


def reaper_event() -> dict:
    from .events import scheduled_event

    return {**scheduled_event(), "id": "cdc73f9d-aea9-11e3-9d5a-835b769c0d9c",
            "time": "2026-11-23T19:00:00Z"}  # fmt: skip


def stream_event() -> dict:
    """What the job table's stream hands EventsFunction: the sample job completing."""
    from .events import stream_event as as_lambda_sends

    def image(phase: str) -> dict:
        return {"jobId": {"S": JOB}, "phase": {"S": phase}, "ownerKey": {"S": "anonymous"},
                "jobType": {"S": "demo"}, "runId": {"S": "sample-run"}}  # fmt: skip

    record = {
        "eventID": "c81e728d9d4c2f636f067f89cc14862c",
        "eventName": "MODIFY",
        "eventVersion": "1.1",
        "dynamodb": {
            "ApproximateCreationDateTime": 1795460400,
            "Keys": {"jobId": {"S": JOB}},
            "OldImage": image("EXECUTING"),
            "NewImage": image("COMPLETED"),
            "SequenceNumber": "111100000000001234567890",
            "SizeBytes": 180,
            "StreamViewType": "NEW_AND_OLD_IMAGES",
        },
    }
    arn = (
        "arn:aws:dynamodb:eu-west-1:123456789012:table/uws-JobsTable/stream/2026-11-24T00:00:00.000"
    )
    return as_lambda_sends([record], arn)


OTHER_EVENTS = {
    "worker-sqs": worker_event,
    "reaper-scheduled": reaper_event,
    "events-stream": stream_event,
}


def main() -> None:
    folder = ROOT / "events"
    folder.mkdir(exist_ok=True)
    for name in CASES:
        path = Path(folder, f"{name}.json")
        path.write_text(json.dumps(build(name), indent=2, sort_keys=True) + "\n")
    for name, make in OTHER_EVENTS.items():
        Path(folder, f"{name}.json").write_text(json.dumps(make(), indent=2, sort_keys=True) + "\n")
    print(f"wrote {len(CASES) + len(OTHER_EVENTS)} events to {folder}")


if __name__ == "__main__":
    main()
