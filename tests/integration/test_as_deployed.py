"""The handlers with events, limits and identities as AWS has them (docs/aws.md lists them).

moto and an in-process call forgive what API Gateway, Lambda and DynamoDB do not: these tests
send the event shapes API Gateway sends behind every kind of endpoint, route what API Gateway
would route to the catch-all, and hold bodies, responses, item sizes and Limits to AWS's rules.
"""

from __future__ import annotations

import urllib.parse

import pytest
from lxml import etree

from local.events import Mount
from tests.conftest import UWS, set_item, text_of, unchanged
from tests.integration.test_worker import run, use_run

EXECUTE_API = "abc123defg.execute-api.eu-west-1.amazonaws.com"
MOUNTS = {
    "execute-api host with its stage": (Mount.execute_api(EXECUTE_API, "uws"), f"https://{EXECUTE_API}/uws"),
    "edge-optimized, behind CloudFront": (Mount.execute_api(EXECUTE_API, "prod", edge=True), f"https://{EXECUTE_API}/prod"),
    "custom domain at its root": (Mount.custom_domain("data.example.org"), "https://data.example.org"),
    "custom domain, base path /tap": (Mount.custom_domain("data.example.org", "/tap"), "https://data.example.org/tap"),
    "custom domain, base path /v1/tap": (Mount.custom_domain("data.example.org", "/v1/tap"), "https://data.example.org/v1/tap"),
}  # fmt: skip


def call(api, mount, method, path, **kwargs):
    return api.invoke(*api.event(method, path, mount=mount, **kwargs))


@pytest.mark.parametrize("mount, base", MOUNTS.values(), ids=MOUNTS.keys())
def test_every_location_and_href_stays_under_the_public_base(api, mount, base):
    created = call(api, mount, "POST", "/async", data={"TEXT": "x", "RUNID": "r"})
    assert created.status == 303 and created.location.startswith(f"{base}/async/")
    job_id = created.location.rsplit("/", 1)[1]
    phase = call(api, mount, "POST", f"/async/{job_id}/phase", data={"PHASE": "RUN"})
    assert phase.location == f"{base}/async/{job_id}"
    api.work()
    root = api.validate(call(api, mount, "GET", f"/async/{job_id}").body)
    hrefs = [
        e.get(f"{{{UWS['xlink']}}}href") for e in root.iter() if e.get(f"{{{UWS['xlink']}}}href")
    ]
    assert hrefs == [f"{base}/async/{job_id}/results/result"]
    listing = api.validate(call(api, mount, "GET", "/async").body)
    assert (
        listing.find("uws:jobref", UWS).get(f"{{{UWS['xlink']}}}href") == f"{base}/async/{job_id}"
    )
    assert call(api, mount, "DELETE", f"/async/{job_id}").location == f"{base}/async"


# ---- what API Gateway would not route without the catch-all ---------------------------------


@pytest.mark.parametrize("method", ["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"])
@pytest.mark.parametrize(
    "path, says",
    [
        ("/async/{job}/nosuchthing", "Jobs have no resource 'nosuchthing'."),
        ("/async/{job}/results/a/b", "Jobs have no resource 'results/a/b'."),
        ("/async/{job}/phase/extra", "Jobs have no resource 'phase/extra'."),
        ("/", "There is no resource at this path; the job list is at https://abc123.execute-api.us-east-1.amazonaws.com/uws/async."),
        ("/async/", "There is no resource at this path; the job list is at https://abc123.execute-api.us-east-1.amazonaws.com/uws/async."),
        ("/tap/sync", "There is no resource at this path; the job list is at https://abc123.execute-api.us-east-1.amazonaws.com/uws/async."),
    ],
)  # fmt: skip
def test_paths_no_uws_resource_takes_are_404_with_a_sentence(api, method, path, says):
    job_id = api.create()
    with unchanged(api, job_id):
        reply = api.request(
            method,
            path.format(job=job_id),
            data={"PHASE": "RUN"},
            headers={"Content-Type": "application/json"},
        )
    assert (reply.status, reply.content_type, reply.body) == (
        404,
        "text/plain; charset=utf-8",
        says,
    )


# ---- payloads: what reaches a function, what a function may answer ---------------------------


def test_a_body_over_what_always_reaches_the_function_is_413_and_changes_nothing(api):
    from uws.config import MAX_BODY_BYTES

    job_id = api.create()
    body = b"TEXT=" + b"x" * MAX_BODY_BYTES  # 4 MiB and 5 bytes: reaches Lambda (< 6 MB)
    with unchanged(api, job_id):
        reply = api.request("POST", f"/async/{job_id}/parameters", body=body,
                            headers={"Content-Type": "application/x-www-form-urlencoded"})  # fmt: skip
    assert reply.status == 413
    assert reply.body == f"The request body is over the limit of {MAX_BODY_BYTES} bytes."


def test_a_binary_body_at_the_limit_still_fits_lambdas_event_in_base64(api):
    """A 4 MiB upload arrives base64-encoded (a third larger) with headers and context: the
    event must still be under Lambda's 6 MB, or the client would get API Gateway's 5xx."""
    from uws.config import MAX_BODY_BYTES

    from local.gateway import over_lambda_payload

    boundary = "b0undary"
    part = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"UPLOAD\"; filename=\"f\"\r\n"
            "Content-Type: application/octet-stream\r\n\r\n").encode()  # fmt: skip
    tail = f"\r\n--{boundary}--\r\n".encode()
    body = part + b"\0" * (MAX_BODY_BYTES - len(part) - len(tail)) + tail
    headers = {"Content-Type": f"multipart/form-data; boundary={boundary}", "X-Pad": "p" * 8000}
    _, event = api.event("POST", "/async", body=body, headers=headers)
    assert event["isBase64Encoded"] and not over_lambda_payload(event, len(event["body"]))


def test_the_job_list_comes_in_pages_each_linking_the_next(api, monkeypatch):
    from uws.config import settings

    monkeypatch.setenv("JOB_LIST_PAGE_SIZE", "3")
    settings.cache_clear()
    created = [api.create(owner="pat") for _ in range(7)]
    seen, query, pages = [], {}, 0
    while True:
        reply = api.request("GET", "/async", owner="pat", query=query)
        root = api.validate(reply.body)
        seen += [ref.get("id") for ref in root.findall("uws:jobref", UWS)]
        pages += 1
        if "Link" not in reply.headers:
            break
        link = reply.headers["Link"]
        assert link.startswith(f"<{api_base(api)}/async?") and link.endswith('>; rel="next"')
        query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(link[1:].split(">")[0]).query))
    assert pages == 3 and seen == created[::-1]


def api_base(api):
    from tests.conftest import BASE

    return BASE


def test_pages_keep_the_filters_and_last_counts_across_them(api, monkeypatch):
    from uws.config import settings

    monkeypatch.setenv("JOB_LIST_PAGE_SIZE", "2")
    settings.cache_clear()
    jobs = [api.create(owner="pat") for _ in range(6)]
    for job_id in jobs[:5]:
        api.request("POST", f"/async/{job_id}/phase", data={"PHASE": "ABORT"}, owner="pat")
    reply = api.request("GET", "/async", owner="pat", query={"PHASE": "ABORTED", "LAST": "3"})
    first = [r.get("id") for r in api.validate(reply.body).findall("uws:jobref", UWS)]
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(reply.headers["Link"][1:-13]).query)
    assert query["PHASE"] == ["ABORTED"] and query["LAST"] == ["1"]
    reply = api.request("GET", "/async", owner="pat", query={k: v[0] for k, v in query.items()})
    second = [r.get("id") for r in api.validate(reply.body).findall("uws:jobref", UWS)]
    assert first + second == jobs[:5][::-1][:3] and "Link" not in reply.headers


@pytest.mark.parametrize(
    "cursor", ["", "junk", "%%%", "YWJj", "MjAyNi0wMS0wMVQwMDowMDowMCBub3RhbmlkIQ"]
)
def test_a_cursor_we_did_not_hand_out_is_400(api, cursor):
    reply = api.request("GET", "/async", query={"CURSOR": cursor})
    assert reply.status == 400 and reply.body == "CURSOR is not one this service handed out."


def test_a_cursor_cannot_reach_another_owners_jobs(api, monkeypatch):
    from uws.config import settings

    monkeypatch.setenv("JOB_LIST_PAGE_SIZE", "1")
    settings.cache_clear()
    api.create(owner="ann"), api.create(owner="ann")
    link = api.request("GET", "/async", owner="ann").headers["Link"]
    cursor = urllib.parse.parse_qs(urllib.parse.urlsplit(link[1:-13]).query)["CURSOR"][0]
    reply = api.request("GET", "/async", owner="bob", query={"CURSOR": cursor})
    assert api.validate(reply.body).findall("uws:jobref", UWS) == []


def test_a_job_list_too_large_for_lambda_comes_in_smaller_pages(api, monkeypatch):
    """Whatever the ids and URLs, a page is cut to fit Lambda's response limit."""
    from uws.web import http

    ids = [api.create() for _ in range(8)]
    whole = len(api.request("GET", "/async").body)
    monkeypatch.setattr(http, "RESPONSE_BUDGET", whole // 2)
    reply = api.request("GET", "/async")
    shown = [r.get("id") for r in api.validate(reply.body).findall("uws:jobref", UWS)]
    assert 1 <= len(shown) < 8 and shown == ids[::-1][: len(shown)]
    assert 'rel="next"' in reply.headers["Link"]


def test_any_other_answer_over_lambdas_limit_is_a_sentence_not_a_bare_5xx(api, monkeypatch):
    from uws.web import http

    job_id = api.create()
    monkeypatch.setattr(http, "RESPONSE_BUDGET", 100)
    reply = api.request("GET", f"/async/{job_id}")
    assert reply.status == 500
    assert reply.body == "The answer would be larger than this service can send."


# ---- DynamoDB's rules --------------------------------------------------------------------------


@pytest.mark.parametrize("last", ["99999999999", "2147483648", "999999999999999999"])
def test_last_beyond_dynamodbs_32_bit_limit_is_clamped(api, last):
    """DynamoDB refuses a Limit over 2**31-1 (local.moto_fixes imposes that on moto)."""
    job_id = api.create()
    reply = api.request("GET", "/async", query={"LAST": last})
    assert reply.status == 200
    assert [r.get("id") for r in api.validate(reply.body).findall("uws:jobref", UWS)] == [job_id]


def test_moto_refuses_a_limit_as_dynamodb_does(api):
    import boto3
    from botocore.exceptions import ClientError

    with pytest.raises(ClientError, match="SerializationException"):
        boto3.client("dynamodb").query(
            TableName=api.refs["JobsTable"], IndexName="byOwner", Limit=2**31,
            KeyConditionExpression="ownerKey = :o", ExpressionAttributeValues={":o": {"S": "x"}},
        )  # fmt: skip


NASTY = "bad \x00\x01\x1b[31m \ud800 \ufffe end"


def error_job(api, monkeypatch, fn, **params):
    use_run(monkeypatch, fn)
    job_id = run(api, NAME="n", **params)
    api.work()
    reply = api.request("GET", f"/async/{job_id}")
    assert reply.status == 200
    return job_id, api.validate(reply.body)


def test_an_exception_with_any_text_leaves_a_servable_bounded_job(testing_type, monkeypatch):
    def broken(ctx):
        raise RuntimeError(NASTY * 10_000)  # 250 KB of message, control characters in it

    job_id, root = error_job(testing_type, monkeypatch, broken)
    message = text_of(root, "uws:errorSummary/uws:message")
    assert text_of(root, "uws:phase") == "ERROR"
    assert message.startswith("RuntimeError: bad \ufffd\ufffd\ufffd[31m \ufffd \ufffd end")
    assert len(message) == 1000 and message.endswith("…")
    assert testing_type.request("GET", f"/async/{job_id}/error").body == message


def test_jobfailed_text_with_control_characters_is_shown_cleaned(testing_type, monkeypatch):
    from uws.worker import JobFailed

    def failing(ctx):
        raise JobFailed(NASTY)

    _, root = error_job(testing_type, monkeypatch, failing)
    assert (
        text_of(root, "uws:errorSummary/uws:message")
        == "bad \ufffd\ufffd\ufffd[31m \ufffd \ufffd end"
    )


def test_progress_is_bounded_cleaned_and_never_fails_the_job(testing_type, monkeypatch):
    def chatty(ctx):
        ctx.progress(step=NASTY, huge="y" * 100_000)
        ctx.progress(**{f"k{i}": str(i) for i in range(100)})
        ctx.progress(**{"bad name": "x", "ok": "fine"})
        raise RuntimeError("stop here, with the progress kept")

    _, root = error_job(testing_type, monkeypatch, chatty)
    info = {e.get("id"): e.text for e in root.findall("uws:jobInfo/uws:info", UWS)}
    assert len(info) == 32 and "bad name" not in info
    assert info["step"] == "bad \ufffd\ufffd\ufffd[31m \ufffd \ufffd end"
    assert len(info["huge"]) == 1000


def test_an_outcome_too_large_for_the_item_still_ends_the_job(testing_type, monkeypatch):
    """Parameters fill most of the 400 KB item; the traceback would push it over: the job
    still leaves EXECUTING, in ERROR, with a short message."""

    def chatty(ctx):
        ctx.progress(**{f"k{i}": "i" * 1000 for i in range(20)})  # 20 KB: still fits
        raise RuntimeError("z" * 1000)  # but not with the error summary on top

    big = {f"P{i}": "p" * 64_000 for i in range(6)}  # 384 KB of parameters
    job_id, root = error_job(testing_type, monkeypatch, chatty, **big)
    assert text_of(root, "uws:phase") == "ERROR"
    assert text_of(root, "uws:errorSummary/uws:message") == (
        "The job ended, but its outcome was too large to record."
    )
    assert "deadline" not in testing_type.item(job_id)


@pytest.mark.parametrize("name", ["../x", "a b", "", "x" * 65, "résultat", "a/b"])
def test_result_names_must_be_safe(testing_type, monkeypatch, name):
    def writes(ctx):
        ctx.write_result(name, b"x")

    _, root = error_job(testing_type, monkeypatch, writes)
    assert text_of(root, "uws:phase") == "ERROR"
    assert "result names are" in text_of(root, "uws:errorSummary/uws:message")


def test_an_old_item_with_control_characters_is_still_served(api):
    """A job recorded before these rules (or by another writer) still yields valid XML."""
    job_id = api.create()
    stored = NASTY.replace("\ud800", "")  # DynamoDB keeps UTF-8: no lone surrogates
    summary = {"type": "fatal", "message": stored, "hasDetail": False}
    set_item(api, job_id, phase="ERROR", errorSummary=summary, jobInfo={"k": "\x00"})
    root = api.job(job_id)
    shown = text_of(root, "uws:errorSummary/uws:message")
    assert shown == "bad \ufffd\ufffd\ufffd[31m  \ufffd end"
    assert etree.tostring(root)


# ---- what an external validator (STILTS taplint) posts -----------------------------------------


@pytest.mark.parametrize("name", ["runId", "RUNID", "runid"])
def test_runid_posted_to_parameters_sets_the_jobs_runid(api, name):
    job_id = api.create(RUNID="first")
    reply = api.request(
        "POST", f"/async/{job_id}/parameters", data={name: "TAPLINT-002", "TEXT": "t"}
    )
    assert reply.status == 303
    root = api.job(job_id)
    assert text_of(root, "uws:runId") == "TAPLINT-002"
    assert [p.get("id") for p in root.findall("uws:parameters/uws:parameter", UWS)] == ["TEXT"]


def test_runid_on_parameters_follows_the_parameters_rules(api):
    job_id = api.create()
    with unchanged(api, job_id):
        assert (
            api.request("POST", f"/async/{job_id}/parameters", data={"RUNID": "x" * 65}).status
            == 400
        )
        assert (
            api.request("POST", f"/async/{job_id}/parameters", data={"RUNID": "a\x00"}).status
            == 400
        )
    api.request("POST", f"/async/{job_id}/phase", data={"PHASE": "ABORT"})
    with unchanged(api, job_id):
        reply = api.request("POST", f"/async/{job_id}/parameters", data={"RUNID": "late"})
    assert reply.status == 403
