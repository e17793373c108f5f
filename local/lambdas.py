"""Functions loaded and invoked as Lambda does it, and one caller of the API's functions that
the tests and the benchmarks share."""

from __future__ import annotations

import importlib.util
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

from .concurrency import Concurrency
from .events import DEPLOYED, Mount, form_event
from .faults import throttle_invocation
from .template import FunctionSpec, conditions, functions, load, parameter_defaults, routes


@dataclass
class LambdaContext:
    """What a Lambda runtime passes as ``context`` (the fields Powertools reads)."""

    function_name: str
    memory_limit_in_mb: int = 256
    timeout_seconds: int = 29
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    started: float = field(default_factory=time.monotonic)

    @property
    def invoked_function_arn(self) -> str:
        return f"arn:aws:lambda:us-east-1:123456789012:function:{self.function_name}"

    def get_remaining_time_in_millis(self) -> int:
        return int((self.timeout_seconds - (time.monotonic() - self.started)) * 1000)


_loaded: dict[str, ModuleType] = {}


def load_handler(spec: FunctionSpec) -> Callable[[dict[str, Any], Any], Any]:
    """Import a function's module by file path, once, as Lambda does (no shared sys.path)."""
    module = _loaded.get(spec.name)
    if module is None:
        loader_spec = importlib.util.spec_from_file_location(f"lambda_{spec.name}", spec.file)
        assert loader_spec is not None and loader_spec.loader is not None
        module = importlib.util.module_from_spec(loader_spec)
        loader_spec.loader.exec_module(module)
        _loaded[spec.name] = module
    return getattr(module, spec.handler)


_acting = threading.local()


def acting_function() -> str | None:
    """The function this thread is running (its AWS calls sign as its role, local.iam)."""
    return getattr(_acting, "function", None)


class Throttled(Exception):
    """Lambda refused the invocation: TooManyRequestsException (HTTP 429), the function or
    the account at its concurrency (Lambda Developer Guide, "Lambda function scaling")."""


_limits: list[Concurrency] = []  # the deployment's concurrency limits, once imposed


def impose(limits: Concurrency | None) -> None:
    """Refuse invocations beyond ``limits`` from now on (None: no limit, as moto)."""
    _limits[:] = [] if limits is None else [limits]


def limits() -> Concurrency | None:
    return _limits[0] if _limits else None


def invoke(spec: FunctionSpec, event: dict[str, Any]) -> Any:
    """Run ``spec``'s handler with ``event`` as Lambda would, or raise Throttled: an
    injected throttle, or the function or the account at its concurrency."""
    if throttle_invocation(spec.name):
        raise Throttled(f"Rate Exceeded: {spec.name}")
    held = limits()
    if held is not None and not held.enter(spec.name):
        raise Throttled(f"Rate Exceeded: {spec.name} at its concurrency limit")
    context = LambdaContext(spec.name, spec.memory, spec.timeout)
    outer, _acting.function = acting_function(), spec.name
    try:
        return load_handler(spec)(event, context)
    finally:
        _acting.function = outer
        if held is not None:
            held.leave(spec.name)


class ApiClient:
    """Calls the real handlers with the events API Gateway would send for ``mount`` (the
    execute-api host and stage by default): what tests and benchmarks drive the API with."""

    def __init__(
        self, mount: Mount | None = None, parameters: dict[str, str] | None = None
    ) -> None:
        """``parameters`` override the template's (JobType=tap brings TAP's functions)."""
        template = load()
        refs = {**parameter_defaults(template), **(parameters or {})}
        when = conditions(template, refs)
        self.routes = routes(template, when)
        self.functions = functions(template, when, refs)
        self.mount = mount or DEPLOYED

    def event(self, method: str, path: str, **kwargs: Any) -> tuple[str, dict[str, Any]]:
        """(the function the template routes to, the event); keywords as for form_event."""
        kwargs.setdefault("mount", self.mount)
        route, event = form_event(self.routes, method, path, **kwargs)
        return route.function, event

    def call_function(self, function: str, event: dict[str, Any]) -> Any:
        return invoke(self.functions[function], event)

    def call(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        return self.call_function(*self.event(method, path, **kwargs))

    def create(self, **params: Any) -> str:
        """Create a job with form ``params``; its id."""
        reply = self.call("POST", "/async", data=params)
        assert reply["statusCode"] == 303, reply
        return reply["headers"]["Location"].rsplit("/", 1)[1]
