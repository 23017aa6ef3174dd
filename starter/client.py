"""One way to connect to Temporal, shared by the worker, the CLI and the tests."""

from __future__ import annotations

from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter

from starter.settings import Settings


async def connect(settings: Settings) -> Client:
    """Connect with the pydantic data converter every client must use."""
    return await Client.connect(
        settings.temporal_address,
        namespace=settings.namespace,
        data_converter=pydantic_data_converter,
    )
