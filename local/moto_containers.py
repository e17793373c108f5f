"""Make moto's ECS and Lambda layers behave as AWS does where the container runner depends
on it (uws.containers, local.fargate). Numbered after local.moto_fixes.

8. A Fargate task definition may leave memory to the task (ECS Developer Guide, "Task
   definition parameters": for Fargate, container-level memory is optional); moto adds up
   the containers' memory and fails (TypeError) on one that has none. Such a container counts
   as having the task's memory.

9. ECS reports a task's lastStatus as its agent sees it: StopTask sets only desiredStatus
   (STOPPED), and lastStatus follows once the container has exited (ECS Developer Guide, "Task
   lifecycle"). moto sets lastStatus STOPPED at once, and advances every task one step along
   RUNNING → … → STOPPED on each DescribeTasks. Here lastStatus is what local.fargate, the
   local agent, says; StopTask changes only desiredStatus and the reason.

10. GetLayerVersion answers with Content.Location, a presigned URL of the layer's zip (Lambda
    API Reference, "GetLayerVersion"); moto answers "s3://". For a layer published from S3 (as
    local.resources does) it is a presigned URL of that object on moto's server.

11. IAM authorizes RunTask against the task definition's ARN, StopTask and DescribeTasks
    against the task's, and GetLayerVersion against the layer version's (Service Authorization
    Reference); moto checks them against "*", which a least-privilege policy does not name.

13. ListTasks: ``startedBy`` must be the only filter, and without ``desiredStatus`` only tasks
    whose desired status is RUNNING are listed (ECS API Reference, ListTasks). moto took any
    mix and listed every task.

14. A Fargate task definition's CPU and memory must be one of Fargate's pairs (ECS Developer
    Guide, "Amazon ECS task definition parameters for Fargate", Task CPU and memory); ECS
    refuses the registration ("No Fargate configuration exists for given values"), moto took
    any.

15. RunTask with a capacity provider strategy: each provider must be associated with the
    cluster, and Fargate Spot runs X86_64 tasks only (ECS Developer Guide, "Fargate capacity
    providers"; "Amazon ECS task definitions for 64-bit ARM workloads"). moto ran anything.

16. CreateCluster with capacity providers needs ECS's service-linked role to exist already: in
    an account that has never used ECS the call fails ("Unable to assume the service linked
    role"), and makes the role, so a later call succeeds (ECS Developer Guide, "Using
    service-linked roles for Amazon ECS"). moto needed no role.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from typing import Any

_patched = False

# Fargate's task CPU units and the memory (MiB) each takes (fix 14).
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


def fix_containers() -> None:
    global _patched
    if _patched:
        return
    _patched = True
    from moto.awslambda.models import LayerVersion
    from moto.awslambda.responses import LambdaResponse
    from moto.ecs.models import EC2ContainerServiceBackend, Task
    from moto.ecs.responses import EC2ContainerServiceResponse

    requirements = EC2ContainerServiceBackend._calculate_task_resource_requirements

    def task_memory(task_definition: Any) -> Any:
        """Fix 8."""
        memory = task_definition.memory
        for container in task_definition.container_definitions:
            if not any(k in container for k in ("memory", "memoryReservation", "Memory")):
                container.setdefault("memory", int(memory or 0))
        return requirements(task_definition)

    EC2ContainerServiceBackend._calculate_task_resource_requirements = staticmethod(task_memory)  # type: ignore[method-assign]

    def stop_task(self: Any, cluster_str: str, task_str: str, reason: str) -> Any:
        """Fix 9: StopTask asks; the agent stops."""
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

    layer_version = LayerVersion.get_layer_version

    def located(self: Any) -> dict[str, Any]:
        """Fix 10."""
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

    def ecs_resource(self: Any) -> str:
        """Fix 11, for ECS."""
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
        """Fix 11, for a layer version (GET /2018-10-31/layers/{name}/versions/{number})."""
        parts = self.path.split("/")
        if len(parts) >= 6 and parts[2] == "layers" and parts[4] == "versions":
            from urllib.parse import unquote

            name = unquote(parts[3])
            if not name.startswith("arn:"):
                name = f"arn:aws:lambda:{self.region}:{self.current_account}:layer:{name}"
            return f"{name}:{parts[5]}"
        return "*"

    def unsigned_check(self: Any, resource: str = "*") -> None:
        """Fix 12: the caller's policies, without moto's signature check."""
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

    _fix_ecs_rules(EC2ContainerServiceBackend)
    LambdaResponse._authenticate_and_authorize_normal_action = unsigned_check  # type: ignore[method-assign]
    EC2ContainerServiceResponse._determine_resource = ecs_resource  # type: ignore[attr-defined]
    LambdaResponse._determine_resource = layer_resource  # type: ignore[attr-defined]


def _fix_ecs_rules(backend: Any) -> None:
    """Fixes 13 to 16: what ECS refuses and moto took."""
    import inspect

    from moto.ecs.exceptions import EcsClientException, InvalidParameterException
    from moto.iam.models import iam_backends

    def checked(name: str, check: Any) -> None:
        """Run ``check(self, arguments)`` before moto's ``name``; it may change them."""
        original = getattr(backend, name)
        signature = inspect.signature(original)

        def method(self: Any, *args: Any, **kwargs: Any) -> Any:
            bound = signature.bind(self, *args, **kwargs)
            check(self, bound.arguments)
            return original(*bound.args, **bound.kwargs)

        setattr(backend, name, method)

    def list_tasks(self: Any, given: dict[str, Any]) -> None:
        """Fix 13."""
        others = ("container_instance", "family", "service_name", "desiredStatus")
        if given.get("started_by") and any(given.get(k) for k in others):
            raise InvalidParameterException(
                "startedBy may not be combined with any other filter of ListTasks."
            )
        given["desiredStatus"] = given.get("desiredStatus") or "RUNNING"

    def register_task_definition(self: Any, given: dict[str, Any]) -> None:
        """Fix 14."""
        cpu, memory = given.get("cpu"), given.get("memory")
        fargate = "FARGATE" in (given.get("requires_compatibilities") or [])
        if fargate and not fargate_takes(int(cpu or 0), int(memory or 0)):
            raise EcsClientException(
                f"No Fargate configuration exists for given values: {cpu} CPU, {memory} memory."
                " See the Amazon ECS documentation for the valid values."
            )

    def run_task(self: Any, given: dict[str, Any]) -> None:
        """Fix 15."""
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

    def create_cluster(self: Any, given: dict[str, Any]) -> None:
        """Fix 16."""
        iam = iam_backends[self.account_id]["aws"]
        if any(role.name.lower() == ECS_SERVICE_LINKED_ROLE.lower() for role in iam.get_roles()):
            return
        iam.create_service_linked_role("ecs.amazonaws.com", "", "")
        if given.get("capacity_providers"):
            raise InvalidParameterException(
                "Unable to assume the service linked role. Please verify that the ECS service"
                " linked role exists."
            )

    for check in (list_tasks, register_task_definition, run_task, create_cluster):
        checked(check.__name__, check)
