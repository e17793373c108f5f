"""The container runner, in-process under IAM: which RUN becomes a RunTask, what it asks ECS
for, what a refused one leaves, and how ABORT, DELETE and the reaper stop tasks and end the
jobs of tasks that died (docs/architecture.md, "Container jobs")."""

from __future__ import annotations

import datetime

import boto3
import pytest

from tests.conftest import set_item

LONG = {"EXECUTIONDURATION": "7200"}


def tasks(api, startedBy: str | None = None) -> list[dict]:
    """Every task of the cluster, running or stopped (ListTasks takes startedBy only alone,
    so the tasks a job started are picked from them)."""
    ecs = boto3.client("ecs")
    arns = []
    for status in ("RUNNING", "STOPPED"):
        arns += ecs.list_tasks(cluster=api.refs["JobCluster"], desiredStatus=status)["taskArns"]
    found = ecs.describe_tasks(cluster=api.refs["JobCluster"], tasks=arns)["tasks"] if arns else []
    return [t for t in found if startedBy in (None, t.get("startedBy"))]


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
    assert task["launchType"] == "FARGATE" and "capacityProviderName" not in task
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


# ---- ECS's rules the embedded ECS imposes (local.moto_containers, fixes 13 to 16) ----------


def test_listtasks_takes_startedby_only_alone_and_lists_running_tasks_by_default(api):
    """ECS API Reference, ListTasks: "When you specify startedBy as the filter, it must be the
    only filter that you use"; without desiredStatus only RUNNING ones are listed."""
    ecs, cluster = boto3.client("ecs"), api.refs["JobCluster"]
    job_id = api.create(**LONG)
    run(api, job_id)
    (arn,) = ecs.list_tasks(cluster=cluster, startedBy=job_id)["taskArns"]
    for other in ({"desiredStatus": "RUNNING"}, {"family": "uws-jobs"}):
        with pytest.raises(ecs.exceptions.InvalidParameterException):
            ecs.list_tasks(cluster=cluster, startedBy=job_id, **other)
    ecs.stop_task(cluster=cluster, task=arn, reason="test")
    assert ecs.list_tasks(cluster=cluster, startedBy=job_id)["taskArns"] == []
    assert ecs.list_tasks(cluster=cluster, desiredStatus="STOPPED")["taskArns"] == [arn]


@pytest.mark.parametrize("cpu, memory", [("256", "4096"), ("1024", "1024"), ("4096", "31744")])
def test_ecs_refuses_a_fargate_task_definition_fargate_cannot_run(api, cpu, memory):
    """ECS Developer Guide, "Amazon ECS task definition parameters for Fargate": only these
    pairs of task CPU and memory."""
    ecs = boto3.client("ecs")
    definition = ecs.describe_task_definition(taskDefinition=api.refs["JobTaskDefinition"])
    definition = definition["taskDefinition"]
    keep = ("family", "containerDefinitions", "networkMode", "requiresCompatibilities",
            "runtimePlatform", "executionRoleArn", "taskRoleArn")  # fmt: skip
    again = {k: definition[k] for k in keep}
    with pytest.raises(ecs.exceptions.ClientException, match="No Fargate configuration"):
        ecs.register_task_definition(**again, cpu=cpu, memory=memory)
    ecs.register_task_definition(**again, cpu="4096", memory="30720")


def test_runtask_refuses_spot_for_arm64_and_providers_the_cluster_lacks(api):
    """Fargate Spot runs X86_64 tasks only (ECS Developer Guide, "Amazon ECS task definitions
    for 64-bit ARM workloads"), and a strategy names providers of the cluster only."""
    ecs, cluster = boto3.client("ecs"), api.refs["JobCluster"]
    network = {
        "awsvpcConfiguration": {
            "subnets": [api.refs["TaskSubnetA"]],
            "securityGroups": [api.refs["TaskSecurityGroup"]],
        }
    }
    spot = boto3.client("ecs").create_cluster(
        clusterName="spot", capacityProviders=["FARGATE", "FARGATE_SPOT"]
    )["cluster"]["clusterArn"]
    for name, provider in ((cluster, "FARGATE"), (spot, "FARGATE_SPOT")):
        with pytest.raises(ecs.exceptions.InvalidParameterException):
            ecs.run_task(cluster=name, taskDefinition=api.refs["JobTaskDefinition"],
                         capacityProviderStrategy=[{"capacityProvider": provider}],
                         networkConfiguration=network)  # fmt: skip
    assert ecs.run_task(cluster=cluster, taskDefinition=api.refs["JobTaskDefinition"],
                        launchType="FARGATE", networkConfiguration=network)["tasks"]  # fmt: skip


def test_a_cluster_with_capacity_providers_fails_where_ecs_has_no_service_linked_role():
    """ECS Developer Guide, "Using service-linked roles for Amazon ECS": CreateCluster makes
    the role, but one naming capacity providers fails in an account that has none yet, as a
    stack's first deploy would."""
    from moto import mock_aws

    with mock_aws():
        ecs = boto3.client("ecs", region_name="us-east-1")
        with pytest.raises(ecs.exceptions.InvalidParameterException, match="service linked"):
            ecs.create_cluster(clusterName="c", capacityProviders=["FARGATE"])
        assert ecs.create_cluster(clusterName="c", capacityProviders=["FARGATE"])["cluster"]
