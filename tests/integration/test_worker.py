"""Running jobs: the worker Lambda fed from the real SQS messages, on moto."""

import io
import threading
import time

import pytest
from astropy.io.votable import parse_single_table

from tests.conftest import UWS, set_item, text_of
from tests.integration.test_children import download


def use_run(monkeypatch, fn):
    """Give the ``testing`` job type a callable for this test."""
    import dataclasses

    from uws import jobtypes

    from tests.jobtypes_for_tests import TESTING

    monkeypatch.setitem(jobtypes._REGISTRY, "testing", dataclasses.replace(TESTING, run=fn))


def run(api, **params):
    job_id = api.create(**params)
    assert api.request("POST", f"/async/{job_id}/phase", data={"PHASE": "RUN"}).status == 303
    return job_id


def wait_for_phase(api, job_id, phase, seconds=5):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if text_of(api.job(job_id), "uws:phase") == phase:
            return
        time.sleep(0.05)
    raise AssertionError(f"job never reached {phase}")


def test_full_lifecycle_ends_with_the_votable_result(api):
    started = time.perf_counter()
    job_id = run(api, TEXT="hello ☃", DURATION="0.2")
    assert len(api.work()) == 1
    root = api.job(job_id)
    elapsed = time.perf_counter() - started
    assert text_of(root, "uws:phase") == "COMPLETED"
    assert text_of(root, "uws:startTime").endswith("Z") and text_of(root, "uws:endTime").endswith(
        "Z"
    )
    assert root.find("uws:errorSummary", UWS) is None
    (result,) = root.findall("uws:results/uws:result", UWS)
    assert result.get("id") == "result" and result.get("mime-type") == "application/x-votable+xml"
    reply = api.request("GET", f"/async/{job_id}/results/result")
    assert reply.status == 303
    content = download(api, reply.location)
    assert int(result.get("size")) == len(content)
    table = parse_single_table(io.BytesIO(content)).to_table()
    assert table["text"][0] == "hello ☃"
    assert table["duration"][0] == 0.2
    assert 0.2 <= table["worked"][0] < 1
    assert elapsed < 3


def test_fail_ends_in_error_with_the_text(api):
    job_id = run(api, FAIL="no such star")
    api.work()
    root = api.job(job_id)
    assert text_of(root, "uws:phase") == "ERROR"
    summary = root.find("uws:errorSummary", UWS)
    assert summary.get("type") == "fatal"
    assert text_of(summary, "uws:message") == "no such star"
    assert api.request("GET", f"/async/{job_id}/error").body == "no such star"
    assert root.findall("uws:results/uws:result", UWS) == []


def test_an_exception_in_the_job_shows_its_message_and_logs_the_traceback(
    testing_type, monkeypatch, caplog
):
    """Whoever may read the job reads the message; our traceback (paths, code) goes to the
    logs only, with the job id to find it by."""
    api = testing_type

    def broken(ctx):
        raise ZeroDivisionError("the job divided by zero")

    use_run(monkeypatch, broken)
    job_id = run(api, NAME="n")
    api.work()
    (failure,) = [r for r in caplog.records if r.getMessage() == "job failed"]
    assert failure.job_id == job_id and failure.levelname == "ERROR"
    assert failure.exc_info[0] is ZeroDivisionError  # the traceback, in the logs only
    root = api.job(job_id)
    summary = root.find("uws:errorSummary", UWS)
    assert summary.get("hasDetail") == "false"
    assert text_of(summary, "uws:message") == "ZeroDivisionError: the job divided by zero"
    error = api.request("GET", f"/async/{job_id}/error").body
    assert error == "ZeroDivisionError: the job divided by zero"


def test_a_failed_result_write_makes_the_job_error_not_completed(api, monkeypatch):
    from uws.files import FileStore

    def broken_put(self, key, body, mime_type):
        raise ConnectionError("S3 is unreachable")

    monkeypatch.setattr(FileStore, "put", broken_put)
    job_id = run(api)
    api.work()
    root = api.job(job_id)
    assert text_of(root, "uws:phase") == "ERROR"
    assert "S3 is unreachable" in text_of(root, "uws:errorSummary/uws:message")
    assert root.findall("uws:results/uws:result", UWS) == []


def test_deadline_ends_the_job_in_error(api):
    job_id = run(api, DURATION="30", EXECUTIONDURATION="1")
    started = time.monotonic()
    api.work()
    assert time.monotonic() - started < 3
    root = api.job(job_id)
    assert text_of(root, "uws:phase") == "ERROR"
    assert "execution duration" in text_of(root, "uws:errorSummary/uws:message")


def test_abort_of_a_queued_job_means_it_never_runs(api):
    job_id = run(api)
    api.request("POST", f"/async/{job_id}/phase", data={"PHASE": "ABORT"})
    assert len(api.work()) == 1  # the message is consumed ...
    root = api.job(job_id)  # ... and does nothing
    assert text_of(root, "uws:phase") == "ABORTED"
    assert (
        root.find("uws:startTime", UWS).get("{http://www.w3.org/2001/XMLSchema-instance}nil")
        == "true"
    )


def test_abort_of_an_executing_job_stops_it_and_it_stays_aborted(api):
    job_id = run(api, DURATION="20")
    worker = threading.Thread(target=api.work)
    worker.start()
    wait_for_phase(api, job_id, "EXECUTING")
    aborted_at = time.monotonic()
    assert api.request("POST", f"/async/{job_id}/phase", data={"PHASE": "ABORT"}).status == 303
    worker.join(timeout=5)
    assert not worker.is_alive()
    assert time.monotonic() - aborted_at < 2.5  # check() reads the phase once a second
    root = api.job(job_id)
    assert text_of(root, "uws:phase") == "ABORTED"
    assert root.findall("uws:results/uws:result", UWS) == []


def test_results_written_before_an_abort_stay_listed(testing_type, monkeypatch):
    api = testing_type

    def two_results(ctx):
        ctx.write_result("first", b"1", "text/plain")
        ctx.progress(step="1 of 2")
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            ctx.check()
            time.sleep(0.05)
        ctx.write_result("second", b"2", "text/plain")

    use_run(monkeypatch, two_results)
    job_id = run(api, NAME="n")
    worker = threading.Thread(target=api.work)
    worker.start()
    wait_for_phase(api, job_id, "EXECUTING")
    time.sleep(0.3)
    root = api.job(job_id)
    assert root.find("uws:jobInfo", UWS) is not None
    api.request("POST", f"/async/{job_id}/phase", data={"PHASE": "ABORT"})
    worker.join(timeout=5)
    root = api.job(job_id)
    assert text_of(root, "uws:phase") == "ABORTED"
    assert [r.get("id") for r in root.findall("uws:results/uws:result", UWS)] == ["first"]
    assert api.objects(job_id) == [f"jobs/{job_id}/results/first"]


def test_a_redelivered_message_does_not_run_the_job_twice(api):
    import boto3

    job_id = run(api)
    api.work()
    before = api.item(job_id)
    boto3.client("sqs").send_message(
        QueueUrl=api.refs["JobsQueue"], MessageBody=f'{{"jobId": "{job_id}"}}'
    )
    assert len(api.work()) == 1
    assert api.item(job_id) == before


def test_a_job_runs_in_three_writes_and_no_read(api):
    """The message names the execution duration, so the start needs no read; the first abort
    check comes a second after the start."""
    from local.iam import every_layer_client

    job_id = run(api)
    calls = []
    for client in every_layer_client("dynamodb"):
        client.meta.events.register("before-call.dynamodb", lambda event_name, **kw: calls.append(
            event_name.rsplit(".", 1)[1]))  # fmt: skip
    api.work()
    assert text_of(api.job(job_id), "uws:phase") == "COMPLETED"
    assert calls[:3] == ["UpdateItem"] * 3  # executing, its result, completed


def test_a_duration_changed_while_queued_is_the_one_the_run_gets(testing_type, monkeypatch):
    api = testing_type
    budgets = []
    use_run(monkeypatch, lambda ctx: budgets.append((ctx.deadline - ctx.job.start_time).seconds))
    job_id = run(api, NAME="n", EXECUTIONDURATION="600")
    reply = api.request(
        "POST", f"/async/{job_id}/executionduration", data={"EXECUTIONDURATION": "77"}
    )
    assert reply.status == 303
    api.work()  # the message says 600: the first write is refused, the second takes 77
    assert budgets == [77]
    assert text_of(api.job(job_id), "uws:phase") == "COMPLETED"


def test_a_start_whose_reply_was_lost_is_recognised_as_ours(api, monkeypatch):
    """boto3 retries a write whose reply it lost; the retry is refused (already EXECUTING,
    since the same moment), and the worker runs the job rather than dropping it."""
    from uws.store import JobStore

    job_id = run(api)
    write = JobStore.mark_executing

    def reply_lost(self, *args):
        write(self, *args)
        return write(self, *args)  # refused: what the retry after a lost reply sees

    monkeypatch.setattr(JobStore, "mark_executing", reply_lost)
    api.work()
    assert text_of(api.job(job_id), "uws:phase") == "COMPLETED"


def test_a_result_the_job_cannot_record_leaves_no_file(api, monkeypatch):
    from uws.errors import PayloadTooLarge
    from uws.store import JobStore

    job_id = run(api)
    too_large = lambda *a: (_ for _ in ()).throw(PayloadTooLarge("too large"))  # noqa: E731
    monkeypatch.setattr(JobStore, "record_results", too_large)
    api.work()
    assert text_of(api.job(job_id), "uws:phase") == "ERROR"
    assert api.objects(job_id) == []


def test_a_message_for_a_deleted_job_does_nothing(api):
    job_id = run(api)
    api.request("DELETE", f"/async/{job_id}")
    assert len(api.work()) == 1
    assert api.item(job_id) is None and api.objects(job_id) == []


def test_a_job_deleted_while_running_leaves_no_result_behind(api, monkeypatch):
    from uws import worker

    job_id = run(api)
    original = worker._finish

    def delete_first(context, *args):
        api.request("DELETE", f"/async/{job_id}")
        return original(context, *args)

    monkeypatch.setattr(worker, "_finish", delete_first)
    api.work()
    assert api.item(job_id) is None and api.objects(job_id) == []


def test_the_worker_reports_infrastructure_failures_so_the_message_returns(api, monkeypatch):
    from uws.store import JobStore

    job_id = run(api)
    down = lambda *a: (_ for _ in ()).throw(ConnectionError("down"))  # noqa: E731
    monkeypatch.setattr(JobStore, "mark_executing", down)
    api.work(max_messages=1)
    monkeypatch.undo()
    import boto3

    attributes = boto3.client("sqs").get_queue_attributes(
        QueueUrl=api.refs["JobsQueue"], AttributeNames=["ApproximateNumberOfMessagesNotVisible"]
    )["Attributes"]
    assert attributes["ApproximateNumberOfMessagesNotVisible"] == "1"  # back after its timeout
    assert text_of(api.job(job_id), "uws:phase") == "QUEUED"


@pytest.mark.parametrize("phase", ["EXECUTING", "COMPLETED", "ERROR"])
def test_run_requests_during_and_after_execution(api, phase):
    job_id = run(api)
    set_item(api, job_id, phase=phase)
    status = api.request("POST", f"/async/{job_id}/phase", data={"PHASE": "RUN"}).status
    assert status == (303 if phase == "EXECUTING" else 403)
