"""`make serve`'s Fargate: each task that RunTask records in moto's ECS runs as a process.

What ECS and its agent do for a task, on one machine: start the task definition's container
command (``python3`` is this venv's Python, the image's part) with its environment, the
RunTask's overrides, the task role's credentials (under ENFORCE_IAM) and a task metadata
endpoint; on StopTask send SIGTERM, then SIGKILL after the container's stop timeout; when the
process ends, report the task STOPPED with its exit code, as DescribeTasks shows it to the
reaper. The process talks to the embedded AWS over HTTP, as a task talks to AWS.
"""

from __future__ import annotations

import datetime
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import boto3

from .events import REGION
from .resources import ACCOUNT

POLL_SECONDS = 0.2
ESSENTIAL_EXITED = "Essential container in task exited"


@dataclass
class RunningTask:
    arn: str
    process: subprocess.Popen[bytes]
    stop_timeout: float
    term_sent: float | None = None  # when SIGTERM went out


@dataclass
class LocalFargate:
    """Runs the cluster's tasks until ``stopping`` is set; :meth:`run` is the agent's loop."""

    cluster: str
    endpoint: str  # the embedded AWS's HTTP endpoint, for the tasks' AWS calls
    credentials: Callable[[], dict[str, str]] | None = None  # the task role's, under IAM
    stopping: threading.Event = field(default_factory=threading.Event)
    capacity: int = 4  # tasks at once, as an account's Fargate quota; the rest wait to start
    running: dict[str, RunningTask] = field(default_factory=dict)
    waiting: set[str] = field(default_factory=set)
    _metadata: ThreadingHTTPServer | None = None

    def run(self) -> None:
        ecs = boto3.client("ecs", region_name=REGION)
        self._serve_metadata()
        try:
            while not self.stopping.wait(POLL_SECONDS):
                try:
                    wanted = set(ecs.list_tasks(cluster=self.cluster, desiredStatus="RUNNING")[
                        "taskArns"
                    ])  # fmt: skip
                except Exception:
                    continue
                for arn in self.waiting - wanted:  # stopped before it started
                    self._stopped_waiting(arn)
                self.waiting = wanted - set(self.running)
                for arn in sorted(self.waiting)[: max(0, self.capacity - len(self.running))]:
                    self.waiting.discard(arn)
                    self._start(ecs, arn)
                for task in list(self.running.values()):
                    self._watch(task, still_wanted=task.arn in wanted)
        finally:
            self._stop_all()

    # ---- a task's life -----------------------------------------------------------------------

    def _start(self, ecs: Any, arn: str) -> None:
        task = ecs.describe_tasks(cluster=self.cluster, tasks=[arn])["tasks"][0]
        definition = ecs.describe_task_definition(taskDefinition=task["taskDefinitionArn"])[
            "taskDefinition"
        ]
        container = definition["containerDefinitions"][0]
        argv = list(container.get("entryPoint", [])) + list(container.get("command", []))
        if argv and argv[0].startswith("python"):
            argv[0] = sys.executable
        overrides = next(
            (o for o in task.get("overrides", {}).get("containerOverrides", [])
             if o.get("name") == container["name"]), {},
        )  # fmt: skip
        env = {e["name"]: e["value"] for e in container.get("environment", [])}
        env.update({e["name"]: e["value"] for e in overrides.get("environment", [])})
        env.update(self._platform_environment(arn))
        process = subprocess.Popen(argv, env=env)
        self.running[arn] = RunningTask(arn, process, float(container.get("stopTimeout", 30)))
        moto_task = self._moto_task(arn)
        moto_task.containers[0].exitCode = None
        moto_task.containers[0].last_status = "RUNNING"

    def _platform_environment(self, arn: str) -> dict[str, str]:
        """What Fargate adds to a task's environment, and this machine's own needs."""
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "AWS_REGION": REGION,
            "AWS_DEFAULT_REGION": REGION,
            "AWS_EXECUTION_ENV": "AWS_ECS_FARGATE",
            "ECS_CONTAINER_METADATA_URI_V4": f"{self._metadata_url}/{arn.rsplit('/', 1)[1]}",
            # moto's server takes every request to the S3 endpoint's host (127.0.0.1, which
            # the runtime names for presigned URLs) for S3; the other services go by another
            "AWS_ENDPOINT_URL": self.endpoint.replace("127.0.0.1", "localhost"),
            "AWS_ENDPOINT_URL_S3": self.endpoint,
            # as for the functions: quiet unless asked (local.runtime)
            "POWERTOOLS_LOG_LEVEL": os.environ.get("LOG_LEVEL", "WARNING"),
            "POWERTOOLS_METRICS_DISABLED": "false" if os.environ.get("METRICS") else "true",
        }
        if self.credentials is not None:
            keys = self.credentials()
            env["AWS_ACCESS_KEY_ID"] = keys["aws_access_key_id"]
            env["AWS_SECRET_ACCESS_KEY"] = keys["aws_secret_access_key"]
            env["AWS_SESSION_TOKEN"] = keys["aws_session_token"]
        else:
            env["AWS_ACCESS_KEY_ID"] = env["AWS_SECRET_ACCESS_KEY"] = "local"
        return env

    def _watch(self, task: RunningTask, still_wanted: bool) -> None:
        code = task.process.poll()
        if code is not None:
            self._stopped(task, code)
        elif not still_wanted and task.term_sent is None:  # StopTask
            task.process.send_signal(signal.SIGTERM)
            task.term_sent = time.monotonic()
        elif task.term_sent is not None and time.monotonic() - task.term_sent > task.stop_timeout:
            task.process.kill()

    def _stopped(self, task: RunningTask, code: int) -> None:
        """Report the task STOPPED as ECS does: a signal's death as 128 + its number."""
        del self.running[task.arn]
        moto_task = self._moto_task(task.arn)
        container = moto_task.containers[0]
        container.exitCode = 128 - code if code < 0 else code
        container.last_status = "STOPPED"
        if moto_task.desired_status != "STOPPED":  # it ended on its own
            moto_task.stop_code = "EssentialContainerExited"
            moto_task.stopped_reason = ESSENTIAL_EXITED
        moto_task.desired_status = moto_task.last_status = "STOPPED"
        moto_task.stopped_at = datetime.datetime.now(datetime.UTC)

    def _stopped_waiting(self, arn: str) -> None:
        moto_task = self._moto_task(arn)
        moto_task.desired_status = moto_task.last_status = "STOPPED"
        moto_task.containers[0].exitCode = None  # it never ran
        moto_task.stopped_at = datetime.datetime.now(datetime.UTC)

    def _stop_all(self) -> None:
        for task in self.running.values():
            task.process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 2
        for task in list(self.running.values()):
            try:
                task.process.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                task.process.kill()
                task.process.wait()
        if self._metadata is not None:
            self._metadata.shutdown()
            self._metadata.server_close()

    def _moto_task(self, arn: str) -> Any:
        from moto.ecs.models import ecs_backends

        return ecs_backends[ACCOUNT][REGION].tasks[self.cluster][arn]

    # ---- the task metadata endpoint (version 4) ----------------------------------------------

    @property
    def _metadata_url(self) -> str:
        assert self._metadata is not None
        return f"http://127.0.0.1:{self._metadata.server_address[1]}"

    def _serve_metadata(self) -> None:
        agent = self

        class Metadata(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                task_id, _, what = self.path.strip("/").partition("/")
                arn = next((a for a in agent.running if a.endswith(f"/{task_id}")), None)
                if arn is None or what != "task":
                    self.send_error(404)
                    return
                body = json.dumps({"TaskARN": arn, "Cluster": agent.cluster,
                                   "LaunchType": "FARGATE"}).encode()  # fmt: skip
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self._metadata = ThreadingHTTPServer(("127.0.0.1", 0), Metadata)
        threading.Thread(target=self._metadata.serve_forever, daemon=True).start()
