"""The container runner, in-process under IAM: which RUN becomes a RunTask, what it asks ECS
for, what a refused one leaves, and how ABORT, DELETE and the reaper stop tasks and end the
jobs of tasks that died (docs/architecture.md, "Container jobs")."""

from __future__ import annotations

import datetime

import boto3
import pytest

from tests.conftest import set_item

LONG = {"EXECUTIONDURATION": "7200"}


def tasks(api, **filters) -> list[dict]:
    ecs = boto3.client("ecs")
    arns = []
    for status in ("RUNNING", "STOPPED"):
        arns += ecs.list_tasks(cluster=api.refs["JobCluster"], desiredStatus=status, **filters)[
            "taskArns"
        ]
    return ecs.describe_tasks(cluster=api.refs["JobCluster"], tasks=arns)["tasks"] if arns else []


def messages(api) -> int:
    attributes = boto3.client("sqs").get_queue_attributes(
        QueueUrl=api.refs["JobsQueue"], AttributeNames=["ApproximateNumberOfMessages"]
    )
    return int(attributes["Attributes"]["ApproximateNumberOfMessages"])


def moto_task(api, arn):
    from moto.ecs.models import ecs_backends

    return ecs_backends["123456789012"]["us-east-1"].tasks[api.refs["JobCluster"]][arn]


def stop_as_ecs(api, arn, exit_code, stop_code="EssentialContainerExited", reason=None):
    """What ECS reports of a task that stopped (local.fargate does this for processes)."""
    task = moto_task(api, arn)
    task.desired_status = task.last_status = "STOPPED"
    task.stop_code = stop_code
    task.stopped_reason = "Essential container in task exited"
    task.containers[0].exitCode = exit_code
    task.containers[0].reason = reason


def run(api, job_id):
    reply = api.request("POST", f"/async/{job_id}/phase", data={"PHASE": "RUN"})
    assert reply.status == 303, reply.body
    return reply


def test_a_long_run_is_one_runtask_and_no_message(api):
    job_id = api.create(**LONG)
    run(api, job_id)
    (task,) = tasks(api)
    assert task["startedBy"] == job_id
    assert task["taskDefinitionArn"] == api.refs["JobTaskDefinition"]
    assert task["capacityProviderName"] == "FARGATE"
    environment = task["overrides"]["containerOverrides"][0]["environment"]
    assert environment == [
        {"name": "UWS_JOB_ID", "value": job_id},
        {"name": "UWS_EXECUTION_DURATION", "value": "7200"},
    ]
    ec2 = boto3.client("ec2")  # in one of the tasks' own subnets (RunTask's awsvpc network)
    attachment = {d["name"]: d["value"] for d in task["attachments"][0]["details"]}
    assert attachment["subnetId"] in (api.refs["TaskSubnetA"], api.refs["TaskSubnetB"])
    assert ec2.describe_subnets(SubnetIds=[attachment["subnetId"]])["Subnets"]
    assert messages(api) == 0
    assert api.item(job_id)["phase"]["S"] == "QUEUED"
    # a job within the worker's limit is one message and no task
    short = api.create(EXECUTIONDURATION="870")
    run(api, short)
    assert messages(api) == 1 and len(tasks(api)) == 1


def test_phase_run_at_creation_starts_the_task_too(api):
    job_id = api.create(PHASE="RUN", **LONG)
    assert [t["startedBy"] for t in tasks(api)] == [job_id]


def test_a_container_job_type_runs_in_a_container_whatever_its_duration(api, monkeypatch):
    from uws.demo import DEMO
    from uws.jobtypes import register

    monkeypatch.setitem(__import__("uws.jobtypes").jobtypes._REGISTRY, "demo", DEMO)
    register(__import__("dataclasses").replace(DEMO, container=True))
    job_id = api.create(EXECUTIONDURATION="60", PHASE="RUN")
    assert [t["startedBy"] for t in tasks(api)] == [job_id]
    assert messages(api) == 0


def test_runtask_refused_leaves_the_job_pending_with_a_503(api, monkeypatch):
    from moto.ecs.models import EC2ContainerServiceBackend

    job_id = api.create(**LONG)  # ECS starts none: no capacity (RunTask's "failures")
    monkeypatch.setattr(EC2ContainerServiceBackend, "run_task", lambda *a, **k: [])
    reply = api.request("POST", f"/async/{job_id}/phase", data={"PHASE": "RUN"})
    assert reply.status == 503 and reply.headers["Retry-After"]
    assert reply.body.startswith("No container could be started for the job now")
    assert api.item(job_id)["phase"]["S"] == "PENDING"
    created = api.request("POST", "/async", data={"PHASE": "RUN", **LONG})
    assert created.status == 503  # and the job it would have made is gone
    assert len(api.request("GET", "/async").body.split("<uws:jobref")) == 2


def test_a_queued_worker_job_cannot_grow_past_the_workers_limit(api):
    job_id = api.create(EXECUTIONDURATION="600")
    run(api, job_id)
    api.request("POST", f"/async/{job_id}/executionduration", data={"EXECUTIONDURATION": "7200"})
    assert api.item(job_id)["executionDuration"]["N"] == "870"
    pending = api.create()
    api.request("POST", f"/async/{pending}/executionduration", data={"EXECUTIONDURATION": "7200"})
    assert api.item(pending)["executionDuration"]["N"] == "7200"


def start_in_task(api, job_id):
    """What uws.task does in the container: take the job to EXECUTING, naming its task."""
    from uws.service import build_service
    from uws.worker import _start

    service = build_service()
    (task,) = tasks(api, startedBy=job_id)
    job = _start(job_id, service, service.clock(), 7200, task["taskArn"])
    assert job is not None and job.task_arn == task["taskArn"]
    return task["taskArn"]


@pytest.mark.parametrize("how", ["abort", "delete"])
def test_abort_and_delete_stop_the_task(api, how):
    job_id = api.create(PHASE="RUN", **LONG)
    arn = start_in_task(api, job_id)
    if how == "abort":
        api.request("POST", f"/async/{job_id}/phase", data={"PHASE": "ABORT"})
    else:
        api.request("DELETE", f"/async/{job_id}")
    (task,) = tasks(api)
    assert task["taskArn"] == arn and task["desiredStatus"] == "STOPPED"
    assert task["stopCode"] == "UserInitiated"
    assert task["lastStatus"] == "RUNNING"  # until its container has exited (local.moto_containers)


def test_aborting_a_queued_job_stops_the_task_found_by_its_job(api):
    job_id = api.create(PHASE="RUN", **LONG)
    api.request("POST", f"/async/{job_id}/phase", data={"PHASE": "ABORT"})
    (task,) = tasks(api)
    assert task["desiredStatus"] == "STOPPED"


def test_the_reaper_ends_the_job_of_a_killed_task_and_only_that(api):
    killed, finished = api.create(PHASE="RUN", **LONG), api.create(PHASE="RUN", **LONG)
    killed_arn, finished_arn = start_in_task(api, killed), start_in_task(api, finished)
    stop_as_ecs(
        api, killed_arn, 137, reason="OutOfMemoryError: Container killed due to memory usage"
    )
    stop_as_ecs(api, finished_arn, 0)  # exited 0: it recorded its job's end itself
    assert api.sweep()["lost"] == 1
    error = api.request("GET", f"/async/{killed}/error").body
    assert error == (
        "The job's container stopped before the job ended (OutOfMemoryError: Container killed "
        "due to memory usage, exit code 137)."
    )
    assert api.item(killed)["phase"]["S"] == "ERROR"
    assert api.item(finished)["phase"]["S"] == "EXECUTING"
    assert api.sweep()["lost"] == 0  # once


def test_the_reaper_ends_a_queued_job_whose_task_never_started(api):
    job_id = api.create(PHASE="RUN", **LONG)
    (task,) = tasks(api)
    stop_as_ecs(api, task["taskArn"], None, stop_code="TaskFailedToStart")
    moto_task(api, task["taskArn"]).stopped_reason = "CannotPullContainerError: pull access denied"
    assert api.sweep()["lost"] == 1
    assert api.request("GET", f"/async/{job_id}/error").body == (
        "The job's container could not start: CannotPullContainerError: pull access denied."
    )


def test_the_reaper_stops_the_task_of_an_overdue_job(api):
    job_id = api.create(PHASE="RUN", **LONG)
    start_in_task(api, job_id)
    past = datetime.datetime(2001, 1, 1).isoformat(timespec="microseconds") + "Z"
    set_item(api, job_id, deadline=past)
    assert api.sweep()["timed_out"] == 1
    (task,) = tasks(api)
    assert task["desiredStatus"] == "STOPPED"
    assert "execution duration" in task["stoppedReason"]
