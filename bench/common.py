"""Helpers the benchmarks share: calling handlers in-process, counting AWS calls, statistics."""

from __future__ import annotations

import statistics
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from local.events import Mount
from local.lambdas import ApiClient

HOST = "bench.execute-api.us-east-1.amazonaws.com"


def bench_api() -> ApiClient:
    """The real handlers, called with the events API Gateway would send for the bench's host."""
    return ApiClient(Mount.execute_api(HOST))


@dataclass
class CallCounter:
    """AWS calls made through the layer's clients, counted with botocore's event hooks."""

    calls: Counter = field(default_factory=Counter)
    items_read: int = 0
    seconds_in_aws: float = 0.0
    _started: dict[int, float] = field(default_factory=dict)

    def attach(self, client: Any) -> None:
        client.meta.events.register("before-call", self._before)
        client.meta.events.register("after-call", self._after)

    def _before(self, event_name: str, **_: Any) -> None:
        _, service, operation = event_name.split(".")
        self.calls[f"{service}.{operation}"] += 1
        self._started[id(self)] = time.perf_counter()

    def _after(self, parsed: dict[str, Any], **_: Any) -> None:
        self.seconds_in_aws += time.perf_counter() - self._started.pop(
            id(self), time.perf_counter()
        )
        self.items_read += len(parsed.get("Items", [])) + (1 if "Item" in parsed else 0)

    def reset(self) -> None:
        self.calls.clear()
        self.items_read = 0
        self.seconds_in_aws = 0.0


def counter_on_layer_clients() -> CallCounter:
    from uws import aws

    counter = CallCounter()
    for service in ("dynamodb", "s3", "sqs"):
        counter.attach(aws.client(service))
    return counter


def timed(fn: Callable[[], Any], repeat: int) -> list[float]:
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return samples


def median_ms(samples: list[float]) -> float:
    return round(statistics.median(samples) * 1000, 3)


def p95_ms(samples: list[float]) -> float:
    ordered = sorted(samples)
    return round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))] * 1000, 3)
