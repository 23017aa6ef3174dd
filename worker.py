"""The composition root: settings, client, data converter, store, providers, activities.

`python worker.py` reads the settings once, connects to TEMPORAL_ADDRESS and serves the
`interventions` queue and each channel's send queue (`interventions-email`, ..., limited to
EMAIL_RATE_PER_SECOND and the like) until SIGINT/SIGTERM, then finishes in-flight
activities and exits. Everything it builds comes from that one `Settings`.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
from collections.abc import Sequence
from contextlib import AsyncExitStack
from datetime import timedelta

import httpx
from temporalio.client import Client
from temporalio.worker import Worker
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

from activities import ChannelActivities, FamilyActivities, TaskActivities
from activities.audit import AuditActivities
from activities.best_hour import ResponseHistoryActivities
from activities.breaker import Breaker, BreakerPolicy, BreakerProvider, record_in_store
from activities.consent import ConsentActivities
from activities.providers import (
    HttpEmailProvider,
    HttpSmsProvider,
    OutboxProvider,
    Provider,
    WhatsAppProvider,
)
from activities.schedules import ScheduleActivities
from activities.shared_breaker import SharedBreaker
from activities.webhook import WebhookActivities
from contracts import Channel
from followthrough.platform.connection import TemporalConnectionError, connect
from followthrough.platform.observability import Observability, configure_logging
from followthrough.platform.send_queues import Workers, send_workers
from followthrough.platform.settings import Settings, SettingsError
from followthrough.triggers.schedules import scheduled_starter
from store import Store
from workflows.one_input import OneInputPerSignal
from workflows.sequences import SEQUENCES

# Sequences spend days asleep, so most cached ones sit idle. 10,000 imported predictions up
# to their first email (`python -m bench --only firstcontact --max-cached N`): the bench
# process ended at 227 MB with 250, 283 MB with 1,000 and 466 MB with 2,500 (about 0.13 MB
# per cached sequence), and no bound got them there sooner: the machine's CPU set the pace.
MAX_CACHED_WORKFLOWS = 250


def workflow_runner(*also: str) -> SandboxedWorkflowRunner:
    """The sandbox, with our `workflows` package (and `also`) passed through.

    The sandbox imports a workflow's module afresh for every run and applies
    `@workflow.defn` to its class again; for our sequences, subclasses of a class with 38
    methods and attributes, that was a third of the worker's CPU per sequence. The
    building blocks were already imported through `imports_passed_through`, so the sandbox
    was guarding only the short sequence modules. Other modules a workflow imports are still
    sandboxed; the determinism of ours is guarded by the replay tests.
    """
    restrictions = SandboxRestrictions.default.with_passthrough_modules("workflows", *also)
    return SandboxedWorkflowRunner(restrictions=restrictions)


def build_providers(
    settings: Settings,
    http: httpx.AsyncClient,
    store: Store | None = None,
    breaker_policy: BreakerPolicy | None = None,
) -> dict[Channel, Provider]:
    """The provider of every message channel the settings select; each HTTP one behind a
    breaker."""
    email: Provider = OutboxProvider()
    sms: Provider = OutboxProvider()
    if settings.email_provider == "http":
        assert settings.email_api_url and settings.email_api_token
        email = HttpEmailProvider(
            http,
            settings.email_api_url,
            settings.email_api_token,
            settings.email_from,
            idempotent=settings.email_api_idempotent,
        )
    if settings.sms_provider == "http":
        assert settings.sms_api_url and settings.sms_account_sid and settings.sms_auth_token
        sms = HttpSmsProvider(
            http,
            settings.sms_api_url,
            settings.sms_account_sid,
            settings.sms_auth_token,
            idempotent=settings.sms_api_idempotent,
        )
    policy = breaker_policy or breaker_policy_from(settings)
    guarded_sms = _guarded(sms, policy, store)
    return {
        Channel.EMAIL: _guarded(email, policy, store),
        Channel.SMS: guarded_sms,
        Channel.WHATSAPP: WhatsAppProvider(guarded_sms),
    }


def breaker_policy_from(settings: Settings) -> BreakerPolicy:
    """BREAKER_FAILURE_THRESHOLD and BREAKER_OPEN_SECONDS, as the breakers' policy."""
    return BreakerPolicy(
        failure_threshold=settings.breaker_failure_threshold,
        open_for=timedelta(seconds=settings.breaker_open_seconds),
    )


def _guarded(provider: Provider, policy: BreakerPolicy, store: Store | None) -> Provider:
    # The outbox cannot be down; only the network providers get a breaker.
    if isinstance(provider, OutboxProvider):
        return provider
    # Shared through the store: every worker opens and closes the circuit together.
    breaker = (
        Breaker(provider.name, policy)
        if store is None
        else SharedBreaker(provider.name, policy, store.circuits)
    )
    if store is not None:
        breaker.add_listener(record_in_store(store))
    return BreakerProvider(provider, breaker)


def build_worker(
    client: Client,
    store: Store,
    http: httpx.AsyncClient,
    settings: Settings,
    *,
    workflows: Sequence[type] = SEQUENCES,
    breaker_policy: BreakerPolicy | None = None,
) -> Workers:
    """A worker serving every sequence and every activity on the settings' task queue, and one
    per message channel serving its send on the channel's send queue, at the channel's rate.

    The sequences' worker keeps the send activities too: sends scheduled before sequences went
    through the send queues (the change `send-on-channel-queue`) still run there."""
    channels = ChannelActivities(
        store,
        build_providers(settings, http, store, breaker_policy),
        after_call=_kill_self if settings.fault_kill_after_send else None,
        rates=settings.send_rates,
    )
    tasks = TaskActivities(store)
    families = FamilyActivities(store)
    # Webhook steps reach only allowed destinations and read only WEBHOOK_SECRET_* variables.
    webhooks = WebhookActivities(store, http, settings.webhook_policy, settings.webhook_secrets)
    consent = ConsentActivities(store)
    audit = AuditActivities(store)
    history = ResponseHistoryActivities(store)
    # Scheduled runs start sequences on this worker's queue, through the trigger rules.
    schedules = ScheduleActivities(store, scheduled_starter(client, store, settings.task_queue))
    main = Worker(
        client,
        task_queue=settings.task_queue,
        workflows=list(workflows),
        workflow_runner=workflow_runner(),
        interceptors=[OneInputPerSignal()],
        activities=[
            *channels.activities(),
            tasks.open_task,
            tasks.cancel_task,
            tasks.complete_task,
            families.load_family_context,
            families.evaluate_condition,
            webhooks.call_webhook,
            consent.next_send_slot,
            audit.record_step,
            audit.record_steps,
            history.answer_hours,
            schedules.match_scheduled_families,
            schedules.start_scheduled_sequences,
            schedules.start_scheduled_page,
        ],
        max_cached_workflows=MAX_CACHED_WORKFLOWS,
    )
    sends = send_workers(client, settings.task_queue, channels.by_channel(), settings.send_rates)
    return Workers(main, sends)


def _kill_self() -> None:
    """The fault hook of `FAULT_KILL_AFTER_SEND` (tests only): die as a crash would."""
    os.kill(os.getpid(), signal.SIGKILL)


def http_client() -> httpx.AsyncClient:
    """One pooled client per worker, with timeouts set: a hung provider is a transient error."""
    return httpx.AsyncClient(
        timeout=httpx.Timeout(10.0, connect=5.0),
        limits=httpx.Limits(max_connections=50, max_keepalive_connections=20),
    )


async def run_worker(settings: Settings, stop: asyncio.Event, client: Client | None = None) -> None:
    """Run until `stop` is set, then shut down gracefully."""
    async with AsyncExitStack() as stack:
        store = Store.from_url(settings.database_url)
        stack.push_async_callback(store.close)
        await store.health.clean()  # the rows of workers gone for a day
        http = await stack.enter_async_context(http_client())
        if client is None:
            # Metrics (METRICS_PORT) and tracing (OTEL_ENABLED) ride on the worker's client.
            observe = Observability.from_settings(settings)
            client = await connect(
                settings, runtime=observe.runtime(), interceptors=observe.interceptors()
            )
        workers = build_worker(client, store, http, settings)
        async with workers:
            logging.info(
                "Worker serving task queue %r on %s, namespace %s, %s (from %s)",
                settings.task_queue,
                settings.temporal_address,
                settings.namespace,
                "TLS" if settings.temporal_tls else "no TLS",
                settings.temporal_source,
            )
            for channel, sends in workers.sends.items():
                rate = settings.send_rates.get(channel)
                logging.info(
                    "Sending %s through task queue %r, %s",
                    channel.value,
                    sends.task_queue,
                    "no rate set" if rate is None else f"at most {rate:g} per second",
                )
            await stop.wait()


async def main() -> None:
    configure_logging()
    settings = Settings.from_env()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await run_worker(settings, stop)


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except (SettingsError, TemporalConnectionError) as err:
        sys.exit(f"error: {err}")  # one line, as from `followthrough worker`
