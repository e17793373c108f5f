"""{job}/executionduration and {job}/destruction: parsing, clamping and phase rules."""

import datetime

import pytest
from uws.isodt import parseISODT

from tests.conftest import set_item, text_of, unchanged


def get(api, job_id, name):
    reply = api.request("GET", f"/async/{job_id}/{name}")
    assert reply.status == 200 and reply.content_type == "text/plain; charset=utf-8"
    return reply.body


def post(api, job_id, name, value):
    return api.request("POST", f"/async/{job_id}/{name}", data={name.upper(): value})


@pytest.mark.parametrize(
    "value, stored",
    [
        ("120", "120"),
        (" 60 ", "60"),
        ("0", "43200"),
        ("871", "871"),
        ("7200", "7200"),
        ("43201", "43200"),
        ("10000000000000", "43200"),
    ],
)
def test_execution_duration_is_set_and_clamped(api, value, stored):
    job_id = api.create()
    assert post(api, job_id, "executionduration", value).status == 303
    assert get(api, job_id, "executionduration") == stored
    assert text_of(api.job(job_id), "uws:executionDuration") == stored


@pytest.mark.parametrize("value", ["-1", "ten", "1.5", "", "1e3", "0x10"])
def test_bad_execution_duration_is_400(api, value):
    job_id = api.create()
    with unchanged(api, job_id):
        reply = post(api, job_id, "executionduration", value)
    assert reply.status == 400 and "EXECUTIONDURATION" in reply.body


def test_execution_duration_can_change_while_queued(api):
    job_id = api.create()
    set_item(api, job_id, phase="QUEUED")
    assert post(api, job_id, "executionduration", "30").status == 303
    assert get(api, job_id, "executionduration") == "30"


@pytest.mark.parametrize("phase", ["EXECUTING", "COMPLETED", "ERROR", "ABORTED"])
def test_execution_duration_is_frozen_after_queued(api, phase):
    job_id = api.create()
    set_item(api, job_id, phase=phase)
    with unchanged(api, job_id):
        assert post(api, job_id, "executionduration", "30").status == 403


@pytest.mark.parametrize(
    "literal, expected",
    [
        ("2030-01-02T03:04:05Z", "2030-01-02T03:04:05Z"),
        ("2030-01-02T03:04:05", "2030-01-02T03:04:05Z"),
        ("2030-01-02T03:04:05.123456Z", "2030-01-02T03:04:05Z"),
        ("2030-01-02T03:04:05.987654321Z", "2030-01-02T03:04:06Z"),
        ("20300102T030405Z", "2030-01-02T03:04:05Z"),
        ("2030-01-02T03:04:05+00:00", "2030-01-02T03:04:05Z"),
        ("2030-01-02", "2030-01-02T00:00:00Z"),
        ("2030-01-02 03:04:05", "2030-01-02T03:04:05Z"),  # a space for the T, as DaCHS takes
    ],
)
def test_destruction_accepts_the_seeds_forms(api, monkeypatch, literal, expected):
    from uws.config import settings

    monkeypatch.setenv("MAX_DESTRUCTION_DAYS", "36500")
    settings.cache_clear()
    job_id = api.create()
    assert post(api, job_id, "destruction", literal).status == 303
    assert get(api, job_id, "destruction") == expected


def test_destruction_later_than_the_maximum_is_clamped(api):
    job_id = api.create()
    created = parseISODT(text_of(api.job(job_id), "uws:creationTime"))
    assert post(api, job_id, "destruction", "2999-01-01T00:00:00Z").status == 303
    assert (parseISODT(get(api, job_id, "destruction")) - created).days == 30


@pytest.mark.parametrize(
    "literal",
    ["junk", "2030-01-02T03:04", "2030-01-02T03:04:05+01:00", "2030-13-01T00:00:00Z", "2030-01-02_03:04:05",
     "99999-01-01T00:00:00Z", ""],
)  # fmt: skip
def test_bad_destruction_is_400_with_the_seeds_message(api, literal):
    job_id = api.create()
    with unchanged(api, job_id):
        reply = post(api, job_id, "destruction", literal)
    assert reply.status == 400 and reply.body.startswith("DESTRUCTION: ")


def test_junk_gets_the_seeds_exact_message(api):
    reply = post(api, api.create(), "destruction", "junk")
    assert reply.body == (
        "DESTRUCTION: Bad ISO datetime literal: junk (required format: yyyy-mm-ddThh:mm:ssZ)."
    )


@pytest.mark.parametrize("phase", ["EXECUTING", "COMPLETED", "ERROR", "ABORTED"])
def test_destruction_changes_in_any_phase(api, phase):
    job_id = api.create()
    set_item(api, job_id, phase=phase)
    soon = (datetime.datetime.now(datetime.UTC) + datetime.timedelta(days=1)).strftime(
        "%Y-%m-%dT%H:%M:%SZ"
    )
    assert post(api, job_id, "destruction", soon).status == 303
    assert get(api, job_id, "destruction") == soon


@pytest.mark.parametrize("past", ["2001-01-01T00:00:00Z", "0001-01-01T00:00:00Z"])
def test_a_past_destruction_destroys_the_job(api, past):
    job_id = api.create()
    assert post(api, job_id, "destruction", past).status == 303
    assert api.request("GET", f"/async/{job_id}").status == 404
    assert api.request("GET", "/async").body.count("jobref") == 0


@pytest.mark.parametrize("name", ["executionduration", "destruction"])
def test_other_methods_are_405(api, name):
    reply = api.request("DELETE", f"/async/{api.create()}/{name}")
    assert reply.status == 405 and reply.headers["Allow"] == "GET, POST"


@pytest.mark.parametrize(
    "child, data",
    [
        ("phase", {"PHASE": "RUN", "EXECUTIONDURATION": "60"}),
        ("executionduration", {"EXECUTIONDURATION": "60", "DESTRUCTION": "2999-01-01"}),
        ("destruction", {"DESTRUCTION": "2999-01-01", "TEXT": "x"}),
    ],
)
def test_a_settable_takes_its_own_parameter_only_and_loses_nothing(api, child, data):
    """Another parameter sent along would be dropped unseen: a 400 that names it."""
    job_id = api.create()
    with unchanged(api, job_id):
        reply = api.request("POST", f"/async/{job_id}/{child}", data=data)
    assert reply.status == 400
    other = next(name for name in data if name.lower() != child and name != "PHASE")
    assert reply.body == f"POST to {{job}}/{child} takes only {next(iter(data))}, not '{other}'."
