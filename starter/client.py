"""One way to connect to Temporal, shared by the worker, the CLI and the tests."""

from __future__ import annotations

from collections.abc import Sequence

from temporalio.client import Client, Interceptor
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.runtime import Runtime

from starter.settings import Settings


async def connect(
    settings: Settings,
    *,
    runtime: Runtime | None = None,
    interceptors: Sequence[Interceptor] = (),
) -> Client:
    """Connect with the pydantic data converter every client must use.

    The worker passes a `runtime` (Prometheus metrics) and `interceptors` (tracing) from
    `starter.observability`; other clients keep the defaults.
    """
    return await Client.connect(
        settings.temporal_address,
        namespace=settings.namespace,
        data_converter=pydantic_data_converter,
        runtime=runtime,
        interceptors=interceptors,
    )
