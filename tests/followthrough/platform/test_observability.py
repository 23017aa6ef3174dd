"""Metrics on the worker's Prometheus endpoint, tracing spans, and the workflow id in logs."""

from __future__ import annotations

import dataclasses
import logging

import httpx
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from temporalio.testing import ActivityEnvironment

from contracts import Channel, InterventionResult, Response
from followthrough.platform.connection import connect
from followthrough.platform.devserver import free_port
from followthrough.platform.observability import Observability, WorkflowIdFilter
from followthrough.platform.settings import Settings
from followthrough.triggers.start import start_sequence
from worker import build_worker


def test_from_settings():
    off = Observability.from_settings(Settings.from_env({}))
    assert off.metrics_port is None and off.runtime() is None and off.interceptors() == []
    on = Observability.from_settings(
        Settings.from_env({"METRICS_PORT": "9464", "OTEL_ENABLED": "true"})
    )
    assert on.metrics_port == 9464 and on.otel_enabled


async def test_metrics_and_traces_after_a_run(dev_server, store, settings):
    port = free_port()
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    observe = Observability.from_settings(
        Settings(metrics_port=port, metrics_host="127.0.0.1", otel_enabled=True)
    )
    client = await connect(
        Settings(temporal_address=dev_server.address),
        runtime=observe.runtime(),
        interceptors=observe.interceptors(),
    )
    params = await store.templates.active("high_risk_intervention")
    assert params is not None
    params = params.model_copy(update={"quiet_hours": None, "urgent": True})
    async with httpx.AsyncClient() as http, build_worker(client, store, http, settings):
        outcome = await start_sequence(client, params, "F1", task_queue=settings.task_queue)
        assert outcome.handle is not None
        await outcome.handle.signal("record_response", Response(channel=Channel.EMAIL))
        result = await client.get_workflow_handle(
            outcome.handle.id, result_type=InterventionResult
        ).result()
        assert result.outcome == "responded to outreach"
        async with httpx.AsyncClient() as scrape:
            text = (await scrape.get(f"http://127.0.0.1:{port}/metrics")).text

    template = 'template="high_risk_intervention"'
    lines = text.splitlines()
    assert any(
        line.startswith("followthrough_sequences_started") and template in line for line in lines
    ), text
    assert any(
        line.startswith("followthrough_sequences_completed")
        and template in line
        and 'outcome="completed"' in line
        for line in lines
    )
    assert any(line.startswith("followthrough_step_latency") for line in lines)
    assert any(line.startswith("temporal_workflow_completed") for line in lines)  # the SDK's

    names = {span.name for span in exporter.get_finished_spans()}
    assert "StartWorkflow:HighRiskIntervention" in names
    assert any(name.startswith("RunActivity:send_email") for name in names), names


async def test_logs_inside_an_activity_carry_the_workflow_id():
    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    handler = Keep()
    handler.addFilter(WorkflowIdFilter())
    log = logging.getLogger("followthrough.test")
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    try:
        log.info("outside")

        def inside() -> None:
            log.info("inside")

        env = ActivityEnvironment()
        env.info = dataclasses.replace(env.info, workflow_id="intervention-x-F9")
        env.run(inside)
    finally:
        log.removeHandler(handler)
    assert [(r.getMessage(), r.workflow_id) for r in records] == [  # type: ignore[attr-defined]
        ("outside", "-"),
        ("inside", "intervention-x-F9"),
    ]
