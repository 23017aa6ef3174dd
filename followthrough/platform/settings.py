"""Configuration: every environment variable the product reads, read once, in `from_env`.

Each value has a default that works on a laptop. A malformed value raises `SettingsError`,
whose message names the variable, so clients print one line instead of a traceback.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar

from temporalio.envconfig import ClientConfigProfile
from temporalio.service import TLSConfig

from contracts import TASK_QUEUE, Channel, channels, parse_duration
from contracts.webhook_rules import (
    SECRET_PREFIX,
    IpNetwork,
    WebhookPolicy,
    parse_hosts,
    parse_networks,
)
from followthrough.platform.codec import CodecError, parse_keys
from store import DEFAULT_DATABASE_URL

T = TypeVar("T")
_TRUE = ("1", "true", "yes", "on")


class SettingsError(ValueError):
    """A configuration value that is missing or malformed; the message names it."""


@dataclass(frozen=True)
class Settings:
    # Temporal (through `temporalio.envconfig`, see `_temporal`) and the store
    temporal_address: str = "localhost:7233"
    namespace: str = "default"
    temporal_api_key: str | None = None
    temporal_tls: bool | TLSConfig = field(default=False, hash=False)
    temporal_rpc_metadata: Mapping[str, str] = field(default_factory=dict, hash=False)
    temporal_source: str = "the default"  # where the connection came from, for messages
    task_queue: str = TASK_QUEUE
    database_url: str = DEFAULT_DATABASE_URL
    ui_url: str = "http://localhost:8233"
    # Providers
    email_provider: str = "outbox"
    email_api_url: str | None = None
    email_api_token: str | None = None
    email_from: str = "outreach@followthrough.local"
    sms_provider: str = "outbox"
    sms_api_url: str | None = None
    sms_account_sid: str | None = None
    sms_auth_token: str | None = None
    # Whether each HTTP API accepts a message once per Idempotency-Key (README: "Exactly once")
    email_api_idempotent: bool = False
    sms_api_idempotent: bool = False
    # Each provider's rate, sends per second for every worker together (EMAIL_RATE_PER_SECOND,
    # SMS_RATE_PER_SECOND, ...: `ChannelSpec.rate_variable`); a channel not here has no limit.
    send_rates: Mapping[Channel, float] = field(default_factory=dict, hash=False)
    # Failure handling: provider circuit breakers and template auto-suspension
    breaker_failure_threshold: int = 5
    breaker_open_seconds: float = 60.0
    suspend_after_failures: int = 5
    suspend_window: timedelta = timedelta(hours=1)
    # Observability
    metrics_port: int | None = None
    metrics_host: str = "0.0.0.0"
    otel_enabled: bool = False
    otel_exporter: str = "console"
    # Security: payload encryption, the codec server, provider callbacks
    payload_keys: Mapping[str, bytes] = field(default_factory=dict, hash=False)
    codec_server_token: str = ""
    receiver_secret: str = ""
    # Tests only: the worker kills itself (SIGKILL) after a provider accepted a message and
    # before the outbox records it, to prove a crash there sends nothing twice.
    fault_kill_after_send: bool = False
    # The inbox's optional sign-in by a trusted reverse proxy (off unless both are set).
    inbox_sso_header: str = ""
    inbox_sso_secret: str = ""
    # Webhook steps: where they may go, and the only variables an `env:NAME` header reads.
    webhook_allowed_hosts: tuple[str, ...] = ()
    webhook_private_networks: tuple[IpNetwork, ...] = ()
    webhook_secrets: Mapping[str, str] = field(default_factory=dict, hash=False, compare=False)

    @classmethod
    def from_env(
        cls,
        env: Mapping[str, str] | None = None,
        *,
        defaults: Mapping[str, str] | None = None,
        local_temporal: str | None = None,
    ) -> Settings:
        """Settings from `env` (the process environment by default); `defaults` fill gaps.

        `local_temporal` is the address of a server this process started (`followthrough
        dev`): then neither `temporal.toml` nor the TEMPORAL_* connection variables are
        read, so a user's own profile never sends the embedded setup elsewhere.
        """
        env = dict(os.environ if env is None else env)
        for name, value in (defaults or {}).items():
            env.setdefault(name, value)
        get = env.get
        if local_temporal is None:
            temporal = _temporal(env)
        else:
            temporal = {"temporal_address": local_temporal, "temporal_source": "the local server"}
        settings = cls(
            **temporal,
            task_queue=get("TEMPORAL_TASK_QUEUE", cls.task_queue),
            database_url=get("DATABASE_URL") or cls.database_url,
            ui_url=get("TEMPORAL_UI_URL", cls.ui_url),
            email_provider=get("EMAIL_PROVIDER", cls.email_provider),
            email_api_url=get("EMAIL_API_URL"),
            email_api_token=get("EMAIL_API_TOKEN"),
            email_from=get("EMAIL_FROM", cls.email_from),
            sms_provider=get("SMS_PROVIDER", cls.sms_provider),
            sms_api_url=get("SMS_API_URL"),
            sms_account_sid=get("SMS_ACCOUNT_SID"),
            sms_auth_token=get("SMS_AUTH_TOKEN"),
            email_api_idempotent=get("EMAIL_API_IDEMPOTENT", "").strip().lower() in _TRUE,
            sms_api_idempotent=get("SMS_API_IDEMPOTENT", "").strip().lower() in _TRUE,
            send_rates=_send_rates(env),
            breaker_failure_threshold=_read(env, "BREAKER_FAILURE_THRESHOLD", int, 5),
            breaker_open_seconds=_read(env, "BREAKER_OPEN_SECONDS", float, 60.0),
            suspend_after_failures=_read(env, "SUSPEND_AFTER_FAILURES", int, 5),
            suspend_window=_read(env, "SUSPEND_WINDOW", parse_duration, cls.suspend_window),
            metrics_port=_read(env, "METRICS_PORT", _port, None),
            metrics_host=get("METRICS_HOST", cls.metrics_host),
            otel_enabled=get("OTEL_ENABLED", "").strip().lower() in _TRUE,
            otel_exporter=get("OTEL_EXPORTER", cls.otel_exporter),
            payload_keys=_read(env, "PAYLOAD_KEYS", parse_keys, {}),
            codec_server_token=get("CODEC_SERVER_TOKEN", ""),
            receiver_secret=get("RECEIVER_SECRET", ""),
            fault_kill_after_send=get("FAULT_KILL_AFTER_SEND", "").strip().lower() in _TRUE,
            inbox_sso_header=get("INBOX_SSO_HEADER", "").strip(),
            inbox_sso_secret=get("INBOX_SSO_SECRET", ""),
            webhook_allowed_hosts=_read(env, "WEBHOOK_ALLOWED_HOSTS", parse_hosts, ()),
            webhook_private_networks=_read(env, "WEBHOOK_PRIVATE_NETWORKS", parse_networks, ()),
            webhook_secrets={k: v for k, v in env.items() if k.startswith(SECRET_PREFIX)},
        )
        settings.check()
        return settings

    def check(self) -> None:
        """Fail early, naming the variable, rather than at the first send."""
        for var, value in (
            ("EMAIL_PROVIDER", self.email_provider),
            ("SMS_PROVIDER", self.sms_provider),
        ):
            if value not in ("outbox", "http"):
                raise SettingsError(f"{var} must be 'outbox' or 'http', not {value!r}")
        if self.email_provider == "http":
            _require(EMAIL_API_URL=self.email_api_url, EMAIL_API_TOKEN=self.email_api_token)
        if self.sms_provider == "http":
            _require(
                SMS_API_URL=self.sms_api_url,
                SMS_ACCOUNT_SID=self.sms_account_sid,
                SMS_AUTH_TOKEN=self.sms_auth_token,
            )
        for channel, rate in self.send_rates.items():
            _check(
                math.isfinite(rate) and rate >= channels.MIN_RATE_PER_SECOND,
                f"{channels.spec(channel).rate_variable} must be at least "
                f"{channels.MIN_RATE_PER_SECOND} (sends per second), not {rate}",
            )
        _check(self.breaker_failure_threshold >= 1, "BREAKER_FAILURE_THRESHOLD must be at least 1")
        _check(self.breaker_open_seconds > 0, "BREAKER_OPEN_SECONDS must be positive")
        _check(self.suspend_after_failures >= 0, "SUSPEND_AFTER_FAILURES must not be negative")
        _check(
            not self.inbox_sso_header or len(self.inbox_sso_secret) >= 16,
            "INBOX_SSO_SECRET must be set to at least 16 characters when INBOX_SSO_HEADER is",
        )
        _check(
            self.otel_exporter in ("console", "none"),
            f"OTEL_EXPORTER must be 'console' or 'none', not {self.otel_exporter!r}",
        )

    @property
    def webhook_policy(self) -> WebhookPolicy:
        """The webhook rules: checked on templates and on every call."""
        return WebhookPolicy(self.webhook_allowed_hosts, self.webhook_private_networks)

    def __repr__(self) -> str:  # secrets never reach a log line
        return (
            f"Settings(temporal_address={self.temporal_address!r}, namespace={self.namespace!r}, "
            f"temporal_tls={bool(self.temporal_tls)}, email_provider={self.email_provider!r}, "
            f"sms_provider={self.sms_provider!r})"
        )


def _send_rates(env: Mapping[str, str]) -> dict[Channel, float]:
    """The rate of every message channel whose variable is set, by the registry's names."""
    rates = {}
    for entry in channels.message_channels():
        rate = _read(env, entry.rate_variable, float, None)
        if rate is not None:
            rates[entry.channel] = rate
    return rates


def _port(text: str) -> int:
    port = int(text)
    if not 0 < port < 65536:
        raise ValueError(text)
    return port


_MEANING: dict[Any, str] = {
    _port: "a port number",
    int: "a whole number",
    float: "a number",
    parse_duration: "a duration such as 30m, 1h or 2d",
    parse_hosts: "host names, *.domain or IP addresses, comma-separated",
    parse_networks: "networks such as 10.0.0.0/8, comma-separated",
}


def _read(env: Mapping[str, str], name: str, parse: Callable[[str], T], default: T) -> T:
    """`env[name]` through `parse`, or `default` when unset or blank."""
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        return parse(raw)
    except CodecError as err:
        raise SettingsError(str(err)) from None
    except ValueError:
        raise SettingsError(f"{name} must be {_MEANING[parse]}, not {raw!r}") from None


def _check(ok: bool, message: str) -> None:
    if not ok:
        raise SettingsError(message)


def _require(**values: str | None) -> None:
    missing = [name for name, value in values.items() if not value]
    if missing:
        raise SettingsError(f"{', '.join(missing)} must be set for the http provider")


# The variables `temporalio.envconfig` reads for the connection (not the task queue or UI).
_CONNECTION_VARIABLES = (
    "TEMPORAL_ADDRESS",
    "TEMPORAL_NAMESPACE",
    "TEMPORAL_API_KEY",
    "TEMPORAL_TLS",
    "TEMPORAL_GRPC_META_",
)

# The certificate files a TLS connection reads, and the variable that names each.
_TLS_FILES = (
    ("server_root_ca_cert", "TEMPORAL_TLS_SERVER_CA_CERT_PATH"),
    ("client_cert", "TEMPORAL_TLS_CLIENT_CERT_PATH"),
    ("client_private_key", "TEMPORAL_TLS_CLIENT_KEY_PATH"),
)


def _temporal(env: Mapping[str, str]) -> dict[str, Any]:
    """The Temporal connection as Temporal's own CLI reads it (`temporalio.envconfig`).

    A profile of `temporal.toml` (TEMPORAL_CONFIG_FILE, else the user's config directory;
    TEMPORAL_PROFILE, else `default`), under TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE,
    TEMPORAL_API_KEY, TEMPORAL_TLS_* and TEMPORAL_GRPC_META_*. The certificate files are
    read here, so a wrong path is one line naming its variable before anything connects.
    """
    config_file = env.get("TEMPORAL_CONFIG_FILE", "").strip()
    if config_file and not Path(config_file).is_file():
        raise SettingsError(f"TEMPORAL_CONFIG_FILE: no such file {config_file!r}")
    profile_name = env.get("TEMPORAL_PROFILE", "").strip() or None
    try:
        profile = ClientConfigProfile.load(profile_name, override_env_vars=env)
    except Exception as err:  # the SDK's ConfigError: a bad file or an unknown profile
        where = f"TEMPORAL_CONFIG_FILE {config_file!r}" if config_file else "temporal.toml"
        first = str(err).strip().splitlines()[0]
        raise SettingsError(f"{where}: {first}") from None
    # As `to_client_connect_config` decides: an API key alone means TLS (Temporal Cloud).
    tls: bool | TLSConfig = profile.api_key is not None
    if profile.tls is not None:
        tls = False if profile.tls.disabled else _tls_with_files(profile.tls)
    source = "the default"
    if profile_name or config_file:
        source = f"profile {profile_name or 'default'} of {config_file or 'temporal.toml'}"
    elif any(name.startswith(_CONNECTION_VARIABLES) for name in env):
        source = "TEMPORAL_* variables"
    elif profile.address or profile.api_key or profile.tls:
        source = "the default profile of temporal.toml"
    return {
        "temporal_address": profile.address or Settings.temporal_address,
        "namespace": profile.namespace or Settings.namespace,
        "temporal_api_key": profile.api_key,
        "temporal_tls": tls,
        "temporal_rpc_metadata": dict(profile.grpc_meta),
        "temporal_source": source,
    }


def _tls_with_files(tls: Any) -> TLSConfig:
    """The profile's TLS settings with each certificate file read (one line when it cannot be)."""
    loaded: dict[str, bytes | None] = {}
    for attribute, variable in _TLS_FILES:
        source = getattr(tls, attribute)
        if isinstance(source, Path):
            try:
                loaded[attribute] = source.read_bytes()
            except OSError as err:
                raise SettingsError(
                    f"{variable}: cannot read {str(source)!r}: {err.strerror}"
                ) from None
        else:
            loaded[attribute] = source.encode() if isinstance(source, str) else source
    if (loaded["client_cert"] is None) != (loaded["client_private_key"] is None):
        raise SettingsError(
            "TEMPORAL_TLS_CLIENT_CERT_PATH and TEMPORAL_TLS_CLIENT_KEY_PATH must be set together"
        )
    return TLSConfig(
        domain=tls.server_name,
        server_root_ca_cert=loaded["server_root_ca_cert"],
        client_cert=loaded["client_cert"],
        client_private_key=loaded["client_private_key"],
    )
