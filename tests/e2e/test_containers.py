"""Jobs longer than the Lambda worker runs, in `make serve` over HTTP: each runs as a process
of its own, started through RunTask (moto's ECS records it) under the task role's IAM
policy, and stopped by ABORT or the reaper as ECS stops a task (docs/architecture.md,
"Container jobs")."""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
import requests
from lxml import etree

from .conftest import Server, running_server

UWS = {"uws": "http://www.ivoa.net/xml/UWS/v1.0"}


@pytest.fixture(scope="module")
def service() -> Iterator[Server]:
    with running_server() as running:  # ENFORCE_IAM=1, the reaper every second
        yield running


def create(server: Server, **params: str) -> str:
    reply = requests.post(server.jobs, data=params, allow_redirects=False, timeout=10)
    assert reply.status_code == 303, reply.text
    return reply.headers["Location"]


def job_xml(job: str, **query: str) -> etree._Element:
    return etree.fromstring(requests.get(job, params=query, timeout=30).content)


def phase(job: str) -> str:
    return requests.get(f"{job}/phase", timeout=10).text


def wait_for(predicate, seconds: float) -> float:
    """Seconds until ``predicate()`` held (polling); fails after ``seconds``."""
    start = time.monotonic()
    while not predicate():
        assert time.monotonic() - start < seconds, "timed out"
        time.sleep(0.1)
    return time.monotonic() - start


def task_process(job_id: str) -> int | None:
    """The pid of the process running ``job_id``'s task (its environment names the job)."""
    wanted = f"UWS_JOB_ID={job_id}".encode()
    for proc in Path("/proc").iterdir():
        try:
            if proc.name.isdigit() and wanted in (proc / "environ").read_bytes().split(b"\0"):
                return int(proc.name)
        except OSError:
            continue
    return None


def alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except OSError:
        return False


def embedded(server: Server, service: str):
    """A client of the service's embedded AWS, with the harness's keys; its resources."""
    state = json.loads(server.state.read_text())
    harness = state["harness"]
    client = boto3.client(
        service, endpoint_url=state["endpoint"].replace("127.0.0.1", "localhost"),
        region_name="us-east-1", aws_access_key_id=harness["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=harness["AWS_SECRET_ACCESS_KEY"],
    )  # fmt: skip
    return client, state["refs"]


def ecs_tasks(server: Server, job_id: str) -> list[dict]:
    """The job's tasks as ECS reports them."""
    ecs, refs = embedded(server, "ecs")
    cluster = refs["JobCluster"]
    arns = []  # startedBy only alone (ECS API Reference, ListTasks): the job's picked after
    for status in ("RUNNING", "STOPPED"):
        arns += ecs.list_tasks(cluster=cluster, desiredStatus=status)["taskArns"]
    found = ecs.describe_tasks(cluster=cluster, tasks=arns)["tasks"] if arns else []
    return [task for task in found if task.get("startedBy") == job_id]


def test_a_two_hour_job_keeps_its_duration_and_completes_in_a_container(service):
    job = create(service, EXECUTIONDURATION="7200", DURATION="1", TEXT="long", PHASE="RUN")
    job_id = job.rsplit("/", 1)[1]
    assert requests.get(f"{job}/executionduration", timeout=10).text == "7200"
    wait_for(lambda: phase(job) == "COMPLETED", 60)
    root = job_xml(job)
    assert root.findtext("uws:executionDuration", namespaces=UWS) == "7200"
    result = requests.get(f"{job}/results/result", timeout=10)
    assert result.status_code == 200 and b"long" in result.content
    # the process exits just after it recorded the end; the agent reports it then
    wait_for(lambda: ecs_tasks(service, job_id)[0]["lastStatus"] == "STOPPED", 10)
    (task,) = ecs_tasks(service, job_id)
    assert task["containers"][0]["exitCode"] == 0
    overrides = task["overrides"]["containerOverrides"][0]["environment"]
    assert {"name": "UWS_EXECUTION_DURATION", "value": "7200"} in overrides
    # the task named itself from its metadata endpoint when it took the job
    dynamodb, refs = embedded(service, "dynamodb")
    item = dynamodb.get_item(TableName=refs["JobsTable"], Key={"jobId": {"S": job_id}})["Item"]
    assert item["taskArn"]["S"] == task["taskArn"]
    # a job within the Lambda worker's limit starts no task
    short = create(service, EXECUTIONDURATION="600", PHASE="RUN")
    wait_for(lambda: phase(short) == "COMPLETED", 30)
    assert ecs_tasks(service, short.rsplit("/", 1)[1]) == []


def test_abort_stops_the_jobs_process_within_seconds(service):
    job = create(service, EXECUTIONDURATION="7200", DURATION="3600", PHASE="RUN")
    job_id = job.rsplit("/", 1)[1]
    wait_for(lambda: phase(job) == "EXECUTING", 30)
    pid = task_process(job_id)
    assert pid is not None and alive(pid)
    aborted = requests.post(f"{job}/phase", data={"PHASE": "ABORT"}, allow_redirects=False,
                            timeout=10)  # fmt: skip
    assert aborted.status_code == 303
    took = wait_for(lambda: not alive(pid), 10)
    assert took < 5
    assert phase(job) == "ABORTED"
    (task,) = ecs_tasks(service, job_id)
    assert task["desiredStatus"] == "STOPPED" and task["stopCode"] == "UserInitiated"


def test_a_killed_process_ends_its_job_in_error_within_one_sweep(service):
    job = create(service, EXECUTIONDURATION="7200", DURATION="3600", PHASE="RUN")
    job_id = job.rsplit("/", 1)[1]
    wait_for(lambda: phase(job) == "EXECUTING", 30)
    pid = task_process(job_id)
    assert pid is not None
    os.kill(pid, signal.SIGKILL)  # as the kernel's OOM killer would
    took = wait_for(lambda: phase(job) == "ERROR", 10)
    assert took < 3  # the reaper sweeps every second here; ECS lists a stopped task at once
    message = requests.get(f"{job}/error", timeout=10).text
    assert "stopped before the job ended" in message and "exit code 137" in message
    (task,) = ecs_tasks(service, job_id)
    assert task["stopCode"] == "EssentialContainerExited"


def test_a_task_stopped_from_outside_ends_its_job_in_error_at_once(service):
    """StopTask by someone else (an operator, Fargate's maintenance): SIGTERM, and the job
    records why before the process exits."""
    job = create(service, EXECUTIONDURATION="7200", DURATION="3600", PHASE="RUN")
    job_id = job.rsplit("/", 1)[1]
    wait_for(lambda: phase(job) == "EXECUTING", 30)
    (task,) = ecs_tasks(service, job_id)
    ecs, refs = embedded(service, "ecs")
    ecs.stop_task(cluster=refs["JobCluster"], task=task["taskArn"], reason="maintenance")
    wait_for(lambda: phase(job) == "ERROR", 10)
    message = requests.get(f"{job}/error", timeout=10).text
    assert message == "The job's container was stopped before the job ended."
    wait_for(lambda: ecs_tasks(service, job_id)[0]["lastStatus"] == "STOPPED", 10)
    assert ecs_tasks(service, job_id)[0]["containers"][0]["exitCode"] == 0  # its end recorded
