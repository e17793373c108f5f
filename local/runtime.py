"""The deployment of template.yaml on one machine: moto as AWS, functions in-process.

Handlers run exactly the code they run on Lambda, loaded by file path with the environment
the template gives them. :class:`LocalDeployment` puts the pieces together: the embedded AWS
(:mod:`.embedded`) with the template's resources (:mod:`.resources`), the functions' roles
under IAM (:mod:`.iam`), API Gateway (:mod:`.gateway`), the event sources (:mod:`.pollers`)
and the jobs kept across restarts (:mod:`.persist`).
"""

from __future__ import annotations

import json
import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import iam, lambdas, resources
from .concurrency import Concurrency, account_pool
from .embedded import EmbeddedAws
from .events import REGION
from .fargate import LocalFargate
from .gateway import ApiGateway, HttpReply
from .persist import Snapshot
from .pollers import EventSources, event_sources
from .template import conditions, functions, load, resources_of_type, rest_api, routes


@dataclass
class LocalDeployment:
    """Start with :meth:`start`, stop with :meth:`stop`; :meth:`http` serves requests between."""

    moto_port: int = 0
    stage: str = "local"
    template: dict[str, Any] = field(default_factory=load)
    refs: dict[str, str] = field(default_factory=dict)
    _aws: EmbeddedAws | None = None
    snapshot: Snapshot | None = None
    restored: int = 0  # items the snapshot brought back at start
    _stopping: threading.Event = field(default_factory=threading.Event)
    _sources: EventSources | None = None
    roles: iam.FunctionRoles | None = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.moto_port}"

    def start(
        self, env: dict[str, str] | None = None, parameters: dict[str, str] | None = None,
        enforce_iam: bool = False, keep_in: Path | None = None,
    ) -> LocalDeployment:  # fmt: skip
        """Start moto and create the resources; ``parameters`` override the template's
        defaults, as ``sam deploy --parameter-overrides`` would. ``enforce_iam``: each
        function signs as its own role, and moto enforces IAM (local.iam). ``keep_in``: a
        directory that keeps jobs and files across restarts (local.persist)."""
        self._aws = EmbeddedAws(self.moto_port).start()
        self.moto_port = self._aws.port
        unknown = set(parameters or {}) - set(self.template.get("Parameters", {}))
        if unknown:
            raise ValueError(f"template.yaml has no parameter {', '.join(sorted(unknown))}")
        self.refs = resources.create_all(
            self.template, prefix="uws-local", region=REGION, parameters=parameters
        )
        if enforce_iam:
            self.roles = iam.FunctionRoles(iam.role_policies(iam.sam_template(), self.refs))
            iam.use_keys(self.roles.create())
            iam.enforce()
        self._configure(env)
        if keep_in is not None:
            self.snapshot = Snapshot(keep_in, self.template, self.refs)
            self.restored = self.snapshot.load()
            self.snapshot.start()
        return self

    def attach(
        self, endpoint: str, refs: dict[str, str], harness: dict[str, str] | None = None
    ) -> LocalDeployment:
        """Use the embedded AWS another process started (a running `make serve`); with the
        ``harness`` keys of one that enforces IAM."""
        self.moto_port = int(endpoint.rsplit(":", 1)[1])
        os.environ.update({"AWS_ENDPOINT_URL": endpoint, "AWS_DEFAULT_REGION": REGION})
        iam.use_keys({"AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local"})
        self.refs = refs
        if harness:
            self.roles = iam.FunctionRoles(iam.role_policies(iam.sam_template(), refs))
            self.roles.harness = harness
            self.roles.harness_arn = harness.pop("arn", "")
            iam.use_keys(harness)
        self._configure(None)
        return self

    @property
    def harness(self) -> dict[str, str] | None:
        """The keys `make invoke` needs to use this deployment's AWS, when IAM is enforced."""
        if self.roles is None:
            return None
        return {**self.roles.harness, "arn": self.roles.harness_arn}

    def _configure(self, env: dict[str, str] | None) -> None:
        when = conditions(self.template, self.refs)  # what this deployment's parameters make
        self.functions = functions(self.template, when, self.refs)
        lambdas.impose(Concurrency(account_pool(), {
            name: spec.reserved for name, spec in self.functions.items()
            if spec.reserved is not None
        }))  # fmt: skip
        self.gateway = ApiGateway(
            routes(self.template, when), rest_api(self.template, self.refs), self.functions
        )
        global_env = self.template.get("Globals", {}).get("Function", {})
        base_env = global_env.get("Environment", {}).get("Variables", {})
        os.environ.update(resources.function_environment(base_env, self.refs, self.template))
        # Lambda's logs go to CloudWatch; here they would drown the terminal. LOG_LEVEL=INFO
        # shows them, METRICS=1 shows the EMF metric lines too.
        os.environ["POWERTOOLS_LOG_LEVEL"] = os.environ.get("LOG_LEVEL", "WARNING")
        os.environ["POWERTOOLS_METRICS_DISABLED"] = "false" if os.environ.get("METRICS") else "true"
        os.environ.update(env or {})
        if self.roles is not None:
            iam.sign_as_functions(self.roles)
        self._reset_layer_caches()

    def stop(self) -> None:
        """Stop the event sources (five seconds in all: a job still running then dies with
        the process, as a Lambda's would, and a restart ends it in ERROR), then keep the
        state and stop the embedded AWS."""
        self._stopping.set()
        deadline = time.monotonic() + 5
        for thread in self._sources.threads if self._sources else []:
            thread.join(timeout=max(0.0, deadline - time.monotonic()))
        if self.snapshot is not None:
            self.snapshot.stop()
        if self._aws is not None:
            self._aws.stop()
            self._aws = None
        if self.roles is not None:
            iam.relax()
            iam.sign_as_one()
        lambdas.impose(None)

    @staticmethod
    def _reset_layer_caches() -> None:
        from uws import aws
        from uws.config import settings

        settings.cache_clear()
        aws.reset()

    def http(
        self, method: str, path: str, query: str, headers: dict[str, str], body: bytes,
        host: str,
    ) -> HttpReply:  # fmt: skip
        """Answer one HTTP request as API Gateway and the function behind the route would."""
        return self.gateway.answer(method, path, query, headers, body, host)

    def too_large(self) -> HttpReply:
        return self.gateway.too_large()

    # ---- event sources ---------------------------------------------------------------------

    def start_event_sources(self, workers: int = 4, reaper_every: float = 60.0) -> None:
        self._sources = sources = EventSources(self._stopping)
        queues, schedules, streams = event_sources(self.template, self.refs, self.functions)
        for spec, arn, batch, tries in streams:
            sources.spawn(spec.name, sources.poll_stream, spec, arn, batch, tries)
        for spec, queue_url, batch, cap in queues:
            # Lambda's event source runs at most MaximumConcurrency invocations at once.
            for index in range(min(workers, cap)):
                sources.spawn(f"{spec.name}-{index}", sources.poll_queue, spec, queue_url, batch)
        for spec in schedules:
            sources.spawn(spec.name, sources.every, spec, reaper_every)
        for name in resources_of_type(self.template, "AWS::ECS::Cluster"):
            sources.spawn(name, self._fargate(name, workers).run)

    def _fargate(self, cluster: str, capacity: int) -> LocalFargate:
        """The cluster's tasks as processes, each with its task role's keys under IAM."""
        credentials = None
        if self.roles is not None:
            roles = self.roles
            task_role = next(iter(set(roles.policies) & set(resources_of_type(
                self.template, "AWS::IAM::Role"))))  # fmt: skip
            credentials = lambda: roles.credentials(task_role)  # noqa: E731
        return LocalFargate(
            self.refs[cluster], self.endpoint, credentials, self._stopping, capacity
        )


def dumps(reply: Any) -> str:
    return json.dumps(reply, indent=2, sort_keys=True, default=str)
