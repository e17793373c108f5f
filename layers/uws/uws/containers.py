"""The container runner: jobs longer than the Lambda worker can run, as ECS Fargate tasks, and
the only module that calls ECS.

A job runs in a container when its job type says so or its execution duration is above what
the Lambda worker can run (``LAMBDA_MAX_EXECUTION_DURATION``). RUN starts its task with one
RunTask (``startedBy`` the job id, so the task can be found before it has said who it is);
the task runs ``uws.task`` with the same layer and job types as the worker, and records its
own ARN when it takes the job to EXECUTING. ABORT, DELETE and the reaper stop the task;
the reaper also finds tasks that stopped without ending their job (docs/architecture.md,
"Container jobs").
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from . import aws
from .aws import ClientError
from .config import LAMBDA_MAX_EXECUTION_DURATION, TaskSettings
from .errors import ServiceUnavailable
from .job import Job
from .jobtypes import JobType
from .telemetry import logger

DESCRIBE_BATCH = 100  # DescribeTasks takes at most 100 tasks (ECS API Reference)


def runs_in_container(job_type: JobType, execution_duration: int) -> bool:
    return job_type.container or execution_duration > LAMBDA_MAX_EXECUTION_DURATION


@dataclass(frozen=True)
class StoppedTask:
    """A job's task that has stopped, and what ECS says of why."""

    job_id: str
    task_arn: str
    exit_code: int | None  # None: the container never ran, or ECS does not know
    message: str


class ContainerTasks:
    def __init__(self, settings: TaskSettings) -> None:
        self.settings = settings

    @property
    def available(self) -> bool:
        return self.settings.available

    def start(self, job_id: str, execution_duration: int, attempt: int) -> None:
        """RunTask for the job; ServiceUnavailable if ECS starts none (capacity, quotas,
        throttling), so that RUN can put the job back to PENDING. ``attempt`` (the job's
        version once queued) tells a new RUN from a retry of the same call."""
        config = self.settings
        if not config.available:
            raise ServiceUnavailable("This service has no container runner for long jobs.")
        environment = [
            {"name": "UWS_JOB_ID", "value": job_id},
            {"name": "UWS_EXECUTION_DURATION", "value": str(execution_duration)},
        ]
        network = {
            "subnets": list(config.subnets),
            "securityGroups": list(config.security_groups),
            "assignPublicIp": "ENABLED" if config.public_ip else "DISABLED",
        }
        try:
            with aws.translated_errors():
                response = _ecs().run_task(
                    cluster=config.cluster,
                    taskDefinition=config.task_definition,
                    count=1,
                    startedBy=job_id,
                    clientToken=f"{job_id}-{attempt}",  # a retried call starts no second task
                    launchType="FARGATE",  # the cluster has no capacity providers (template.yaml)
                    networkConfiguration={"awsvpcConfiguration": network},
                    overrides={
                        "containerOverrides": [
                            {"name": config.container, "environment": environment}
                        ]
                    },
                )
        except ClientError as error:
            logger.exception("RunTask failed", extra={"job_id": job_id})
            raise ServiceUnavailable("No container could be started for the job now.") from error
        if response.get("failures") or not response.get("tasks"):
            reasons = "; ".join(f.get("reason", "?") for f in response.get("failures", []))
            logger.warning("RunTask started no task", extra={"job_id": job_id, "why": reasons})
            why = f" ({reasons[:200]})" if reasons else ""
            raise ServiceUnavailable(f"No container could be started for the job now{why}.")
        task = response["tasks"][0]["taskArn"]
        logger.info("task started", extra={"job_id": job_id, "task": task})

    def stop(self, job: Job, reason: str) -> None:
        """Stop the job's task (ECS sends it SIGTERM, then SIGKILL after the task definition's
        stop timeout). A job that has not recorded its task yet is found by ``startedBy``.
        Failures are logged, not raised: the job's state is already written, the task sees it
        at its next check, and the reaper stops tasks of jobs it ends."""
        if not self.available:
            return
        try:
            arns = [job.task_arn] if job.task_arn else self._tasks_of(job.job_id)
            for arn in arns:
                _ecs().stop_task(cluster=self.settings.cluster, task=arn, reason=reason[:255])
                logger.info("task stopped", extra={"job_id": job.job_id, "task": arn})
        except ClientError:
            logger.exception("StopTask failed", extra={"job_id": job.job_id})

    def _tasks_of(self, job_id: str) -> list[str]:
        """The job's tasks that ECS has not been asked to stop. ``startedBy`` must be
        ListTasks' only filter (ECS API Reference, ListTasks), and without ``desiredStatus``
        it lists tasks whose desired status is RUNNING, as this wants."""
        response = _ecs().list_tasks(cluster=self.settings.cluster, startedBy=job_id)
        return list(response.get("taskArns", []))

    def stopped(self) -> Iterator[StoppedTask]:
        """The tasks of this deployment's family that have stopped (ECS lists a stopped task
        for at least an hour), with the job each ran."""
        if not self.available:
            return
        ecs = _ecs()
        pages = ecs.get_paginator("list_tasks").paginate(
            cluster=self.settings.cluster, family=self.settings.family, desiredStatus="STOPPED"
        )
        arns = [arn for page in pages for arn in page.get("taskArns", [])]
        for start in range(0, len(arns), DESCRIBE_BATCH):
            described = ecs.describe_tasks(
                cluster=self.settings.cluster, tasks=arns[start : start + DESCRIBE_BATCH]
            )
            for task in described.get("tasks", []):
                if task.get("lastStatus") == "STOPPED" and task.get("startedBy"):
                    yield _stopped_task(task, self.settings.container)


def _stopped_task(task: dict[str, Any], container_name: str) -> StoppedTask:
    """What a stopped task says: the container's exit code and reason, the task's stop code
    and reason (OutOfMemoryError, SpotInterruption, CannotPullContainerError …)."""
    container = next((c for c in task.get("containers", []) if c.get("name") == container_name), {})
    exit_code = container.get("exitCode")
    if task.get("stopCode") == "TaskFailedToStart":
        why = task.get("stoppedReason") or container.get("reason") or "no reason given"
        message = f"The job's container could not start: {why}."
    else:
        details = [container.get("reason") or task.get("stoppedReason") or "no reason given"]
        if exit_code is not None:
            details.append(f"exit code {exit_code}")
        message = f"The job's container stopped before the job ended ({', '.join(details)})."
    return StoppedTask(task["startedBy"], task["taskArn"], exit_code, message)


def _ecs() -> Any:
    return aws.client("ecs")
