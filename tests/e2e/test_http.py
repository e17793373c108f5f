"""Over real HTTP through the local runtime: plain requests, pyvo, curl, two users, WAIT."""

import datetime
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests
from lxml import etree

from tests.conftest import SCHEMA_DIR, UWS, text_of
from tests.e2e.conftest import WAIT_CAP

SCHEMA = etree.XMLSchema(etree.parse(str(SCHEMA_DIR / "UWS.xsd")))


def document(reply):
    assert reply.status_code == 200, reply.text
    assert reply.headers["Content-Type"].startswith("text/xml")
    root = etree.fromstring(reply.content)
    SCHEMA.assertValid(root)
    return root


def create(server, http, auth=None, **params):
    reply = http.post(server.jobs, data=params, auth=auth, allow_redirects=False)
    assert reply.status_code == 303, reply.text
    assert reply.headers["Location"].startswith(f"{server.jobs}/")
    return reply.headers["Location"]


def phase(http, job, auth=None):
    return http.get(f"{job}/phase", auth=auth).text


def test_full_lifecycle_over_http(server, http):
    job = create(server, http, TEXT="over http", DURATION="0.3")
    reply = http.post(f"{job}/parameters", data={"TEXT": "changed"}, allow_redirects=False)
    assert (reply.status_code, reply.headers["Location"]) == (303, job)
    reply = http.post(f"{job}/phase", data={"PHASE": "RUN"}, allow_redirects=False)
    assert (reply.status_code, reply.headers["Location"]) == (303, job)
    root = document(http.get(job, params={"WAIT": "10", "PHASE": "QUEUED"}))
    deadline = time.monotonic() + 10
    while text_of(root, "uws:phase") != "COMPLETED" and time.monotonic() < deadline:
        root = document(http.get(job, params={"WAIT": "2"}))
    assert text_of(root, "uws:phase") == "COMPLETED"
    result = root.find("uws:results/uws:result", UWS)
    href = result.get("{http://www.w3.org/1999/xlink}href")
    assert href == f"{job}/results/result"
    redirect = http.get(href, allow_redirects=False)
    assert redirect.status_code == 303
    assert redirect.headers["Location"].startswith("http://127.0.0.1:")  # the embedded S3
    content = http.get(href)
    assert content.status_code == 200
    assert content.headers["Content-Type"] == "application/x-votable+xml"
    assert b"changed" in content.content and int(result.get("size")) == len(content.content)
    reply = http.delete(job, allow_redirects=False)
    assert (reply.status_code, reply.headers["Location"]) == (303, server.jobs)
    assert http.get(job).status_code == 404
    assert http.get(href, allow_redirects=False).status_code == 404


def test_405_with_allow_and_404_for_unknown_paths(server, http):
    job = create(server, http)
    reply = http.put(f"{job}/phase")
    assert reply.status_code == 405 and reply.headers["Allow"] == "GET, POST"
    assert reply.headers["Content-Type"] == "text/plain; charset=utf-8"
    assert http.patch(server.jobs).status_code == 405
    reply = http.get(f"{server.base}/nowhere")  # the template's catch-all route
    assert reply.status_code == 404 and reply.text.startswith("There is no resource at")


def test_the_job_list_links_are_absolute(server, http):
    job = create(server, http, RUNID="listed")
    root = document(http.get(server.jobs, params={"LAST": "1"}))
    (ref,) = root.findall("uws:jobref", UWS)
    assert ref.get("{http://www.w3.org/1999/xlink}href") == job


def test_pyvo_drives_a_job_through_its_life(server, http):
    from pyvo.dal.tap import AsyncTAPJob

    job = AsyncTAPJob(create(server, http, TEXT="from pyvo", DURATION="0.2"))
    assert job.phase == "PENDING"
    job.execution_duration = 120
    assert job.execution_duration.sec == 120
    wanted = datetime.datetime.now(datetime.UTC) + datetime.timedelta(days=2, microseconds=250)
    job.destruction = wanted  # pyvo sends %Y-%m-%dT%H:%M:%S.%fZ
    assert abs((job.destruction.to_datetime() - wanted.replace(tzinfo=None)).total_seconds()) <= 0.5
    job.run()
    job.wait(timeout=15)
    assert job.phase == "COMPLETED"
    job.raise_if_error()
    table = job.fetch_result().to_table()
    assert table["text"][0] == "from pyvo"
    url = job.url
    job.delete()
    assert http.get(url).status_code == 404


def test_pyvo_reports_a_failing_job(server, http):
    from pyvo.dal import DALQueryError
    from pyvo.dal.tap import AsyncTAPJob

    job = AsyncTAPJob(create(server, http, FAIL="the catalogue is offline"))
    job.run().wait(timeout=15)
    assert job.phase == "ERROR"
    with pytest.raises(DALQueryError, match="the catalogue is offline"):
        job.raise_if_error()
    job.delete()


def test_two_users_never_see_each_others_jobs(server, http):
    alice, bob = ("alice", "secret"), ("bob", "secret")
    job = create(server, http, auth=alice, TEXT="alice's")
    assert text_of(document(http.get(job, auth=alice)), "uws:ownerId") == "alice"
    assert http.get(job, auth=bob).status_code == 403
    assert http.get(job).status_code == 403
    assert http.post(f"{job}/phase", data={"PHASE": "RUN"}, auth=bob).status_code == 403
    assert http.delete(job, auth=bob).status_code == 403
    bobs = document(http.get(server.jobs, auth=bob)).findall("uws:jobref", UWS)
    assert job.rsplit("/", 1)[1] not in {r.get("id") for r in bobs}
    alices = document(http.get(server.jobs, auth=alice)).findall("uws:jobref", UWS)
    assert job.rsplit("/", 1)[1] in {r.get("id") for r in alices}
    assert phase(http, job, auth=alice) == "PENDING"


def test_wait_returns_soon_after_the_phase_changes(server, http):
    job = create(server, http)
    changed = []

    def abort_later():
        time.sleep(1.0)
        changed.append(time.monotonic())
        requests.post(f"{job}/phase", data={"PHASE": "ABORT"})

    aborter = threading.Thread(target=abort_later)
    aborter.start()
    root = document(http.get(job, params={"WAIT": "10"}))
    returned = time.monotonic()
    aborter.join()
    assert text_of(root, "uws:phase") == "ABORTED"
    assert returned - changed[0] < 0.5


def test_wait_honours_phase_and_the_cap(server, http):
    job = create(server, http)
    started = time.monotonic()
    document(http.get(job, params={"WAIT": "10", "PHASE": "EXECUTING"}))
    assert time.monotonic() - started < 0.5
    started = time.monotonic()
    root = document(http.get(job, params={"WAIT": "-1"}))
    assert WAIT_CAP - 0.2 < time.monotonic() - started < WAIT_CAP + 1.5
    assert text_of(root, "uws:phase") == "PENDING"
    assert http.get(job, params={"WAIT": "x"}).status_code == 400


def test_the_reaper_runs_on_its_timer(server, http):
    job = create(server, http)
    http.post(f"{job}/destruction", data={"DESTRUCTION": "2001-01-01T00:00:00Z"})
    assert http.get(job).status_code == 404  # gone at once for clients ...
    time.sleep(2.5)  # ... and deleted by the reaper (REAPER_EVERY=1)
    assert http.get(job).status_code == 404


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_the_readme_curl_walkthrough_works_as_written(server):
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    block = re.search(r"## A job's life with curl.*?```sh\n(.*?)```", readme, re.S).group(1)
    script = block.replace("http://127.0.0.1:8000", server.base)
    run = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script], capture_output=True, text=True, timeout=60
    )
    assert run.returncode == 0, run.stderr
    assert "COMPLETED" in run.stdout
    assert "<VOTABLE" in run.stdout and "hello" in run.stdout
    job_id = re.search(r"<uws:jobId>([^<]+)</uws:jobId>", run.stdout)[1]
    assert f'<uws:jobref id="{job_id}"' in run.stdout  # the list shows the job …
    assert run.stdout.endswith("404\n")  # … that is then gone


def make_invoke(server, function, event_file):
    """What `make invoke FUNCTION=… EVENT=…` prints, beside the running ``server``."""
    env = {**os.environ, "UWS_LOCAL_STATE": str(server.state)}
    run = subprocess.run(
        [sys.executable, "-m", "local.invoke", function, event_file],
        cwd=Path(__file__).parents[2], capture_output=True, text=True, timeout=60, env=env,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    return json.loads(run.stdout)


def test_make_invoke_uses_the_running_services_aws(server, http):
    job = create(server, http, RUNID="seen-by-invoke")
    reply = make_invoke(server, "JobsFunction", "events/jobs-get.json")
    assert reply["statusCode"] == 200
    assert job.rsplit("/", 1)[1] in reply["body"]  # the job the running service holds


def test_a_file_upload_travels_as_binary_and_downloads_intact(testing_server, http):
    content = bytes(range(256)) * 64  # not UTF-8: API Gateway hands it over base64-encoded
    reply = http.post(testing_server.jobs, data={"NAME": "n"},
                      files={"UPLOAD": ("table.vot", content, "application/x-votable+xml")},
                      allow_redirects=False)  # fmt: skip
    assert reply.status_code == 303, reply.text
    job = reply.headers["Location"]
    root = document(http.get(job))
    param = root.find("uws:parameters/uws:parameter[@id='UPLOAD']", UWS)
    assert param.get("byReference") == "true" and param.text == f"{job}/parameters/UPLOAD"
    fetched = http.get(param.text)
    assert fetched.status_code == 200 and fetched.content == content
    assert fetched.headers["Content-Type"] == "application/x-votable+xml"
    assert fetched.headers["Content-Disposition"] == "attachment"
    assert http.post(f"{job}/phase", data={"PHASE": "RUN"}).status_code == 200


def test_an_uploaded_page_downloads_as_an_attachment_not_a_page(testing_server, http):
    """An upload keeps the uploader's Content-Type; served from the bucket's origin an HTML
    page would render there (phishing, scripts). The presigned URL asks S3 for
    Content-Disposition: attachment (S3 API Reference, GetObject, response-content-disposition),
    so a browser saves it."""
    page = b"<html><script>alert(1)</script></html>"
    reply = http.post(testing_server.jobs, data={"NAME": "n"},
                      files={"UPLOAD": ("x.html", page, "text/html")}, allow_redirects=False)  # fmt: skip
    job = reply.headers["Location"]
    fetched = http.get(f"{job}/parameters/UPLOAD")
    assert fetched.status_code == 200 and fetched.content == page
    assert fetched.headers["Content-Type"] == "text/html"
    assert fetched.headers["Content-Disposition"] == "attachment"


def test_make_invoke_finds_the_sample_events_job_in_a_running_service(server):
    """The events name one job; beside a running make serve it is made there if absent."""
    reply = make_invoke(server, "PhaseFunction", "events/phase-get.json")
    assert (reply["statusCode"], reply["body"]) == (200, "PENDING")
