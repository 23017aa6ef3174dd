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


class TemporalConnectionError(RuntimeError):
    """Temporal could not be reached or refused this client; the message says what to set."""


# What the SDK's connection errors mean, most specific first: (texts in the error, advice).
_CAUSES = (
    (
        ("UnknownIssuer", "invalid peer certificate", "NotValidForName"),
        "its certificate is not trusted here (set TEMPORAL_TLS_SERVER_CA_CERT_PATH to the CA "
        "that signed it)",
    ),
    (
        ("400 Bad Request", "CertificateRequired", "BadCertificate", "UnknownCA"),
        "it requires a client certificate it trusts (set TEMPORAL_TLS_CLIENT_CERT_PATH and "
        "TEMPORAL_TLS_CLIENT_KEY_PATH)",
    ),
    (
        ("Unauthenticated", "PermissionDenied", "Request unauthorized"),
        "it refused the credentials (check TEMPORAL_API_KEY or the client certificate)",
    ),
)
_UNREACHABLE = ("Connection refused", "tcp connect error", "dns error", "timed out")


def explain(error: BaseException, settings: Settings) -> str:
    """One line for a failed connection: where, and what to set."""
    text = str(error)
    where = f"Temporal at {settings.temporal_address} ({settings.temporal_source})"
    if any(needle in text for needle in _UNREACHABLE):
        return f"cannot reach {where}: is it running?"
    for needles, advice in _CAUSES:
        if any(needle in text for needle in needles):
            return f"cannot connect to {where}: {advice}"
    plain_refused = ("http2 error", "FRAME_SIZE_ERROR", "connection closed")
    if not settings.temporal_tls and any(needle in text for needle in plain_refused):
        return (
            f"cannot connect to {where}: it speaks TLS (set TEMPORAL_TLS_SERVER_CA_CERT_PATH, "
            "the client certificate paths, or TEMPORAL_TLS=true)"
        )
    detail = text.removeprefix("Failed client connect: ").splitlines()[0][:200]
    return f"cannot connect to {where}: {detail}"


async def connect(
    settings: Settings,
    *,
    runtime: Runtime | None = None,
    interceptors: Sequence[Interceptor] = (),
) -> Client:
    """Connect with the data converter every client must use: pydantic, plus the codec.

    A refusal or an unreachable server raises `TemporalConnectionError`, whose message is
    one line naming the address and what to set. The worker passes a `runtime`
    (Prometheus metrics) and `interceptors` (tracing) from
    `followthrough.platform.observability`; other clients keep the defaults.
    """
    try:
        return await _connect(settings, runtime, interceptors)
    except RuntimeError as err:
        raise TemporalConnectionError(explain(err, settings)) from err


async def _connect(
    settings: Settings, runtime: Runtime | None, interceptors: Sequence[Interceptor]
) -> Client:
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
