"""Our own metrics, recorded from workflow code through the SDK's replay-safe meter.

`workflow.metric_meter()` records nothing while a history is replayed, so a sequence counted
as started is counted once however often a worker rebuilds it. The names carry our prefix;
the SDK's own runtime metrics carry `temporal_`. Both reach the Prometheus endpoint when the
worker's runtime has one (`METRICS_PORT`).
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow


def sequence_started(template: str, version: int) -> None:
    workflow.metric_meter().create_counter(
        "followthrough_sequences_started", "Sequences started, by template and version"
    ).add(1, {"template": template, "version": str(version)})


def sequence_completed(template: str, outcome: str) -> None:
    workflow.metric_meter().create_counter(
        "followthrough_sequences_completed", "Sequences ended, by template and final state"
    ).add(1, {"template": template, "outcome": outcome})


def step_latency(template: str, kind: str, late: timedelta) -> None:
    """How long after its due time a step really started (timer and worker lag)."""
    workflow.metric_meter().create_histogram_timedelta(
        "followthrough_step_latency", "Step start minus its due time", unit="ms"
    ).record(max(late, timedelta(0)), {"template": template, "kind": kind})


def channel_error(template: str, channel: str, error_type: str) -> None:
    workflow.metric_meter().create_counter(
        "followthrough_channel_errors", "Sends that failed after their retries, by error type"
    ).add(1, {"template": template, "channel": channel, "error_type": error_type})
