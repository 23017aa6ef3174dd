"""One way to connect to Temporal, shared by the worker, the CLI, the web app and the tests.

Where to connect comes from `Settings` (a `temporal.toml` profile and the TEMPORAL_*
variables, read through `temporalio.envconfig`): the embedded server, a self-hosted cluster
with mutual TLS and Temporal Cloud with an API key are the same code path.
"""

from __future__ import annotations

from collections.abc import Sequence

from temporalio.client import Client, Interceptor
from temporalio.runtime import Runtime

from followthrough.platform.codec import codec_from_keys, data_converter
from followthrough.platform.settings import Settings


async def connect(
    settings: Settings,
    *,
    runtime: Runtime | None = None,
    interceptors: Sequence[Interceptor] = (),
) -> Client:
    """Connect with the data converter every client must use: pydantic, plus the codec.

    The worker passes a `runtime` (Prometheus metrics) and `interceptors` (tracing) from
    `followthrough.platform.observability`; other clients keep the defaults.
    """
    return await Client.connect(
        settings.temporal_address,
        namespace=settings.namespace,
        api_key=settings.temporal_api_key,
        tls=settings.temporal_tls,
        rpc_metadata=dict(settings.temporal_rpc_metadata),
        # With PAYLOAD_KEYS set, payloads are encrypted (AES-GCM) on every client alike.
        data_converter=data_converter(codec_from_keys(settings.payload_keys)),
        runtime=runtime,
        interceptors=interceptors,
    )
