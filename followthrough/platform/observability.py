"""Metrics, tracing and log correlation for the worker, each switched on by the settings.

- `METRICS_PORT` (off when unset; `METRICS_HOST`, default 0.0.0.0): a Prometheus endpoint
  served by the SDK's runtime, carrying its own `temporal_*` metrics and ours
  (`followthrough_*`, recorded through the SDK's meter in workflows/metrics.py).
- `OTEL_ENABLED` (1/true/yes): spans for every client call, workflow and activity through the
  SDK's `TracingInterceptor`; when no tracer provider is set up yet, one printing to the
  console is installed (`OTEL_EXPORTER=none` keeps spans in-process only).
- Logs: every record made inside a workflow or activity carries its `workflow_id`, the
  correlation id shared by the Web UI, the store's audit trail and the coordinator tasks.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from temporalio import activity, workflow
from temporalio.client import Interceptor
from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig

from followthrough.platform.settings import Settings

LOG_FORMAT = "%(asctime)s %(levelname)s [%(workflow_id)s] %(name)s: %(message)s"


@dataclass(frozen=True)
class Observability:
    metrics_host: str = "0.0.0.0"
    metrics_port: int | None = None
    otel_enabled: bool = False
    otel_exporter: str = "console"

    @classmethod
    def from_settings(cls, settings: Settings) -> Observability:
        return cls(
            metrics_host=settings.metrics_host,
            metrics_port=settings.metrics_port,
            otel_enabled=settings.otel_enabled,
            otel_exporter=settings.otel_exporter,
        )

    def runtime(self) -> Runtime | None:
        """A runtime serving Prometheus metrics, or None for the SDK's default runtime."""
        if self.metrics_port is None:
            return None
        return Runtime(
            telemetry=TelemetryConfig(
                metrics=PrometheusConfig(bind_address=f"{self.metrics_host}:{self.metrics_port}")
            )
        )

    def interceptors(self) -> Sequence[Interceptor]:
        """The tracing interceptor when tracing is on (it covers the worker too)."""
        if not self.otel_enabled:
            return []
        from opentelemetry import trace
        from temporalio.contrib.opentelemetry import TracingInterceptor

        if self.otel_exporter == "console" and not _has_sdk_provider(trace.get_tracer_provider()):
            from opentelemetry.sdk.resources import Resource
            from opentelemetry.sdk.trace import TracerProvider
            from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter

            provider = TracerProvider(resource=Resource.create({"service.name": "followthrough"}))
            provider.add_span_processor(BatchSpanProcessor(ConsoleSpanExporter()))
            trace.set_tracer_provider(provider)
        return [TracingInterceptor()]


def _has_sdk_provider(provider: object) -> bool:
    return type(provider).__module__.startswith("opentelemetry.sdk")


class WorkflowIdFilter(logging.Filter):
    """Adds `workflow_id` to every record: the running workflow's or activity's, else '-'."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "workflow_id"):
            record.workflow_id = _current_workflow_id() or "-"
        return True


def _current_workflow_id() -> str | None:
    if activity.in_activity():
        return activity.info().workflow_id
    if workflow.in_workflow():
        return workflow.info().workflow_id
    return None


def configure_logging(level: int = logging.INFO) -> None:
    """Root logging with the workflow id on every line."""
    handler = logging.StreamHandler()
    handler.addFilter(WorkflowIdFilter())
    handler.setFormatter(logging.Formatter(LOG_FORMAT))
    logging.basicConfig(level=level, handlers=[handler], force=True)
