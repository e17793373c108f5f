"""`make serve` keeps jobs, parameters and files across restarts (local/persist.py), loses at
most the last second to a crash, and says where it keeps them; `make clean` forgets them."""

from __future__ import annotations

import re
import subprocess
import time
from pathlib import Path

import requests

from local.persist import SAVE_AFTER, STOPPED_MESSAGE
from local.serve import KEPT_IN

from .conftest import ROOT, running_server

PHASE = re.compile(r"<uws:phase>(\w+)</uws:phase>")
TESTING = ("JobType=testing", "JobTypeModules=uws.demo,tests.jobtypes_for_tests")


def phase_of(job: str, wait: int = 0) -> str:
    return PHASE.search(requests.get(job, params={"WAIT": wait} if wait else {}).text).group(1)


def until(job: str, phase: str, seconds: float = 20) -> None:
    deadline = time.monotonic() + seconds
    while (now := phase_of(job, wait=2)) != phase and time.monotonic() < deadline:
        pass
    assert now == phase


def test_jobs_parameters_and_files_survive_a_restart(tmp_path: Path):
    content = b"<VOTABLE>\x00 binary \xff</VOTABLE>"
    with running_server(*TESTING, keep_in=tmp_path) as server:
        done = requests.post(server.jobs, data={"NAME": "kept", "PHASE": "RUN"}).url
        until(done, "COMPLETED")
        waiting = requests.post(
            server.jobs, data={"NAME": "later"},
            files={"UPLOAD": ("t.vot", content, "application/x-votable+xml")},
        ).url  # fmt: skip
        gone = requests.post(server.jobs, data={"NAME": "gone"}).url
        assert requests.delete(gone).status_code == 200
        before = {job: requests.get(job).text for job in (done, waiting)}
        result = requests.get(f"{done}/results/result")
    assert "kept in" in server.log
    with running_server(*TESTING, keep_in=tmp_path) as again:
        moved = {job.replace(server.base, again.base): text for job, text in before.items()}
        for job, text in moved.items():
            assert requests.get(job).text == text.replace(server.base, again.base)
        done, waiting = moved
        assert requests.get(gone.replace(server.base, again.base)).status_code == 404
        kept = requests.get(f"{done}/results/result")
        assert (kept.content, kept.headers["Content-Type"]) == (
            result.content, result.headers["Content-Type"],
        )  # fmt: skip
        upload = requests.get(f"{waiting}/parameters/UPLOAD")
        assert upload.content == content
        assert requests.post(f"{waiting}/phase", data={"PHASE": "RUN"}).status_code == 200
        until(waiting, "COMPLETED")
        assert requests.get(f"{waiting}/results/result").content == content  # the job read it
    assert "2 stored items loaded" in again.log


def test_a_crash_loses_at_most_the_last_second(tmp_path: Path):
    with running_server(keep_in=tmp_path) as server:
        job = requests.post(server.jobs, data={"TEXT": "crash"}).url
        requests.post(f"{job}/executionduration", data={"EXECUTIONDURATION": "77"})
        time.sleep(SAVE_AFTER + 1)
        server.crash()
    with running_server(keep_in=tmp_path) as again:
        job = job.replace(server.base, again.base)
        assert requests.get(f"{job}/executionduration").text == "77"


def test_queued_jobs_run_after_a_restart_and_executing_ones_end_in_error(tmp_path: Path):
    with running_server("--workers", "0", keep_in=tmp_path) as server:  # nothing takes a job
        queued = requests.post(server.jobs, data={"PHASE": "RUN"}).url
        assert phase_of(queued) == "QUEUED"
    with running_server(keep_in=tmp_path) as again:
        queued = queued.replace(server.base, again.base)
        until(queued, "COMPLETED")
        running = requests.post(again.jobs, data={"PHASE": "RUN", "DURATION": "60"}).url
        until(running, "EXECUTING")
    with running_server(keep_in=tmp_path) as third:
        running = running.replace(again.base, third.base)
        assert phase_of(running) == "ERROR"
        assert requests.get(f"{running}/error").text == STOPPED_MESSAGE
        assert phase_of(queued.replace(again.base, third.base)) == "COMPLETED"


def test_make_serve_keeps_jobs_where_make_clean_forgets_them():
    assert KEPT_IN == ROOT / ".uws-local"
    dry = subprocess.run(["make", "-n", "clean"], cwd=ROOT, capture_output=True, text=True)
    assert ".uws-local" in dry.stdout.split()
