"""Make moto's ECS and Lambda layers behave as AWS does where the container runner depends on
it (uws.containers, local.fargate). As in :mod:`.moto_fixes`, each patch is named after the
AWS rule it imposes (docs/aws.md has a row for each); :func:`.moto_fixes.apply_all` applies
them.
"""

from __future__ import annotations

import inspect
import json
import os
from collections.abc import Callable, Sequence
from typing import Any

PATCHES: list[Callable[[], None]] = []


def patch(function: Callable[[], None]) -> Callable[[], None]:
    PATCHES.append(function)
    return function


# Fargate's task CPU units and the memory (MiB) each takes (ECS Developer Guide, "Amazon ECS
# task definition parameters for Fargate": Task CPU and memory).
FARGATE_MEMORY: dict[int, Sequence[int]] = {
    256: (512, 1024, 2048),
    512: range(1024, 4097, 1024),
    1024: range(2048, 8193, 1024),
    2048: range(4096, 16385, 1024),
    4096: range(8192, 30721, 1024),
    8192: range(16384, 61441, 4096),
    16384: range(32768, 122881, 8192),
}
ECS_SERVICE_LINKED_ROLE = "AWSServiceRoleForECS"


def fargate_takes(cpu: int, memory: int) -> bool:
    return memory in FARGATE_MEMORY.get(cpu, ())


def _before(backend: Any, name: str, check: Callable[[Any, dict[str, Any]], None]) -> None:
    """Run ``check(self, arguments)`` before moto's ``backend.name``; it may change them."""
    original = getattr(backend, name)
    signature = inspect.signature(original)

    def method(self: Any, *args: Any, **kwargs: Any) -> Any:
        bound = signature.bind(self, *args, **kwargs)
        check(self, bound.arguments)
        return original(*bound.args, **bound.kwargs)

    setattr(backend, name, method)


# ---- tasks -------------------------------------------------------------------------------


@patch
def fargate_container_memory_may_be_the_tasks() -> None:
    """A Fargate task definition may leave memory to the task (ECS Developer Guide, "Task
    definition parameters": container-level memory is optional for Fargate); moto adds up the
    containers' memory and fails (TypeError) on one that has none. Such a container counts as
    having the task's memory."""
    from moto.ecs.models import EC2ContainerServiceBackend

    requirements = EC2ContainerServiceBackend._calculate_task_resource_requirements

    def task_memory(task_definition: Any) -> Any:
        memory = task_definition.memory
        for container in task_definition.container_definitions:
            if not any(k in container for k in ("memory", "memoryReservation", "Memory")):
                container.setdefault("memory", int(memory or 0))
        return requirements(task_definition)

    EC2ContainerServiceBackend._calculate_task_resource_requirements = staticmethod(task_memory)  # type: ignore[method-assign]


@patch
def stop_task_asks_and_the_agent_stops() -> None:
    """ECS reports a task's lastStatus as its agent sees it: StopTask sets only desiredStatus,
    and lastStatus follows once the container has exited (ECS Developer Guide, "Task
    lifecycle"). moto set lastStatus STOPPED at once and advanced every task a step on each
    DescribeTasks; here lastStatus is what local.fargate, the local agent, says."""
    from moto.ecs.models import EC2ContainerServiceBackend, Task

    def stop_task(self: Any, cluster_str: str, task_str: str, reason: str) -> Any:
        cluster = self._get_cluster(cluster_str)
        task_id = task_str.split("/")[-1]
        for arn, task in self.tasks.get(cluster.name, {}).items():
            if arn.endswith(task_id):
                task.desired_status = "STOPPED"
                task.stopped_reason = reason or "Task stopped by user"
                task.stop_code = "UserInitiated"
                return task
        raise Exception(f"Could not find task {task_str} on cluster {cluster.name}")

    EC2ContainerServiceBackend.stop_task = stop_task  # type: ignore[method-assign]
    Task.advance = lambda self: None  # type: ignore[method-assign]


@patch
def list_tasks_by_started_by_takes_no_other_filter() -> None:
    """ListTasks: ``startedBy`` must be the only filter, and without ``desiredStatus`` only
    tasks whose desired status is RUNNING are listed (ECS API Reference, ListTasks). moto
    took any mix and listed every task."""
    from moto.ecs.exceptions import InvalidParameterException
    from moto.ecs.models import EC2ContainerServiceBackend

    def list_tasks(self: Any, given: dict[str, Any]) -> None:
        others = ("container_instance", "family", "service_name", "desiredStatus")
        if given.get("started_by") and any(given.get(k) for k in others):
            raise InvalidParameterException(
                "startedBy may not be combined with any other filter of ListTasks."
            )
        given["desiredStatus"] = given.get("desiredStatus") or "RUNNING"

    _before(EC2ContainerServiceBackend, "list_tasks", list_tasks)


@patch
def fargate_takes_only_its_cpu_and_memory_pairs() -> None:
    """A Fargate task definition's CPU and memory must be one of Fargate's pairs; ECS refuses
    the registration ("No Fargate configuration exists for given values"), moto took any."""
    from moto.ecs.exceptions import EcsClientException
    from moto.ecs.models import EC2ContainerServiceBackend

    def register_task_definition(self: Any, given: dict[str, Any]) -> None:
        cpu, memory = given.get("cpu"), given.get("memory")
        fargate = "FARGATE" in (given.get("requires_compatibilities") or [])
        if fargate and not fargate_takes(int(cpu or 0), int(memory or 0)):
            raise EcsClientException(
                f"No Fargate configuration exists for given values: {cpu} CPU, {memory} memory."
                " See the Amazon ECS documentation for the valid values."
            )

    _before(EC2ContainerServiceBackend, "register_task_definition", register_task_definition)


@patch
def capacity_providers_are_the_clusters_and_spot_is_x86_only() -> None:
    """RunTask with a capacity provider strategy: each provider must be associated with the
    cluster, and Fargate Spot runs X86_64 tasks only (ECS Developer Guide, "Fargate capacity
    providers"; "Amazon ECS task definitions for 64-bit ARM workloads"). moto ran anything."""
    from moto.ecs.exceptions import InvalidParameterException
    from moto.ecs.models import EC2ContainerServiceBackend

    def run_task(self: Any, given: dict[str, Any]) -> None:
        strategy = given.get("capacity_provider_strategy") or []
        associated = self._get_cluster(given["cluster_str"]).capacity_providers or []
        if strategy:
            definition = self.describe_task_definition(given["task_definition_str"])
            platform = (definition.runtime_platform or {}).get("cpuArchitecture", "X86_64")
        for item in strategy:
            if item["capacityProvider"] not in associated:
                raise InvalidParameterException(
                    "The specified capacity provider strategy cannot contain a capacity"
                    " provider that is not associated with the cluster."
                )
            if item["capacityProvider"] == "FARGATE_SPOT" and platform != "X86_64":
                raise InvalidParameterException(
                    f"Fargate Spot runs X86_64 tasks only, not {platform}."
                )

    _before(EC2ContainerServiceBackend, "run_task", run_task)


@patch
def a_cluster_with_capacity_providers_needs_the_service_linked_role() -> None:
    """CreateCluster with capacity providers needs ECS's service-linked role to exist already:
    in an account that never used ECS it fails ("Unable to assume the service linked role")
    and makes the role, so a later call succeeds (ECS Developer Guide, "Using service-linked
    roles for Amazon ECS"). moto needed no role; every local deployment is a first one."""
    from moto.ecs.exceptions import InvalidParameterException
    from moto.ecs.models import EC2ContainerServiceBackend
    from moto.iam.models import iam_backends

    def create_cluster(self: Any, given: dict[str, Any]) -> None:
        iam = iam_backends[self.account_id]["aws"]
        if any(role.name.lower() == ECS_SERVICE_LINKED_ROLE.lower() for role in iam.get_roles()):
            return
        iam.create_service_linked_role("ecs.amazonaws.com", "", "")
        if given.get("capacity_providers"):
            raise InvalidParameterException(
                "Unable to assume the service linked role. Please verify that the ECS service"
                " linked role exists."
            )

    _before(EC2ContainerServiceBackend, "create_cluster", create_cluster)


# ---- layers and IAM ----------------------------------------------------------------------


@patch
def get_layer_version_gives_a_presigned_url() -> None:
    """GetLayerVersion answers with Content.Location, a presigned URL of the layer's zip
    (Lambda API Reference, "GetLayerVersion"); moto answered "s3://". For a layer published
    from S3 (as local.resources does) it is a presigned URL of that object on moto's server."""
    from moto.awslambda.models import LayerVersion

    layer_version = LayerVersion.get_layer_version

    def located(self: Any) -> dict[str, Any]:
        answer = layer_version(self)
        bucket, key = self.content.get("S3Bucket"), self.content.get("S3Key")
        endpoint = os.environ.get("AWS_ENDPOINT_URL_S3")
        if bucket and key and endpoint:
            import boto3
            from botocore.config import Config

            s3 = boto3.client("s3", endpoint_url=endpoint, region_name=self.region,
                              config=Config(signature_version="s3v4"))  # fmt: skip
            answer["Content"]["Location"] = s3.generate_presigned_url(
                "get_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=600
            )
        return answer

    LayerVersion.get_layer_version = located  # type: ignore[method-assign]


@patch
def iam_authorizes_tasks_and_layers_on_their_arns() -> None:
    """IAM authorizes RunTask against the task definition's ARN, StopTask and DescribeTasks
    against the task's, and GetLayerVersion against the layer version's (Service
    Authorization Reference); moto checked them against "*", which a least-privilege policy
    does not name."""
    from moto.awslambda.responses import LambdaResponse
    from moto.ecs.responses import EC2ContainerServiceResponse

    def ecs_resource(self: Any) -> str:
        body = json.loads(self.body or "{}") if isinstance(self.body, (str, bytes)) else {}
        prefix = f"arn:aws:ecs:{self.region}:{self.current_account}"
        action = self._get_action()
        if action == "RunTask":
            named = body.get("taskDefinition", "")
            return named if named.startswith("arn:") else f"{prefix}:task-definition/{named}"
        if action in ("StopTask", "DescribeTasks"):
            tasks = [body["task"]] if "task" in body else body.get("tasks") or [""]
            cluster = body.get("cluster", "default").rsplit("/", 1)[-1]
            return tasks[0] if tasks[0].startswith("arn:") else (
                f"{prefix}:task/{cluster}/{tasks[0]}"
            )  # fmt: skip
        return "*"

    def layer_resource(self: Any) -> str:
        """A layer version: GET /2018-10-31/layers/{name}/versions/{number}."""
        parts = self.path.split("/")
        if len(parts) >= 6 and parts[2] == "layers" and parts[4] == "versions":
            from urllib.parse import unquote

            name = unquote(parts[3])
            if not name.startswith("arn:"):
                name = f"arn:aws:lambda:{self.region}:{self.current_account}:layer:{name}"
            return f"{name}:{parts[5]}"
        return "*"

    EC2ContainerServiceResponse._determine_resource = ecs_resource  # type: ignore[attr-defined]
    LambdaResponse._determine_resource = layer_resource  # type: ignore[attr-defined]


@patch
def lambda_calls_are_authorized_by_the_callers_policies() -> None:
    """Lambda authorizes a call by its caller's policies; moto's server refuses the SigV4
    signature of a Lambda GET made with temporary credentials (a task role's), so here the
    policies are checked without moto's signature check (docs/aws.md lists the gap)."""
    from moto.awslambda.responses import LambdaResponse

    def unsigned_check(self: Any, resource: str = "*") -> None:
        from moto import settings
        from moto.core.authorization import ActionAuthenticatorMixin
        from moto.iam.access_control import IAMRequest

        if ActionAuthenticatorMixin.request_count < settings.INITIAL_NO_AUTH_ACTION_COUNT:
            ActionAuthenticatorMixin.request_count += 1
            return
        IAMRequest(
            account_id=self.current_account, method=self.method, path=self.raw_path,
            data=self.data, body=self.raw_body, headers=self.headers, action=self._get_action(),
        ).check_action_permitted(resource)  # fmt: skip

    LambdaResponse._authenticate_and_authorize_normal_action = unsigned_check  # type: ignore[method-assign]
