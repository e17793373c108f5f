"""Deployment settings, read once per container from the environment the template sets."""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cache

# The largest body that reaches the function whatever its encoding: Lambda takes 6 MB of event
# JSON for a synchronous invocation (Lambda quotas, "Invocation payload"), API Gateway
# base64-encodes binary media types (a third larger), and headers, query and request context
# come on top. 4 MiB in base64 is 5.34 MiB, leaving room for those; a larger body gets a 413
# with a sentence while it still reaches us, and API Gateway's 413 (the same sentence, the
# template's REQUEST_TOO_LARGE response) when Lambda refuses the event beyond 6 MB.
MAX_BODY_BYTES = 4 * 1024 * 1024

# The longest a job may run on the Lambda worker: its function's timeout is Lambda's maximum,
# 900 s (Lambda quotas, "Function timeout"), and a job must end by its own deadline check
# before that. Longer jobs run as container tasks (uws.containers), when the deployment has them.
LAMBDA_MAX_EXECUTION_DURATION = 870


def _int(name: str, default: int) -> int:
    return int(os.environ.get(name, default))


@dataclass(frozen=True)
class TaskSettings:
    """Where and how RunTask starts a job's container (template.yaml, JobTaskDefinition)."""

    cluster: str = ""
    task_definition: str = ""
    container: str = "job"
    subnets: tuple[str, ...] = ()
    security_groups: tuple[str, ...] = ()
    public_ip: bool = False

    @property
    def available(self) -> bool:
        return bool(self.cluster and self.task_definition and self.subnets)

    @property
    def family(self) -> str:
        """The task definition's family (its ARN without the revision)."""
        return self.task_definition.rsplit("/", 1)[-1].split(":")[0]


def _list(name: str) -> tuple[str, ...]:
    return tuple(filter(None, (v.strip() for v in os.environ.get(name, "").split(","))))


@dataclass(frozen=True)
class Settings:
    """The deployment's settings, read once from the function's environment."""

    table: str
    bucket: str
    queue_url: str
    job_type: str
    auth_mode: str  # "anonymous", "iam" or "cognito": whether a caller must be known
    default_execution_duration: int
    max_execution_duration: int  # on the container runner; see execution_duration_limit
    default_destruction_days: int
    max_destruction_days: int
    wait_cap: int
    queue_timeout: int  # seconds a job may stay QUEUED before the reaper gives up on it
    max_body_bytes: int
    job_list_page_size: int  # the most jobs one job list response holds
    presign_seconds: int
    idempotency_table: str  # Idempotency-Key records (uws.web.idempotency)
    max_active_jobs_per_owner: int  # QUEUED + EXECUTING; a RUN beyond it is HELD; 0: no limit
    public_base_url: str | None  # overrides the base URL derived from the request
    tasks: TaskSettings  # the container runner (ECS Fargate); empty without one

    @property
    def execution_duration_limit(self) -> int:
        """The most seconds a job may run here: MaxExecutionDuration with a container runner,
        else what the Lambda worker can run."""
        if self.tasks.available:
            return self.max_execution_duration
        return min(self.max_execution_duration, LAMBDA_MAX_EXECUTION_DURATION)

    @property
    def anonymous_allowed(self) -> bool:
        return self.auth_mode == "anonymous"


@cache
def settings() -> Settings:
    """The settings of this container; tests call ``settings.cache_clear()`` after changing env."""
    return Settings(
        table=os.environ.get("JOBS_TABLE", "uws-jobs"),
        bucket=os.environ.get("RESULTS_BUCKET", "uws-results"),
        queue_url=os.environ.get("JOBS_QUEUE_URL", ""),
        job_type=os.environ.get("JOB_TYPE", "demo"),
        auth_mode=os.environ.get("AUTH_MODE", "anonymous").lower(),
        default_execution_duration=_int("DEFAULT_EXECUTION_DURATION", 600),
        max_execution_duration=_int("MAX_EXECUTION_DURATION", 43200),
        default_destruction_days=_int("DEFAULT_DESTRUCTION_DAYS", 7),
        max_destruction_days=_int("MAX_DESTRUCTION_DAYS", 30),
        wait_cap=_int("WAIT_CAP_SECONDS", 20),
        queue_timeout=_int("QUEUE_TIMEOUT_SECONDS", 86400),
        max_body_bytes=_int("MAX_BODY_BYTES", MAX_BODY_BYTES),
        job_list_page_size=_int("JOB_LIST_PAGE_SIZE", 1000),
        presign_seconds=_int("PRESIGN_SECONDS", 300),
        idempotency_table=os.environ.get("IDEMPOTENCY_TABLE", "uws-idempotency"),
        max_active_jobs_per_owner=_int("MAX_ACTIVE_JOBS_PER_OWNER", 0),
        public_base_url=os.environ.get("PUBLIC_BASE_URL") or None,
        tasks=TaskSettings(
            cluster=os.environ.get("TASK_CLUSTER", ""),
            task_definition=os.environ.get("TASK_DEFINITION", ""),
            container=os.environ.get("TASK_CONTAINER", "job"),
            subnets=_list("TASK_SUBNETS"),
            security_groups=_list("TASK_SECURITY_GROUPS"),
            public_ip=os.environ.get("TASK_PUBLIC_IP", "").upper() == "ENABLED",
        ),
    )
