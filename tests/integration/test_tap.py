"""The TAP deployment in-process under IAM: the tap job type through the worker, /sync, the
VOSI resources, uploads in a multipart creation, errors as TAP's error document, and TAP's
routes reaching the API's 404 where the job type is not tap (docs/tap.md)."""

from __future__ import annotations

import io

import boto3
import pytest
from astropy.io.votable import parse_single_table
from lxml import etree
from tap.metadata import Column
from tap.votable import write_votable
from uws.files import result_key

from tests.conftest import UWS, text_of
from tests.integration.test_children import multipart
from tests.integration.test_pages import BROWSER

SIRIUS = 32349


def run_to_end(api, data, files=None) -> str:
    if files:
        body, headers = multipart({**data, "PHASE": "RUN"}, files)
        reply = api.request("POST", "/async", body=body, headers=headers)
    else:
        reply = api.request("POST", "/async", data={**data, "PHASE": "RUN"})
    assert reply.status == 303, reply.body
    job_id = reply.location.rsplit("/", 1)[1]
    api.work()
    return job_id


def result_table(api, job_id):
    """The job's result as the 303 leads to it (the object the job lists, read from S3)."""
    assert api.request("GET", f"/async/{job_id}/results/result").status == 303
    body = boto3.client("s3").get_object(
        Bucket=api.refs["ResultsBucket"], Key=result_key(job_id, "result")
    )["Body"]
    return parse_single_table(io.BytesIO(body.read())).to_table()


def test_a_query_job_runs_on_the_worker_and_its_result_is_the_table(tap_api):
    job_id = run_to_end(tap_api, {
        "LANG": "ADQL", "QUERY": "SELECT TOP 3 hip, hpmag FROM hipparcos.main ORDER BY hpmag",
    })  # fmt: skip
    job = tap_api.job(job_id)
    assert text_of(job, "uws:phase") == "COMPLETED"
    assert [r.get("id") for r in job.findall("uws:results/uws:result", UWS)] == ["result"]
    info = {e.get("id"): e.text for e in job.find("uws:jobInfo", UWS)}
    assert info == {"rows": "3", "queryStatus": "OK"}
    assert int(result_table(tap_api, job_id)["hip"][0]) == SIRIUS


def test_a_query_that_cannot_run_ends_in_error_with_tap_s_error_document(tap_api):
    job_id = run_to_end(tap_api, {"LANG": "ADQL", "QUERY": "SELECT nosuch FROM hipparcos.main"})
    assert text_of(tap_api.job(job_id), "uws:phase") == "ERROR"
    error = tap_api.request("GET", f"/async/{job_id}/error")
    assert error.status == 200 and error.content_type.startswith("application/x-votable+xml")
    root = etree.fromstring(error.body.encode())
    (status,) = [e for e in root.iter() if e.get("name") == "QUERY_STATUS"]
    assert status.get("value") == "ERROR" and "line 1, column 8" in (status.text or "")


def test_unknown_parameters_are_kept_as_dali_asks_and_a_bad_lang_is_the_jobs_error(tap_api):
    job_id = run_to_end(tap_api, {"LANG": "SQL", "QUERY": "SELECT 1", "DUMMY": "ignore-me"})
    job = tap_api.job(job_id)
    assert text_of(job, "uws:phase") == "ERROR"
    assert "LANG must be ADQL" in text_of(job, "uws:errorSummary/uws:message")
    names = [p.get("id") for p in job.findall("uws:parameters/uws:parameter", UWS)]
    assert "DUMMY" in names


def test_an_upload_in_the_creating_post_is_tap_upload_in_the_query(tap_api):
    document = io.BytesIO()
    write_votable(document, [Column("hip", "long")], [[(SIRIUS,)]])
    job_id = run_to_end(
        tap_api,
        {"LANG": "ADQL", "UPLOAD": "mine,param:mine",
         "QUERY": "SELECT h.hip FROM TAP_UPLOAD.mine AS m JOIN hipparcos.main AS h ON m.hip = h.hip"},
        files={"mine": ("mine.xml", document.getvalue(), "application/x-votable+xml")},
    )  # fmt: skip
    assert text_of(tap_api.job(job_id), "uws:phase") == "COMPLETED"
    assert list(result_table(tap_api, job_id)["hip"]) == [SIRIUS]


def test_sync_answers_the_table_and_an_error_with_a_400(tap_api):
    reply = tap_api.request("POST", "/sync", data={
        "LANG": "ADQL", "QUERY": "SELECT TOP 1 hip FROM hipparcos.main ORDER BY hpmag",
        "RESPONSEFORMAT": "csv",
    })  # fmt: skip
    assert (reply.status, reply.body.split()) == (200, ["hip", str(SIRIUS)])
    refused = tap_api.request("POST", "/sync", data={"LANG": "ADQL", "QUERY": "SELEKT 1"})
    assert refused.status == 400 and 'value="ERROR"' in refused.body


@pytest.mark.parametrize("fails", ["in the run", "after it"])
def test_a_fault_of_ours_in_a_sync_query_is_a_500_error_votable(tap_api, monkeypatch, fails):
    """TAP's clients read an error VOTable (STILTS taplint calls anything else a bad content
    type); the text/plain sentence is the UWS's answer, not TAP's. After it: the result file
    gone before it is read (what a shared working directory once did)."""
    from tap.engine import QueryEngine

    run = QueryEngine.run

    def broken(self, *args, **kwargs):
        if fails == "in the run":
            raise FileNotFoundError("a result file went away")
        outcome = run(self, *args, **kwargs)
        outcome.path.unlink()
        return outcome

    monkeypatch.setattr(QueryEngine, "run", broken)
    reply = tap_api.request("GET", "/sync", query={"LANG": "ADQL", "QUERY": "SELECT 1"})
    assert reply.status == 500 and reply.content_type.startswith("application/x-votable+xml")
    assert 'value="ERROR"' in reply.body and "please retry or report it" in reply.body


def test_storage_busy_is_a_503_with_retry_after_for_sync_and_vosi(tap_api, monkeypatch):
    """S3 refusing DuckDB's reads past its retries (test_catalogue_buckets makes it so) is
    the moment's, not the query's: a client retries a 503, and would give up on a 400."""
    from tap import service
    from tap.engine import QueryEngine
    from tap.request import StorageBusy

    def busy(*args, **kwargs):
        raise StorageBusy("HTTP Error: Request returned HTTP 503")

    monkeypatch.setattr(QueryEngine, "run", busy)
    monkeypatch.setattr(QueryEngine, "catalogue", property(busy))
    service.engine.cache_clear()
    for reply in (tap_api.request("GET", "/sync", query={"LANG": "ADQL", "QUERY": "SELECT 1"}),
                  tap_api.request("GET", "/tables")):  # fmt: skip
        assert (reply.status, reply.headers.get("Retry-After")) == (503, "5"), reply.body
        assert "storage is busy" in reply.body


def test_a_parquet_answer_goes_by_s3(tap_api):
    reply = tap_api.request("POST", "/sync", data={
        "LANG": "ADQL", "QUERY": "SELECT TOP 2 hip FROM hipparcos.main", "FORMAT": "parquet",
    })  # fmt: skip
    assert reply.status == 303 and "/answers/" in reply.location


def test_vosi_answers_anyone_and_other_methods_are_405(tap_api):
    for path in ("/capabilities", "/availability", "/tables", "/tables/hipparcos.main"):
        reply = tap_api.request("GET", path)
        assert reply.status == 200 and reply.content_type.startswith("text/xml"), path
    assert tap_api.request("GET", "/tables/no.such").status == 404
    refused = tap_api.request("POST", "/capabilities")
    assert refused.status == 405 and refused.headers["Allow"] == "GET"


@pytest.mark.parametrize("path", ["/sync", "/capabilities", "/tables", "/examples"])
def test_without_jobtype_tap_its_paths_are_the_apis_404(api, path):
    reply = api.request("GET", path)
    assert reply.status == 404 and reply.content_type.startswith("text/plain")


def test_the_browser_page_of_a_tap_deployment_has_a_query_box(tap_api):
    reply = tap_api.request("GET", "/async", headers=BROWSER)
    assert reply.status == 200 and reply.content_type.startswith("text/html")
    assert '<textarea name="QUERY"' in reply.body and 'name="LANG"' in reply.body


def test_a_text_answer_lambda_could_not_return_goes_by_s3_not_a_5xx(tap_api, monkeypatch):
    """Lambda's 6 MB is counted on the JSON (escapes and all): what would not fit is a 303 to
    S3, as a Parquet answer is, never the entry point's 500."""
    from uws.web import http

    monkeypatch.setattr(http, "RESPONSE_BUDGET", 100)
    reply = tap_api.request("POST", "/sync", data={
        "LANG": "ADQL", "QUERY": "SELECT TOP 50 hip, ra, dec FROM hipparcos.main",
    })  # fmt: skip
    assert reply.status == 303 and "/answers/" in reply.location


def test_without_big_tables_the_workers_question_translates_nothing(tap_api, monkeypatch):
    """The demo catalogue has no big table: nothing of it is worth a container, so the worker
    translates nothing (and fetches no upload) before the run does."""
    from tap import engine

    asked: list[str] = []
    monkeypatch.setattr(engine.QueryEngine, "full_scans_of", lambda *a: asked.append("!") or ())
    job_id = run_to_end(tap_api, {"LANG": "ADQL", "QUERY": "SELECT COUNT(*) FROM hipparcos.main"})
    assert text_of(tap_api.job(job_id), "uws:phase") == "COMPLETED" and asked == []


def test_s3_busy_on_the_catalogue_file_is_storage_busy_then_read(aws, faults, monkeypatch):
    """catalogue.yaml is read with the SDK at a cold start: SlowDown past botocore's retries is
    StorageBusy (a 503, a rerun), not a broken catalogue; the next read gets it."""
    from tap import service
    from tap.request import StorageBusy

    from local import lambdas

    s3 = boto3.client("s3")
    s3.put_object(
        Bucket=aws["ResultsBucket"], Key="catalogue/catalogue.yaml", Body=b"schemas: []\n"
    )
    url = f"s3://{aws['ResultsBucket']}/catalogue/catalogue.yaml"
    monkeypatch.setattr(lambdas._acting, "function", "TapSyncFunction", raising=False)
    faults.script["GetObject"] = ["SlowDown"] * 5  # the first call and botocore's 4 retries
    with pytest.raises(StorageBusy, match="SlowDown"):
        service._read_text(url)
    assert service._read_text(url) == "schemas: []\n"
