"""Structured logs and metrics with Powertools (traces come from Lambda's active tracing:
Powertools' Tracer would cost about 650 ms of cold start)."""

from __future__ import annotations

from aws_lambda_powertools import Logger

logger = Logger(service="uws")


def count(name: str) -> None:
    """Emit one count as an EMF log line at once. No state is shared between concurrent
    invocations, which the local runtime runs in one process. POWERTOOLS_METRICS_DISABLED
    silences it, as it does Powertools' Metrics. Imported on first use: a GET never counts."""
    from aws_lambda_powertools.metrics import MetricUnit, single_metric
    from aws_lambda_powertools.metrics.functions import is_metrics_disabled

    if is_metrics_disabled():
        return
    with single_metric(name=name, unit=MetricUnit.Count, value=1, namespace="UWS") as metric:
        metric.add_dimension(name="service", value="uws")
