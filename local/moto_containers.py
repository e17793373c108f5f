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

"""

from __future__ import annotations

import json
import os
from typing import Any

_patched = False


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

    LambdaResponse._authenticate_and_authorize_normal_action = unsigned_check  # type: ignore[method-assign]
    EC2ContainerServiceResponse._determine_resource = ecs_resource  # type: ignore[attr-defined]
    LambdaResponse._determine_resource = layer_resource  # type: ignore[attr-defined]


PATCHES = [fix_containers]
