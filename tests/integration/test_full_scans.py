"""Full scans of big tables run where long jobs run, in-process under IAM: the worker translates
a queued TAP query, sees it read a big HATS table whole, and hands the job to the container
runner (one RunTask, the job still QUEUED); the task, signing as the task role, answers it
within its MAXREC and says where it ran. A cone on the same table stays on the worker
(docs/tap.md, What runs where)."""

from __future__ import annotations

import shutil
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests.conftest import UWS, text_of
from tests.integration.test_containers import messages, tasks
from tests.integration.test_tap import result_table

BRIGHTEST = "SELECT hip, hpmag FROM hipparcos.main_hats WHERE hpmag < 2 ORDER BY hpmag"
CONE = ("SELECT hip FROM hipparcos.main_hats WHERE 1 = CONTAINS(POINT('ICRS', ra, dec), "
        "CIRCLE('ICRS', 101.2872, -16.7161, 1))")  # fmt: skip


@pytest.fixture(scope="module")
def hipparcos_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo catalogue with its HATS table declared big (`big: true`): a copy (DuckDB's
    allowed_directories do not follow links)."""
    from local.catalogue import build

    root = tmp_path_factory.mktemp("big") / "catalogue"
    shutil.copytree(build(), root)
    document = yaml.safe_load((root / "catalogue.yaml").read_text())
    for schema in document["schemas"]:
        for table in schema["tables"]:
            table["big"] = table["name"] == "main_hats"
    (root / "catalogue.yaml").write_text(yaml.safe_dump(document))
    return root


def info(api, job_id: str) -> dict[str, str]:
    return {e.get("id"): e.text for e in api.job(job_id).find("uws:jobInfo", UWS)}


@pytest.fixture
def as_the_task(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """This thread's AWS calls sign as the task role; the engine is made anew, as in a task,
    with the task definition's memory and disk (TaskMemory 2048, TaskStorageGiB 21)."""
    from tap import service

    from local import lambdas

    monkeypatch.delenv("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", raising=False)
    monkeypatch.setenv("TAP_TASK_MEMORY_MB", "2048")
    monkeypatch.setenv("TAP_TASK_STORAGE_GIB", "21")
    service.engine.cache_clear()
    outer, lambdas._acting.function = lambdas.acting_function(), "JobTaskRole"
    handler = signal.getsignal(signal.SIGTERM)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, handler)
        lambdas._acting.function = outer
        service.engine.cache_clear()


def test_a_full_scan_is_handed_to_a_container_task_which_answers_it(tap_api, as_the_task,
                                                                    monkeypatch):  # fmt: skip
    from tap import service
    from uws import task

    reply = tap_api.request("POST", "/async", data={"QUERY": BRIGHTEST, "MAXREC": "3",
                                                    "PHASE": "RUN"})  # fmt: skip
    job_id = reply.location.rsplit("/", 1)[1]
    assert len(tap_api.work()) == 1  # the worker took the message, and ran nothing
    assert text_of(tap_api.job(job_id), "uws:phase") == "QUEUED"
    assert info(tap_api, job_id) == {"fullScan": "hipparcos.main_hats", "runner": "container"}
    (started,) = tasks(tap_api, startedBy=job_id)
    environment = started["overrides"]["containerOverrides"][0]["environment"]
    assert {"name": "UWS_JOB_ID", "value": job_id} in environment
    assert tap_api.item(job_id)["inContainer"] == {"BOOL": True}
    assert messages(tap_api) == 0

    for variable in environment:  # what ECS puts in the task's environment
        monkeypatch.setenv(variable["name"], variable["value"])
    assert task.main() == 0
    job = tap_api.job(job_id)
    assert text_of(job, "uws:phase") == "COMPLETED", tap_api.item(job_id).get("errorSummary")
    assert info(tap_api, job_id) == {"rows": "3", "queryStatus": "OVERFLOW", "runner": "container",
                                     "fullScan": "hipparcos.main_hats"}  # fmt: skip
    table = result_table(tap_api, job_id)
    assert len(table) == 3 and list(table["hpmag"]) == sorted(table["hpmag"])
    assert float(table["hpmag"][0]) < -1  # Sirius, the brightest
    settings = service.engine()._open().execute(
        "SELECT current_setting('memory_limit'), current_setting('max_temp_directory_size')"
    ).fetchone()  # fmt: skip
    assert settings == ("1.1 GiB", "15.0 GiB")  # 60% of 2048 MB; 75% of 21 GiB


def test_a_cone_on_the_same_table_stays_on_the_worker(tap_api):
    reply = tap_api.request("POST", "/async", data={"QUERY": CONE, "PHASE": "RUN"})
    job_id = reply.location.rsplit("/", 1)[1]
    tap_api.work()
    assert text_of(tap_api.job(job_id), "uws:phase") == "COMPLETED"
    assert info(tap_api, job_id)["rows"] != "0"
    assert "fullScan" not in info(tap_api, job_id) and tasks(tap_api) == []


def test_a_cross_match_s_upload_is_read_once_for_the_question_and_the_run(tap_api, monkeypatch):
    """The worker's question (needs_container) loads the upload to see what it narrows; the
    run that follows on the worker uses what the question fetched, not a second read."""
    import io

    from tap.metadata import Column
    from tap.votable import write_votable
    from uws.worker import JobContext

    from tests.integration.test_children import multipart

    reads: list[str] = []
    read = JobContext.read_upload

    def counted(self, name):
        reads.append(name)
        return read(self, name)

    monkeypatch.setattr(JobContext, "read_upload", counted)
    document = io.BytesIO()
    write_votable(document, [Column("ra", "double"), Column("dec", "double")],
                  [[(101.2872, -16.7161)]])  # fmt: skip
    query = ("SELECT h.hip FROM TAP_UPLOAD.mine AS m JOIN hipparcos.main_hats AS h ON 1 = "
             "CONTAINS(POINT('ICRS', h.ra, h.dec), CIRCLE('ICRS', m.ra, m.dec, 0.01))")  # fmt: skip
    body, headers = multipart({"QUERY": query, "UPLOAD": "mine,param:mine", "PHASE": "RUN"},
                              {"mine": ("mine.xml", document.getvalue(), "application/x-votable+xml")})  # fmt: skip
    job_id = tap_api.request("POST", "/async", body=body, headers=headers).location.rsplit("/", 1)[
        1
    ]
    tap_api.work()
    assert text_of(tap_api.job(job_id), "uws:phase") == "COMPLETED"
    assert [int(h) for h in result_table(tap_api, job_id)["hip"]] == [32349]  # Sirius
    assert "fullScan" not in info(tap_api, job_id) and tasks(tap_api) == []
    assert reads == ["mine"]


def test_a_redelivered_message_does_not_run_a_handed_over_job_on_the_worker(tap_api):
    from uws.service import build_service
    from uws.worker import execute_job

    reply = tap_api.request("POST", "/async", data={"QUERY": BRIGHTEST, "PHASE": "RUN"})
    job_id = reply.location.rsplit("/", 1)[1]
    tap_api.work()
    assert execute_job(job_id, build_service(), 600) is None  # SQS delivers it again
    assert text_of(tap_api.job(job_id), "uws:phase") == "QUEUED"
    assert len(tasks(tap_api, startedBy=job_id)) == 1
    # ABORT stops the task the worker started (found by its job: it has not named itself)
    tap_api.request("POST", f"/async/{job_id}/phase", data={"PHASE": "ABORT"})
    (stopped,) = tasks(tap_api, startedBy=job_id)
    assert stopped["desiredStatus"] == "STOPPED"


def test_a_handover_whose_mark_aws_refuses_still_leaves_the_job_to_its_task(tap_api, monkeypatch):
    """RunTask done, the TO_CONTAINER write refused past the worker's patience: the task is
    starting and takes the job up (its start needs no mark), so the worker neither runs the
    job itself nor fails the message (SQS would deliver it again, counting a receive)."""
    from uws.errors import ServiceUnavailable
    from uws.service import build_service
    from uws.store.jobstore import JobStore
    from uws.worker import LAMBDA_MARGIN, execute_job

    reply = tap_api.request("POST", "/async", data={"QUERY": BRIGHTEST, "PHASE": "RUN"})
    job_id = reply.location.rsplit("/", 1)[1]

    def busy(*args, **kwargs):
        raise ServiceUnavailable("The service is busy; please retry shortly.")

    monkeypatch.setattr(JobStore, "mark_in_container", busy)
    patience = lambda: LAMBDA_MARGIN + 0.3  # noqa: E731 (0.3 s of retries)
    assert execute_job(job_id, build_service(), seconds_left=patience) is None
    assert text_of(tap_api.job(job_id), "uws:phase") == "QUEUED"
    assert len(tasks(tap_api, startedBy=job_id)) == 1


def test_without_a_container_runner_a_full_scan_runs_on_the_worker_and_says_so(tap_api,
                                                                               monkeypatch):  # fmt: skip
    monkeypatch.setenv("TASK_SUBNETS", "")  # a deployment without the runner
    from uws.config import settings

    settings.cache_clear()
    reply = tap_api.request("POST", "/async", data={"QUERY": BRIGHTEST, "MAXREC": "2",
                                                    "PHASE": "RUN"})  # fmt: skip
    job_id = reply.location.rsplit("/", 1)[1]
    tap_api.work()
    assert text_of(tap_api.job(job_id), "uws:phase") == "COMPLETED"
    assert info(tap_api, job_id) == {"rows": "2", "queryStatus": "OVERFLOW", "runner": "lambda",
                                     "fullScan": "hipparcos.main_hats"}  # fmt: skip
    assert tasks(tap_api) == []


def test_a_handed_over_job_may_be_given_more_than_the_workers_fifteen_minutes(tap_api):
    """Queued on the worker's queue a job keeps at most what Lambda runs; once the worker has
    handed it to the container runner, the client may give it the container's hours."""
    reply = tap_api.request("POST", "/async", data={"QUERY": BRIGHTEST, "PHASE": "RUN"})
    job_id = reply.location.rsplit("/", 1)[1]
    tap_api.work()
    assert tap_api.item(job_id)["inContainer"] == {"BOOL": True}
    tap_api.request(
        "POST", f"/async/{job_id}/executionduration", data={"EXECUTIONDURATION": "7200"}
    )
    assert text_of(tap_api.job(job_id), "uws:executionDuration") == "7200"


def test_a_job_aborted_while_it_is_handed_over_has_its_task_stopped(tap_api, monkeypatch):
    """ABORT between the worker's RunTask and its handover write finds neither inContainer nor
    a task ARN, so it stops nothing: the worker, refused, stops the task it started."""
    from uws.store import jobstore

    original = jobstore.JobStore.mark_in_container

    def aborted_first(store, job_id, *args, **kwargs):
        tap_api.request("POST", f"/async/{job_id}/phase", data={"PHASE": "ABORT"})
        return original(store, job_id, *args, **kwargs)

    monkeypatch.setattr(jobstore.JobStore, "mark_in_container", aborted_first)
    reply = tap_api.request("POST", "/async", data={"QUERY": BRIGHTEST, "PHASE": "RUN"})
    job_id = reply.location.rsplit("/", 1)[1]
    tap_api.work()
    assert text_of(tap_api.job(job_id), "uws:phase") == "ABORTED"
    (stopped,) = tasks(tap_api, startedBy=job_id)
    assert stopped["desiredStatus"] == "STOPPED"
