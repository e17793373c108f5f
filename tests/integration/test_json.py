"""JSON for clients that ask for it (docs/uws.md, JSON): the same facts as the XML in every job
state, XML for every other Accept, errors still text/plain."""

from __future__ import annotations

import json

import pytest
from lxml import etree

from tests.conftest import UWS, set_item

JSON = {"Accept": "application/json"}
NIL = "{http://www.w3.org/2001/XMLSchema-instance}nil"
HREF = "{http://www.w3.org/1999/xlink}href"


def nillable(root: etree._Element, tag: str) -> str | None:
    element = root.find(f"uws:{tag}", UWS)
    if element is None or element.get(NIL) == "true":
        return None
    return element.text


def parameters_of(element: etree._Element) -> list[dict]:
    return [
        {"id": p.get("id"), "byReference": p.get("byReference") == "true", "value": p.text}
        for p in element.findall("uws:parameter", UWS)
    ]


def results_of(element: etree._Element) -> list[dict]:
    return [
        {"id": r.get("id"), "href": r.get(HREF), "mime-type": r.get("mime-type"),
         "size": int(r.get("size"))}
        for r in element.findall("uws:result", UWS)
    ]  # fmt: skip


def facts_of_xml(document: str) -> dict:
    """The job document's facts in the JSON's shape, read from the XML."""
    root = etree.fromstring(document.encode())
    summary = root.find("uws:errorSummary", UWS)
    info = root.find("uws:jobInfo", UWS)
    return {
        "jobId": root.find("uws:jobId", UWS).text,
        "runId": nillable(root, "runId"),
        "ownerId": nillable(root, "ownerId"),
        "phase": root.find("uws:phase", UWS).text,
        "quote": nillable(root, "quote"),
        "creationTime": nillable(root, "creationTime"),
        "startTime": nillable(root, "startTime"),
        "endTime": nillable(root, "endTime"),
        "executionDuration": int(root.find("uws:executionDuration", UWS).text),
        "destruction": nillable(root, "destruction"),
        "parameters": parameters_of(root.find("uws:parameters", UWS)),
        "results": results_of(root.find("uws:results", UWS)),
        "errorSummary": None
        if summary is None
        else {"type": summary.get("type"), "hasDetail": summary.get("hasDetail") == "true",
              "message": summary.find("uws:message", UWS).text},
        "jobInfo": {} if info is None else {i.get("id"): i.text for i in info},
    }  # fmt: skip


def both(api, path: str, owner: str | None = None) -> tuple[str, dict]:
    xml = api.request("GET", path, owner=owner)
    reply = api.request("GET", path, owner=owner, headers=JSON)
    assert reply.status == 200 and reply.content_type == "application/json"
    assert reply.headers["Vary"] == xml.headers["Vary"] == "Accept"
    return xml.body, json.loads(reply.body)


def job_in(api, phase: str) -> str:
    if phase == "PENDING":
        return api.create(owner="alice", TEXT="t", RUNID="r1", DURATION="1")
    job_id = api.create(
        owner="alice", TEXT="t", PHASE="RUN", **({"FAIL": "no"} if phase == "ERROR" else {})
    )
    if phase in ("COMPLETED", "ERROR"):
        api.work()
    elif phase == "ABORTED":
        api.request("POST", f"/async/{job_id}/phase", data={"PHASE": "ABORT"}, owner="alice")
    elif phase == "EXECUTING":
        set_item(api, job_id, phase="EXECUTING", startTime="2030-01-01T00:00:00.000000Z",
                 jobInfo={"step": "2 of 3"})  # fmt: skip
    return job_id


@pytest.mark.parametrize(
    "phase", ["PENDING", "QUEUED", "EXECUTING", "COMPLETED", "ERROR", "ABORTED"]
)
def test_the_job_in_json_carries_the_facts_of_the_xml(api, phase):
    job_id = job_in(api, phase)
    xml, document = both(api, f"/async/{job_id}", owner="alice")
    assert document == facts_of_xml(xml)
    assert document["phase"] == phase


def test_parameters_results_and_the_list_in_json(testing_type):
    from tests.integration.test_children import multipart

    api = testing_type
    body, headers = multipart({"NAME": "n", "TAGS": "a"}, {"UPLOAD": ("f", b"x", "text/plain")})
    job_id = api.request("POST", "/async", body=body, headers=headers).location.rsplit("/", 1)[1]
    api.request("POST", f"/async/{job_id}/parameters", data={"TAGS": "b"})
    api.request("POST", f"/async/{job_id}/phase", data={"PHASE": "RUN"})
    api.work()
    xml, parameters = both(api, f"/async/{job_id}/parameters")
    assert parameters == {"parameters": parameters_of(etree.fromstring(xml.encode()))}
    assert {p["id"] for p in parameters["parameters"] if p["byReference"]} == {"UPLOAD"}
    xml, results = both(api, f"/async/{job_id}/results")
    assert results == {"results": results_of(etree.fromstring(xml.encode()))}
    assert [r["id"] for r in results["results"]] == ["result"]
    xml, listing = both(api, "/async")
    refs = etree.fromstring(xml.encode()).findall("uws:jobref", UWS)
    assert [j["jobId"] for j in listing["jobs"]] == [r.get("id") for r in refs] == [job_id]
    assert listing["jobs"][0]["href"] == refs[0].get(HREF)
    assert listing["jobs"][0]["phase"] == "COMPLETED"


@pytest.mark.parametrize(
    "accept, expected",
    [
        ("application/json", "application/json"),
        ("application/json;q=0.9, text/xml;q=0.5", "application/json"),
        ("*/*", "text/xml"),
        ("", "text/xml"),
        ("application/xml", "text/xml"),
        ("text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", "text/html"),
        ("text/html;q=0.5, application/xml", "text/xml"),
        ("text/html, application/json", "application/json"),
        ("text/xml, application/json", "text/xml"),
        ("application/json;q=0", "text/xml"),
        ("application/json;q=nonsense", "text/xml"),
    ],
)
def test_xml_unless_json_or_a_page_is_preferred(api, accept, expected):
    job_id = api.create()
    reply = api.request("GET", f"/async/{job_id}", headers={"Accept": accept} if accept else {})
    assert reply.content_type.startswith(expected)


def test_errors_stay_text_plain(api):
    reply = api.request("GET", "/async/AAAAAAAAAAAAAAAAAAAAAA", headers=JSON)
    assert reply.status == 404 and reply.content_type.startswith("text/plain")
