"""Hostile input on every route and method: never a 5xx, every refusal a clear 4xx in
text/plain that changes nothing (item and S3 objects), every acceptance schema-valid.

A table-driven corpus, counted in CORPUS_SIZE and reported in the README; the property-based
fuzzing is in test_fuzz.py.
"""

from __future__ import annotations

import itertools

import pytest

from local.inprocess import in_process_aws
from tests.conftest import Api

JOB = "{job}"

# Values no parameter should choke on.
NASTY_VALUES = [
    "", " ", "\x00", "a\x00b", "\x1b[31mred", "\x7f", "\x0b\x0c", "<", ">", "&", "<![CDATA[x]]>",
    "]]>", "&amp;", "<script>alert(1)</script>", "' OR 1=1 --", "${jndi:ldap://x}", "%s%s%n",
    "../../etc/passwd", "..%2F..%2F", "\\\\server\\share", "ÄÖÜ ß", "😀👍🏽", "\u202eRTL", "e\u0301",
    "\ufeffBOM", "\uffff", "\ufffe", "x" * 70000, "９", "٥", "1e309", "-0", "+5", "NaN",
    "Infinity", "99999999999999999999999999", "9" * 5000, "0x10", "1_000", "true", "null",
]  # fmt: skip

DATES = [
    "", "junk", "2024", "2024-13-01T00:00:00Z", "2024-02-30T00:00:00Z", "2024-01-01T25:00:00Z",
    "2024-01-01T10:61:00Z", "2024-01-01T10:00", "2024-01-01T10:00:00+05:00", "2024-01-01 10:00:00",
    "10000-01-01T00:00:00Z", "0000-00-00T00:00:00Z", "-2024-01-01T00:00:00Z", "2024-01-01T10:00:00.Z",
    "2024-01-01T10:00:00ZZ", "２０２４-01-01T00:00:00Z", "2024-01-01T10:00:00.123+00:00x", "\x00",
    "9999-12-31T23:59:59Z", "0001-01-01T00:00:00Z", "2024-01-01T10:00:00.%sZ" % ("9" * 100),
]  # fmt: skip

BODIES = [  # raw form bodies, however broken
    b"%", b"%zz", b"%E0%A4%A", b"&&&", b"=", b"==x", b"a" * 5000, b"PHASE", b"PHASE=%00",
    b"PHASE=RUN&PHASE=RUN", b"\xff\xfe", b"PHASE=\xc3\x28", b"A=%ED%A0%80", b"\x00\x00",
    b"&".join(b"k%d=v" % i for i in range(1200)), b"PHASE=RUN;ABORT", b"phase=ABORT",
]  # fmt: skip

CONTENT_TYPES = [
    "application/json", "text/xml", "text/plain", "application/octet-stream",
    "multipart/form-data", "multipart/form-data; boundary=", "multipart/form-data; boundary=xyz",
    "application/x-www-form-urlencoded; charset=latin-1", "image/png", "../../",
]  # fmt: skip

PATHS = [
    "/async/" + "A" * 5000, "/async/..%2F..%2Fetc", "/async/%00%00", "/async/" + "é" * 22,
    f"/async/{JOB}/results/" + "r" * 5000, f"/async/{JOB}/results/..%2F..%2Fother",
    f"/async/{JOB}/results/%00", f"/async/{JOB}/parameters/" + "p" * 5000,
    f"/async/{JOB}/parameters/..%2F", f"/async/{JOB}/parameters/%00",
]  # fmt: skip

CHANGE_ROUTES = [
    ("POST", f"/async/{JOB}/phase", "PHASE"),
    ("POST", f"/async/{JOB}/executionduration", "EXECUTIONDURATION"),
    ("POST", f"/async/{JOB}/destruction", "DESTRUCTION"),
    ("POST", f"/async/{JOB}/parameters", "TEXT"),
    ("POST", f"/async/{JOB}/parameters", "DURATION"),
    ("POST", f"/async/{JOB}/parameters", "NOT-DECLARED"),
    ("POST", f"/async/{JOB}", "ACTION"),
]
READ_ROUTES = [
    ("GET", f"/async/{JOB}", "WAIT"),
    ("GET", f"/async/{JOB}", "PHASE"),
    ("GET", "/async", "LAST"),
    ("GET", "/async", "AFTER"),
    ("GET", "/async", "PHASE"),
]


def corpus() -> list[tuple[str, str, dict]]:
    cases: list[tuple[str, str, dict]] = []
    for (method, path, name), value in itertools.product(CHANGE_ROUTES, NASTY_VALUES):
        cases.append((method, path, {"data": {name: value}}))
    for (method, path, name), value in itertools.product(READ_ROUTES, NASTY_VALUES[:30]):
        cases.append((method, path, {"query": {name: value}}))
    for value in DATES:
        cases.append(("POST", f"/async/{JOB}/destruction", {"data": {"DESTRUCTION": value}}))
        cases.append(("GET", "/async", {"query": {"AFTER": value}}))
    for path, body in itertools.product(
        [f"/async/{JOB}/phase", f"/async/{JOB}/parameters", "/async"], BODIES
    ):
        cases.append(
            (
                "POST",
                path,
                {"body": body, "headers": {"Content-Type": "application/x-www-form-urlencoded"}},
            )
        )
    for path, kind in itertools.product([f"/async/{JOB}/parameters", "/async"], CONTENT_TYPES):
        cases.append(("POST", path, {"body": b'{"TEXT": "x"}', "headers": {"Content-Type": kind}}))
    for path in PATHS:
        for method in ("GET", "POST", "DELETE"):
            cases.append((method, path, {}))
    for method in ("PUT", "PATCH", "OPTIONS", "TRACE", "CONNECT"):
        cases.append((method, f"/async/{JOB}", {}))
        cases.append((method, "/async", {}))
    cases.append(
        ("POST", "/async", {"data": {"TEXT": "too big"}, "body": b"TEXT=" + b"x" * 70_000})
    )
    return cases


CASES = corpus()
CORPUS_SIZE = len(CASES)


@pytest.fixture(scope="module")
def shared_api(uws_schema):
    """One moto for the whole corpus: every case works on a job of its own."""
    with in_process_aws(env={"POWERTOOLS_LOG_LEVEL": "WARNING"}) as refs:
        yield Api(refs, uws_schema)


def test_the_corpus_is_large_enough():
    assert CORPUS_SIZE >= 300


@pytest.mark.parametrize("case", range(CORPUS_SIZE))
def test_hostile_request(shared_api, case):
    api = shared_api
    method, path, kwargs = CASES[case]
    job_id = api.create(TEXT="original", RUNID="r")
    target = path.replace(JOB, job_id)
    before_item, before_objects = api.item(job_id), api.objects(job_id)
    reply = api.request(method, target, **kwargs)  # XML answers are validated by api.request
    assert reply.status < 500, (reply.status, reply.body)
    if reply.status >= 400:
        assert reply.headers["Content-Type"] == "text/plain; charset=utf-8"
        assert reply.body and len(reply.body) < 400, reply.body
        assert (api.item(job_id), api.objects(job_id)) == (before_item, before_objects)
    else:  # accepted: whatever was stored, the job's document is still valid UWS
        assert api.request("GET", f"/async/{job_id}").status in (200, 404)  # 404: destroyed
