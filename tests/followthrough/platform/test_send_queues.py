"""The send queues: a worker per message channel, at the rate the settings give it, which
the server then enforces for the queue."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from temporalio.api.enums.v1 import RateLimitSource, TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from contracts import Channel, channels
from followthrough.platform.settings import Settings, SettingsError
from store import Store
from worker import build_worker


def test_rates_are_read_by_the_registrys_names() -> None:
    settings = Settings.from_env({"EMAIL_RATE_PER_SECOND": "20", "WHATSAPP_RATE_PER_SECOND": "0.5"})
    assert settings.send_rates == {Channel.EMAIL: 20.0, Channel.WHATSAPP: 0.5}
    assert Settings.from_env({}).send_rates == {}
    names = [entry.rate_variable for entry in channels.message_channels()]
    assert names == ["EMAIL_RATE_PER_SECOND", "SMS_RATE_PER_SECOND", "WHATSAPP_RATE_PER_SECOND"]


@pytest.mark.parametrize("value", ["0", "-1", "0.01", "nan", "inf", "fast"])
def test_a_bad_rate_names_its_variable(value: str) -> None:
    with pytest.raises(SettingsError, match="SMS_RATE_PER_SECOND"):
        Settings.from_env({"SMS_RATE_PER_SECOND": value})


async def test_each_channel_has_a_worker_on_its_queue_at_its_rate(
    time_env: WorkflowEnvironment, store: Store
) -> None:
    settings = Settings.from_env({"TEMPORAL_TASK_QUEUE": "outreach", "EMAIL_RATE_PER_SECOND": "20"})
    async with httpx.AsyncClient() as http:
        workers = build_worker(time_env.client, store, http, settings)
    assert workers.main.task_queue == "outreach"
    by_queue = {w.task_queue: w.config() for w in workers.sends.values()}
    assert set(by_queue) == {"outreach-email", "outreach-sms", "outreach-whatsapp"}
    assert by_queue["outreach-email"]["max_task_queue_activities_per_second"] == 20.0
    assert by_queue["outreach-sms"]["max_task_queue_activities_per_second"] is None
    for channel, worker in workers.sends.items():
        served = [fn.__name__ for fn in worker.config()["activities"]]
        assert served == [channels.spec(channel).activity]


async def _queue_rate(client: Client, queue: str) -> tuple[float, int]:
    described = await client.workflow_service.describe_task_queue(
        DescribeTaskQueueRequest(
            namespace=client.namespace,
            task_queue=TaskQueue(name=queue),
            task_queue_type=TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY,
            report_config=True,
        )
    )
    limit = described.effective_rate_limit
    return limit.requests_per_second, limit.rate_limit_source


async def test_the_server_takes_the_rate_from_the_workers(
    dev_client: Client, store: Store, settings: Settings
) -> None:
    settings = Settings(task_queue=settings.task_queue, send_rates={Channel.SMS: 7.0})
    async with httpx.AsyncClient() as http, build_worker(dev_client, store, http, settings):
        sms_queue = channels.spec(Channel.SMS).send_queue(settings.task_queue)
        email_queue = channels.spec(Channel.EMAIL).send_queue(settings.task_queue)
        for _ in range(100):  # until the workers' first polls have reached the server
            sms = await _queue_rate(dev_client, sms_queue)
            if sms[1] == RateLimitSource.RATE_LIMIT_SOURCE_WORKER:
                break
            await asyncio.sleep(0.1)
        assert sms == (7.0, RateLimitSource.RATE_LIMIT_SOURCE_WORKER)
        email = await _queue_rate(dev_client, email_queue)
        assert email[1] == RateLimitSource.RATE_LIMIT_SOURCE_SYSTEM
