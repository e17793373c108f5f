"""Property-based fuzzing with hypothesis on every route, and the size limits of bodies and
parameters. Never a 5xx; every refusal a text/plain 4xx that changes nothing. The long run is
marked slow (`pytest -m slow`)."""

from __future__ import annotations

import base64

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import unchanged

JOB = "{job}"


def test_bodies_over_the_limit_are_413(api, monkeypatch):
    from uws.config import settings

    monkeypatch.setenv("MAX_BODY_BYTES", "65536")
    settings.cache_clear()
    job_id = api.create()
    with unchanged(api, job_id):
        reply = api.request("POST", f"/async/{job_id}/parameters", body=b"TEXT=" + b"x" * 70_000,
                            headers={"Content-Type": "application/x-www-form-urlencoded"})  # fmt: skip
    assert reply.status == 413
    big = base64.b64encode(b"x" * 70_000).decode()
    function, event = api.event("POST", "/async", body=b"x")
    event.update(body=big, isBase64Encoded=True)
    assert api.invoke(function, event).status == 413


def test_parameters_too_big_for_an_item_are_413_and_change_nothing(testing_type):
    api = testing_type
    job_id = api.create(NAME="n", **{f"P{i}": "x" * 60_000 for i in range(5)})  # 300 KB: fits
    with unchanged(api, job_id):
        reply = api.request("POST", f"/async/{job_id}/parameters",
                            data={f"P{i}": "y" * 60_000 for i in range(5, 10)})  # fmt: skip
    assert reply.status == 413 and "too large" in reply.body
    reply = api.request(
        "POST", "/async", data={"NAME": "n", **{f"P{i}": "z" * 60_000 for i in range(10)}}
    )
    assert reply.status == 413


# ---- property-based fuzzing ------------------------------------------------------------------

NAMES = st.sampled_from(["PHASE", "WAIT", "LAST", "AFTER", "RUNID", "TEXT", "DURATION", "FAIL",
                         "EXECUTIONDURATION", "DESTRUCTION", "ACTION", "phase", "x"]) | st.text(max_size=20)  # fmt: skip
VALUES = st.text(max_size=200) | st.sampled_from(
    ["RUN", "ABORT", "DELETE", "-1", "0", "10", "2030-01-01T00:00:00Z"]
)
ROUTES = st.sampled_from([
    ("GET", "/async"), ("POST", "/async"), ("GET", JOB), ("POST", JOB), ("DELETE", JOB),
    ("GET", JOB + "/phase"), ("POST", JOB + "/phase"), ("POST", JOB + "/executionduration"),
    ("POST", JOB + "/destruction"), ("GET", JOB + "/parameters"), ("POST", JOB + "/parameters"),
    ("GET", JOB + "/results"), ("GET", JOB + "/error"), ("PUT", JOB + "/quote"),
])  # fmt: skip


def fuzz_once(api, route, pairs, raw):
    method, template = route
    job_id = api.create(TEXT="fuzz")
    path = template.replace(JOB, f"/async/{job_id}") if template.startswith(JOB) else template
    before = (api.item(job_id), api.objects(job_id))
    if raw is not None:
        kwargs = {"body": raw, "headers": {"Content-Type": "application/x-www-form-urlencoded"}}
    elif method == "GET":
        kwargs = {"query": pairs}
    else:
        kwargs = {"data": pairs}
    if method == "GET" and any(k.upper() == "WAIT" for k, _ in pairs):
        kwargs["query"] = [(k, v) for k, v in pairs if k.upper() != "WAIT"]  # keep runs short
    reply = api.request(method, path, **kwargs)
    assert reply.status < 500, (reply.status, reply.body)
    if reply.status >= 400:
        assert reply.headers["Content-Type"] == "text/plain; charset=utf-8" and reply.body
        assert (api.item(job_id), api.objects(job_id)) == before


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    route=ROUTES,
    pairs=st.lists(st.tuples(NAMES, VALUES), max_size=4),
    raw=st.none() | st.binary(max_size=300),
)
def test_fuzzed_requests_never_fail_the_service(api, route, pairs, raw):
    fuzz_once(api, route, pairs, raw)


@pytest.mark.slow
@settings(
    max_examples=3000, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    route=ROUTES,
    pairs=st.lists(st.tuples(NAMES, VALUES), max_size=6),
    raw=st.none() | st.binary(max_size=2000),
)
def test_fuzzed_requests_long_run(api, route, pairs, raw):
    fuzz_once(api, route, pairs, raw)
