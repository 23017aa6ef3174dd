"""Configuration from the environment, with defaults that work on a laptop."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from contracts import TASK_QUEUE
from store import DEFAULT_DATABASE_URL


class SettingsError(ValueError):
    """A configuration value that is missing or malformed; the message names it."""


@dataclass(frozen=True)
class Settings:
    temporal_address: str = "localhost:7233"
    namespace: str = "default"
    task_queue: str = TASK_QUEUE
    database_url: str = DEFAULT_DATABASE_URL
    ui_url: str = "http://localhost:8233"
    email_provider: str = "outbox"
    email_api_url: str | None = None
    email_api_token: str | None = None
    email_from: str = "outreach@followthrough.local"
    sms_provider: str = "outbox"
    sms_api_url: str | None = None
    sms_account_sid: str | None = None
    sms_auth_token: str | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        settings = cls(
            temporal_address=env.get("TEMPORAL_ADDRESS", cls.temporal_address),
            namespace=env.get("TEMPORAL_NAMESPACE", cls.namespace),
            task_queue=env.get("TEMPORAL_TASK_QUEUE", cls.task_queue),
            database_url=env.get("DATABASE_URL", cls.database_url),
            ui_url=env.get("TEMPORAL_UI_URL", cls.ui_url),
            email_provider=env.get("EMAIL_PROVIDER", cls.email_provider),
            email_api_url=env.get("EMAIL_API_URL"),
            email_api_token=env.get("EMAIL_API_TOKEN"),
            email_from=env.get("EMAIL_FROM", cls.email_from),
            sms_provider=env.get("SMS_PROVIDER", cls.sms_provider),
            sms_api_url=env.get("SMS_API_URL"),
            sms_account_sid=env.get("SMS_ACCOUNT_SID"),
            sms_auth_token=env.get("SMS_AUTH_TOKEN"),
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

    def __repr__(self) -> str:  # secrets never reach a log line
        return (
            f"Settings(temporal_address={self.temporal_address!r}, namespace={self.namespace!r}, "
            f"email_provider={self.email_provider!r}, sms_provider={self.sms_provider!r})"
        )


def _require(**values: str | None) -> None:
    missing = [name for name, value in values.items() if not value]
    if missing:
        raise SettingsError(f"{', '.join(missing)} must be set for the http provider")
