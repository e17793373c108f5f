"""{job}: the job document, blocking WAIT, DELETE and POST ACTION=DELETE."""

import threading
import time

import pytest

from local.iam import every_layer_client
from tests.conftest import BASE, UWS, set_item, text_of, unchanged

XSI_NIL = "{http://www.w3.org/2001/XMLSchema-instance}nil"


def test_job_document_has_every_element_in_schema_order(api):
    job_id = api.create(TEXT="t", RUNID="run")
    reply = api.request("GET", f"/async/{job_id}")
    assert reply.status == 200
    assert reply.content_type == "text/xml; charset=utf-8"
    root = api.validate(reply.body)
    assert root.get("version") == "1.1"
    tags = [child.tag.split("}")[1] for child in root]
    assert tags == [
        "jobId", "runId", "ownerId", "phase", "quote", "creationTime", "startTime", "endTime",
        "executionDuration", "destruction", "parameters", "results",
    ]  # fmt: skip
    for nil in ("ownerId", "quote", "startTime", "endTime"):
        assert root.find(f"uws:{nil}", UWS).get(XSI_NIL) == "true"


def test_owned_job_shows_its_owner(api):
    root = api.job(api.create(owner="alice"), owner="alice")
    assert text_of(root, "uws:ownerId") == "alice"


def test_error_summary_and_results_appear_in_the_document(api):
    job_id = api.create()
    set_item(
        api,
        job_id,
        phase="ERROR",
        errorSummary={"type": "fatal", "message": "it broke", "hasDetail": True},
        results=[
            {
                "id": "result",
                "key": f"jobs/{job_id}/results/result",
                "mimeType": "text/plain",
                "size": 3,
            }
        ],
    )
    root = api.job(job_id)
    summary = root.find("uws:errorSummary", UWS)
    assert summary.get("type") == "fatal" and summary.get("hasDetail") == "true"
    assert text_of(summary, "uws:message") == "it broke"
    result = root.find("uws:results/uws:result", UWS)
    assert (
        result.get("{http://www.w3.org/1999/xlink}href") == f"{BASE}/async/{job_id}/results/result"
    )
    assert result.get("size") == "3" and result.get("mime-type") == "text/plain"


@pytest.mark.parametrize(
    "job_id", ["nope", "x" * 500, "..%2F..%2Fetc%2Fpasswd", "%00" * 22, "a" * 21 + "!"]
)
def test_malformed_ids_are_404_without_touching_dynamodb(api, job_id):
    calls = []

    for client in every_layer_client("dynamodb"):
        client.meta.events.register("before-call.dynamodb", lambda **kw: calls.append(kw))
    for method in ("GET", "DELETE"):
        reply = api.request(method, f"/async/{job_id}")
        assert reply.status == 404
    assert calls == []


def test_unknown_id_is_404(api):
    assert api.request("GET", "/async/" + "A" * 22).status == 404


def test_job_past_destruction_is_404_everywhere(api):
    job_id = api.create()
    set_item(api, job_id, destruction="2001-01-01T00:00:00.000000Z")
    for path in ("", "/phase", "/parameters", "/results", "/owner", "/quote", "/destruction"):
        assert api.request("GET", f"/async/{job_id}{path}").status == 404
    with unchanged(api, job_id):
        assert api.request("POST", f"/async/{job_id}/phase", data={"PHASE": "RUN"}).status == 404
        assert api.request("DELETE", f"/async/{job_id}").status == 404


def test_delete_removes_item_and_files_and_redirects_to_the_list(testing_type):
    """The files the job lists (an upload, a result) go with it, and no other job's."""
    from tests.integration.test_children import multipart

    api = testing_type
    body, headers = multipart({"NAME": "n", "PHASE": "RUN"}, {"UPLOAD": ("a", b"x", "text/plain")})
    job_id = api.request("POST", "/async", body=body, headers=headers).location.rsplit("/", 1)[1]
    other = api.create(NAME="o", PHASE="RUN")
    api.work()
    assert len(api.objects(job_id)) == 2 and len(api.objects(other)) == 1
    reply = api.request("DELETE", f"/async/{job_id}")
    assert reply.status == 303 and reply.location == f"{BASE}/async"
    assert api.item(job_id) is None and api.objects(job_id) == []
    assert api.request("GET", f"/async/{job_id}").status == 404
    assert api.objects(other) == [f"jobs/{other}/results/result"]


def test_post_action_delete_deletes(api):
    job_id = api.create()
    reply = api.request("POST", f"/async/{job_id}", data={"ACTION": "DELETE"})
    assert reply.status == 303 and reply.location == f"{BASE}/async"
    assert api.item(job_id) is None


@pytest.mark.parametrize(
    "data",
    [
        {},
        {"ACTION": "delete"},
        {"ACTION": "RUN"},
        {"PHASE": "RUN"},
        {"ACTION": "DELETE", "TEXT": "x"},
    ],
)
def test_other_posts_to_a_job_are_400_and_change_nothing(api, data):
    job_id = api.create()
    with unchanged(api, job_id):
        reply = api.request("POST", f"/async/{job_id}", data=data)
    assert reply.status == 400
    assert reply.content_type == "text/plain; charset=utf-8"


@pytest.mark.parametrize("method", ["PUT", "PATCH"])
def test_other_methods_are_405(api, method):
    reply = api.request(method, f"/async/{api.create()}")
    assert reply.status == 405 and reply.headers["Allow"] == "GET, POST, DELETE"


def test_head_answers_as_get_so_the_front_end_can_send_its_length(api):
    """The function answers HEAD with the GET's body; API Gateway (and the local runtime)
    send only the headers, Content-Length that of the GET (RFC 9110, 9.3.2)."""
    job_id = api.create()
    head = api.request("HEAD", f"/async/{job_id}")
    get = api.request("GET", f"/async/{job_id}")
    assert head.status == 200 and head.body == get.body and head.content_type == get.content_type


# ---- WAIT -----------------------------------------------------------------------------------


def test_wait_on_a_finished_job_answers_at_once(api):
    job_id = api.create()
    api.request("POST", f"/async/{job_id}/phase", data={"PHASE": "ABORT"})
    start = time.monotonic()
    assert text_of(api.job(job_id, WAIT="10"), "uws:phase") == "ABORTED"
    assert time.monotonic() - start < 1


def test_wait_returns_soon_after_a_phase_change(api):
    job_id = api.create()
    changed_at = []

    def abort_later():
        time.sleep(0.6)
        api.request("POST", f"/async/{job_id}/phase", data={"PHASE": "ABORT"})
        changed_at.append(time.monotonic())

    thread = threading.Thread(target=abort_later)
    thread.start()
    root = api.job(job_id, WAIT="10")
    returned = time.monotonic()
    thread.join()
    assert text_of(root, "uws:phase") == "ABORTED"
    assert returned - changed_at[0] < 0.6


def test_a_wait_that_sees_a_job_start_answers_its_end_if_it_comes_within_half_a_second(api):
    """QUEUED → EXECUTING, and COMPLETED 0.2 s later: one WAIT answers COMPLETED (a client
    answered EXECUTING would wait again: pyvo after a sleep of a second)."""
    from uws.isodt import utcnow
    from uws.job import SYSTEM
    from uws.service import build_service

    job_id = api.create()
    api.request("POST", f"/async/{job_id}/phase", data={"PHASE": "RUN"})
    store, ended = build_service().store, []

    def run_briefly(seconds: float) -> None:
        time.sleep(0.3)
        now = utcnow()
        store.mark_executing(job_id, now, store.load(job_id, SYSTEM, now).execution_duration)
        time.sleep(seconds)
        store.mark_completed(job_id, utcnow())
        ended.append(time.monotonic())

    thread = threading.Thread(target=run_briefly, args=(0.2,))
    thread.start()
    root = api.job(job_id, WAIT="10")
    returned = time.monotonic()
    thread.join()
    assert text_of(root, "uws:phase") == "COMPLETED" and returned - ended[0] < 0.3


def test_wait_with_another_phase_answers_at_once(api):
    job_id = api.create()
    start = time.monotonic()
    assert text_of(api.job(job_id, WAIT="10", PHASE="EXECUTING"), "uws:phase") == "PENDING"
    assert time.monotonic() - start < 1


def test_wait_times_out_and_is_capped(api, monkeypatch):
    from uws.config import settings

    monkeypatch.setenv("WAIT_CAP_SECONDS", "1")
    settings.cache_clear()
    job_id = api.create()
    for wait in ("-1", "3600"):
        start = time.monotonic()
        assert text_of(api.job(job_id, WAIT=wait), "uws:phase") == "PENDING"
        assert 0.9 < time.monotonic() - start < 2


def test_wait_polls_with_backoff(api, monkeypatch):
    from uws.config import settings

    monkeypatch.setenv("WAIT_CAP_SECONDS", "3")
    settings.cache_clear()
    job_id = api.create()
    reads = []
    for client in every_layer_client("dynamodb"):
        client.meta.events.register("before-call.dynamodb.GetItem", lambda **kw: reads.append(1))
    api.job(job_id, WAIT="3")
    # the first read, then one after each pause: 10, 20, 40, 80, 160, 320 ms, then 0.5 s
    # five times (3.13 s); each read takes a little of the time, so one or two fewer
    assert 10 <= len(reads) <= 12


@pytest.mark.parametrize(
    "query", [{"WAIT": "soon"}, {"WAIT": "-2"}, {"WAIT": "1.5"}, {"WAIT": "10", "PHASE": "run"}]
)
def test_bad_wait_is_400(api, query):
    assert api.request("GET", f"/async/{api.create()}", query=query).status == 400


def test_job_reads_are_strongly_consistent(api):
    """Clients GET right after every 303: an eventually consistent read could show the old state."""

    job_id = api.create()
    reads = []
    for client in every_layer_client("dynamodb"):
        client.meta.events.register(
            "provide-client-params.dynamodb.GetItem", lambda params, **kw: reads.append(params)
        )
    for child in ("", "/phase", "/parameters", "/results", "/destruction"):
        api.request("GET", f"/async/{job_id}{child}")
    assert len(reads) == 5 and all(r["ConsistentRead"] is True for r in reads)
