"""Metrics, tracing and log correlation for the worker, each switched on by the environment.

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
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from temporalio import activity, workflow
from temporalio.client import Interceptor
from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig

LOG_FORMAT = "%(asctime)s %(levelname)s [%(workflow_id)s] %(name)s: %(message)s"
_TRUE = ("1", "true", "yes", "on")


class ObservabilityError(ValueError):
    """A malformed observability setting; the message names the variable."""


@dataclass(frozen=True)
class Observability:
    metrics_host: str = "0.0.0.0"
    metrics_port: int | None = None
    otel_enabled: bool = False
    otel_exporter: str = "console"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Observability:
        env = os.environ if env is None else env
        raw = env.get("METRICS_PORT", "").strip()
        port: int | None = None
        if raw:
            if not raw.isdigit() or not 0 < int(raw) < 65536:
                raise ObservabilityError(f"METRICS_PORT must be a port number, not {raw!r}")
            port = int(raw)
        exporter = env.get("OTEL_EXPORTER", "console")
        if exporter not in ("console", "none"):
            raise ObservabilityError(f"OTEL_EXPORTER must be 'console' or 'none', not {exporter!r}")
        return cls(
            metrics_host=env.get("METRICS_HOST", cls.metrics_host),
            metrics_port=port,
            otel_enabled=env.get("OTEL_ENABLED", "").strip().lower() in _TRUE,
            otel_exporter=exporter,
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
