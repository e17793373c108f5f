"""/async: creating jobs and listing the caller's jobs (docs/uws.md, "Job list")."""

import json

import boto3
import pytest

from local.iam import every_layer_client
from tests.conftest import BASE, UWS, queued_messages, text_of


def jobrefs(api, owner=None, **query):
    reply = api.request("GET", "/async", owner=owner, query=query)
    assert reply.status == 200, reply.body
    assert reply.content_type.startswith("text/xml")
    root = api.validate(reply.body)
    assert root.get("version") == "1.1"
    return root.findall("uws:jobref", UWS)


def ids(refs):
    return [r.get("id") for r in refs]


def table_size(api):
    return boto3.client("dynamodb").scan(TableName=api.refs["JobsTable"], Select="COUNT")["Count"]


def test_create_redirects_to_the_new_job_with_an_absolute_location(api):
    reply = api.request("POST", "/async", data={"TEXT": "x"})
    assert reply.status == 303
    job_id = reply.location.removeprefix(f"{BASE}/async/")
    assert len(job_id) == 22 and "/" not in job_id
    root = api.job(job_id)
    assert text_of(root, "uws:phase") == "PENDING"
    assert text_of(root, "uws:jobId") == job_id


def test_job_ids_are_unguessable_and_distinct(api):
    made = {api.create() for _ in range(20)}
    assert len(made) == 20


def test_new_job_has_the_defaults(api):
    root = api.job(api.create())
    assert text_of(root, "uws:executionDuration") == "600"
    created = text_of(root, "uws:creationTime")
    destruction = text_of(root, "uws:destruction")
    assert created.endswith("Z") and destruction.endswith("Z")
    from uws.isodt import parseISODT

    assert (parseISODT(destruction) - parseISODT(created)).days == 7
    assert (
        root.find("uws:ownerId", UWS).get("{http://www.w3.org/2001/XMLSchema-instance}nil")
        == "true"
    )


def test_parameter_names_are_case_insensitive_and_values_kept_exactly(api):
    value = "<&>\"' ünïcödé ☃ 𝄞 \t line\nbreak"
    root = api.job(api.create(text=value, Duration="0.5"))
    params = {p.get("id"): p.text for p in root.findall("uws:parameters/uws:parameter", UWS)}
    assert params == {"TEXT": value, "DURATION": "0.5"}


def test_runid_is_echoed(api):
    root = api.job(api.create(RUNID="my run"))
    assert text_of(root, "uws:runId") == "my run"


@pytest.mark.parametrize(
    "params, message",
    [
        ({"NOPE": "1"}, "Unknown parameter"),
        ({"DURATION": "soon"}, "DURATION"),
        ({"DURATION": "-1"}, "DURATION"),
        ({"DURATION": "nan"}, "DURATION"),
        ({"TEXT": ["a", "b"]}, "TEXT"),
        ({"RUNID": "x" * 65}, "RUNID"),
        ({"RUNID": ["a", "b"]}, "RUNID"),
        ({"PHASE": "ABORT"}, "PHASE"),
        ({"PHASE": "run"}, "PHASE"),
        ({"EXECUTIONDURATION": "-5"}, "EXECUTIONDURATION"),
        ({"EXECUTIONDURATION": "ten"}, "EXECUTIONDURATION"),
        ({"DESTRUCTION": "tomorrow"}, "DESTRUCTION"),
        ({"DESTRUCTION": "1989-02-05T23:17:28Z"}, "DESTRUCTION is in the past"),  # a 303 to a 404
        ({"TEXT": "bell\x07"}, "TEXT"),
    ],
)
def test_bad_creation_is_a_400_and_creates_nothing(api, params, message):
    reply = api.request("POST", "/async", data=params)
    assert reply.status == 400
    assert reply.content_type == "text/plain; charset=utf-8"
    assert message in reply.body
    assert table_size(api) == 0
    assert queued_messages(api) == []


def test_creation_settings_are_clamped(api):
    root = api.job(api.create(EXECUTIONDURATION="100000", DESTRUCTION="2999-01-01T00:00:00Z"))
    assert text_of(root, "uws:executionDuration") == "43200"  # MaxExecutionDuration
    from uws.isodt import parseISODT

    span = parseISODT(text_of(root, "uws:destruction")) - parseISODT(
        text_of(root, "uws:creationTime")
    )
    assert span.days == 30


def test_phase_run_at_creation_queues_the_job_and_sends_one_message(api):
    job_id = api.create(PHASE="RUN")
    assert text_of(api.job(job_id), "uws:phase") == "QUEUED"
    expected = {"jobId": job_id, "executionDuration": 600}  # the default: the worker's deadline
    assert [json.loads(m) for m in queued_messages(api)] == [expected]


def test_missing_required_parameter_with_phase_run_is_a_400(testing_type):
    api = testing_type
    reply = api.request("POST", "/async", data={"PHASE": "RUN"})
    assert reply.status == 400 and "NAME" in reply.body
    assert table_size(api) == 0


def test_list_shows_newest_first_with_full_jobrefs(api):
    made = [api.create(RUNID=f"r{i}") for i in range(3)]
    refs = jobrefs(api)
    assert ids(refs) == made[::-1]
    ref = refs[0]
    assert ref.get("{http://www.w3.org/1999/xlink}href") == f"{BASE}/async/{made[-1]}"
    assert text_of(ref, "uws:phase") == "PENDING"
    assert text_of(ref, "uws:runId") == "r2"
    assert text_of(ref, "uws:creationTime").endswith("Z")


def test_last_gives_the_n_newest(api):
    made = [api.create() for _ in range(5)]
    assert ids(jobrefs(api, LAST="2")) == made[:-3:-1]


def test_phase_filter_is_repeatable_and_combines_with_last(api):
    pending = [api.create() for _ in range(3)]
    aborted = []
    for _ in range(2):
        job_id = api.create()
        api.request("POST", f"/async/{job_id}/phase", data={"PHASE": "ABORT"})
        aborted.append(job_id)
    assert ids(jobrefs(api, PHASE="ABORTED")) == aborted[::-1]
    assert set(ids(jobrefs(api, PHASE=["ABORTED", "PENDING"]))) == set(pending + aborted)
    assert ids(jobrefs(api, PHASE="PENDING", LAST="1")) == [pending[-1]]
    assert ids(jobrefs(api, PHASE="COMPLETED")) == []


def test_a_rare_phase_with_last_takes_few_queries(api):

    aborted = api.create()
    api.request("POST", f"/async/{aborted}/phase", data={"PHASE": "ABORT"})
    for _ in range(40):
        api.create()
    queries = []
    for client in every_layer_client("dynamodb"):
        client.meta.events.register("before-call.dynamodb.Query", lambda **kw: queries.append(1))
    assert ids(jobrefs(api, PHASE="ABORTED", LAST="1")) == [aborted]
    assert len(queries) == 1


def test_after_is_strictly_after(api):
    from uws.store import unstamp

    first = api.create()
    created = unstamp(
        boto3.client("dynamodb").get_item(
            TableName=api.refs["JobsTable"], Key={"jobId": {"S": first}}
        )["Item"]["creationTime"]["S"]
    )
    second = api.create()
    after = created.isoformat(timespec="microseconds") + "Z"
    assert ids(jobrefs(api, AFTER=after)) == [second]
    assert ids(jobrefs(api, AFTER="2000-01-01T00:00:00Z")) == [second, first]


def test_list_shows_only_the_callers_jobs(api):
    alice = api.create(owner="alice")
    bob = api.create(owner="bob")
    anonymous = api.create()
    assert ids(jobrefs(api, owner="alice")) == [alice]
    assert ids(jobrefs(api, owner="bob")) == [bob]
    assert ids(jobrefs(api)) == [anonymous]
    ref = jobrefs(api, owner="alice")[0]
    assert text_of(ref, "uws:ownerId") == "alice"


def test_list_hides_jobs_past_their_destruction(api):
    from tests.conftest import set_item

    gone = api.create()
    kept = api.create()
    set_item(api, gone, destruction="2000-01-01T00:00:00.000000Z")
    assert ids(jobrefs(api)) == [kept]


@pytest.mark.parametrize(
    "query",
    [
        {"LAST": "0"},
        {"LAST": "-3"},
        {"LAST": "many"},
        {"LAST": "1.5"},
        {"LAST": ["1", "2"]},
        {"PHASE": "pending"},
        {"PHASE": "DONE"},
        {"AFTER": "yesterday"},
        {"AFTER": "2020-01-01T10:00"},
    ],
)
def test_bad_list_filters_are_400(api, query):
    reply = api.request("GET", "/async", query=query)
    assert reply.status == 400
    assert reply.content_type == "text/plain; charset=utf-8"


@pytest.mark.parametrize("method", ["PUT", "DELETE", "PATCH"])
def test_other_methods_on_the_list_are_405_with_allow(api, method):
    reply = api.request(method, "/async")
    assert reply.status == 405
    assert reply.headers["Allow"] == "GET, POST"


def test_credentials_required_in_iam_mode(api, monkeypatch):
    from uws.config import settings

    monkeypatch.setenv("AUTH_MODE", "iam")
    settings.cache_clear()
    assert api.request("GET", "/async").status == 401
    assert api.request("POST", "/async").status == 401
    assert api.request("GET", "/async", owner="arn:aws:iam::1:user/alice").status == 200
