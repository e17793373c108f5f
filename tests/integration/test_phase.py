"""{job}/phase: RUN and ABORT with the phase rules of docs/uws.md."""

import json

import pytest

from tests.conftest import BASE, queued_messages, set_item, text_of, unchanged


def post_phase(api, job_id, phase, owner=None):
    return api.request("POST", f"/async/{job_id}/phase", data={"PHASE": phase}, owner=owner)


def phase_of(api, job_id):
    reply = api.request("GET", f"/async/{job_id}/phase")
    assert reply.status == 200 and reply.content_type == "text/plain; charset=utf-8"
    return reply.body


def test_run_queues_before_the_redirect_and_sends_one_message(api):
    job_id = api.create()
    reply = post_phase(api, job_id, "RUN")
    assert reply.status == 303 and reply.location == f"{BASE}/async/{job_id}"
    assert phase_of(api, job_id) == "QUEUED"
    expected = {"jobId": job_id, "executionDuration": 600}  # the default: the worker's deadline
    assert [json.loads(m) for m in queued_messages(api)] == [expected]


@pytest.mark.parametrize("phase", ["QUEUED", "EXECUTING"])
def test_run_on_an_active_job_is_a_no_op_redirect(api, phase):
    job_id = api.create()
    set_item(api, job_id, phase=phase)
    with unchanged(api, job_id):
        assert post_phase(api, job_id, "RUN").status == 303
    assert queued_messages(api) == []


@pytest.mark.parametrize("phase", ["COMPLETED", "ERROR", "ABORTED"])
def test_run_on_a_finished_job_is_403_and_changes_nothing(api, phase):
    job_id = api.create()
    set_item(api, job_id, phase=phase)
    with unchanged(api, job_id):
        reply = post_phase(api, job_id, "RUN")
    assert reply.status == 403 and phase in reply.body
    assert queued_messages(api) == []


@pytest.mark.parametrize("phase", ["PENDING", "QUEUED", "EXECUTING"])
def test_abort_ends_an_active_job(api, phase):
    job_id = api.create()
    set_item(api, job_id, phase=phase)
    assert post_phase(api, job_id, "ABORT").status == 303
    root = api.job(job_id)
    assert text_of(root, "uws:phase") == "ABORTED"
    assert text_of(root, "uws:endTime").endswith("Z")


@pytest.mark.parametrize("phase", ["COMPLETED", "ERROR", "ABORTED"])
def test_abort_on_a_finished_job_is_a_no_op_redirect(api, phase):
    job_id = api.create()
    set_item(api, job_id, phase=phase)
    with unchanged(api, job_id):
        assert post_phase(api, job_id, "ABORT").status == 303


@pytest.mark.parametrize(
    "data",
    [{}, {"PHASE": "run"}, {"PHASE": "PENDING"}, {"PHASE": "SUSPEND"}, {"PHASE": ["RUN", "RUN"]}],
)
def test_bad_phase_posts_are_400_and_change_nothing(api, data):
    job_id = api.create()
    with unchanged(api, job_id):
        reply = api.request("POST", f"/async/{job_id}/phase", data=data)
    assert reply.status == 400 and "PHASE" in reply.body
    assert queued_messages(api) == []


def test_run_without_a_required_parameter_is_400_and_the_job_stays_pending(testing_type):
    api = testing_type
    job_id = api.create(COUNT="3")
    with unchanged(api, job_id):
        reply = post_phase(api, job_id, "RUN")
    assert reply.status == 400 and "NAME" in reply.body
    api.request("POST", f"/async/{job_id}/parameters", data={"NAME": "n"})
    assert post_phase(api, job_id, "RUN").status == 303
    assert phase_of(api, job_id) == "QUEUED"


def test_a_failed_send_puts_the_job_back_to_pending_with_a_503(api, monkeypatch):
    from uws.queue import RunQueue

    def broken(self, job_id):
        raise ConnectionError("SQS is down")

    monkeypatch.setattr(RunQueue, "send", broken)
    job_id = api.create()
    reply = post_phase(api, job_id, "RUN")
    assert reply.status == 503 and reply.headers["Retry-After"]
    assert phase_of(api, job_id) == "PENDING"


@pytest.mark.parametrize("method", ["PUT", "DELETE"])
def test_other_methods_are_405(api, method):
    reply = api.request(method, f"/async/{api.create()}/phase")
    assert reply.status == 405 and reply.headers["Allow"] == "GET, POST"


def test_a_job_of_an_earlier_job_type_runs_and_changes_by_its_own_declaration(api, monkeypatch):
    """A redeploy changed JobType: a job created before keeps its type, and RUN and parameter
    changes check it against that type's declaration, not the new one's (the write's
    condition names the type; a refusal hands back the job and its own type is used)."""
    from uws.config import settings

    demo_job = api.create(TEXT="made before the redeploy")
    monkeypatch.setenv("JOB_TYPE", "testing")
    monkeypatch.setenv("JOB_TYPE_MODULES", "uws.demo,tests.jobtypes_for_tests")
    settings.cache_clear()
    # TEXT is the demo type's, unknown to 'testing'; NAME is required by 'testing' only
    reply = api.request("POST", f"/async/{demo_job}/parameters", data={"TEXT": "changed"})
    assert reply.status == 303, reply.body
    reply = api.request("POST", f"/async/{demo_job}/parameters", data={"NAME": "x"})
    assert reply.status == 400 and "NAME" in reply.body
    reply = api.request("POST", f"/async/{demo_job}/phase", data={"PHASE": "RUN"})
    assert reply.status == 303, reply.body
    assert api.item(demo_job)["phase"] == {"S": "QUEUED"}
    new_job = api.request("POST", "/async", data={"COUNT": "2"}).location.rsplit("/", 1)[-1]
    reply = api.request("POST", f"/async/{new_job}/phase", data={"PHASE": "RUN"})
    assert reply.status == 400 and "NAME" in reply.body
