"""`Settings.from_env`: every variable the product reads, its default, and one-line errors."""

from __future__ import annotations

from datetime import timedelta

import pytest

from followthrough.platform.settings import Settings, SettingsError
from store import DEFAULT_DATABASE_URL


def test_defaults_work_on_a_laptop():
    settings = Settings.from_env({})
    assert settings == Settings()
    assert settings.temporal_address == "localhost:7233"
    assert settings.database_url == DEFAULT_DATABASE_URL
    assert (settings.email_provider, settings.sms_provider) == ("outbox", "outbox")
    assert (settings.breaker_failure_threshold, settings.breaker_open_seconds) == (5, 60.0)
    assert (settings.suspend_after_failures, settings.suspend_window) == (5, timedelta(hours=1))
    assert settings.metrics_port is None and not settings.otel_enabled
    assert settings.payload_keys == {} and settings.codec_server_token == ""
    assert settings.receiver_secret == ""


def test_every_variable_is_read():
    env = {
        "TEMPORAL_ADDRESS": "temporal:7233",
        "TEMPORAL_NAMESPACE": "prod",
        "TEMPORAL_TASK_QUEUE": "q",
        "TEMPORAL_UI_URL": "http://ui",
        "DATABASE_URL": "postgresql://db/app",
        "EMAIL_PROVIDER": "http",
        "EMAIL_API_URL": "http://mail",
        "EMAIL_API_TOKEN": "t",
        "EMAIL_FROM": "a@b.c",
        "SMS_PROVIDER": "http",
        "SMS_API_URL": "http://sms",
        "SMS_ACCOUNT_SID": "AC",
        "SMS_AUTH_TOKEN": "s",
        "BREAKER_FAILURE_THRESHOLD": "2",
        "BREAKER_OPEN_SECONDS": "1.5",
        "SUSPEND_AFTER_FAILURES": "0",
        "SUSPEND_WINDOW": "30m",
        "METRICS_PORT": "9464",
        "METRICS_HOST": "127.0.0.1",
        "OTEL_ENABLED": "yes",
        "OTEL_EXPORTER": "none",
        "PAYLOAD_KEYS": "k1:" + "MTExMTExMTExMTExMTExMQ==",
        "CODEC_SERVER_TOKEN": "a-token-of-16-chars",
        "RECEIVER_SECRET": "a-secret-of-16-chars",
        "ITSM_TOKEN": "not for a webhook header",
        "WEBHOOK_SECRET_ITSM": "for a webhook header",
        "WEBHOOK_ALLOWED_HOSTS": "itsm.example.com, *.hooks.example.com",
        "WEBHOOK_PRIVATE_NETWORKS": "10.20.0.0/16",
        "INBOX_SSO_HEADER": "X-Remote-User",
        "INBOX_SSO_SECRET": "a-proxy-secret-of-16",
    }
    s = Settings.from_env(env)
    assert (s.temporal_address, s.namespace, s.task_queue, s.ui_url) == (
        "temporal:7233",
        "prod",
        "q",
        "http://ui",
    )
    assert s.database_url == "postgresql://db/app"
    assert (s.email_api_url, s.email_api_token, s.email_from) == ("http://mail", "t", "a@b.c")
    assert (s.sms_api_url, s.sms_account_sid, s.sms_auth_token) == ("http://sms", "AC", "s")
    assert (s.breaker_failure_threshold, s.breaker_open_seconds) == (2, 1.5)
    assert (s.suspend_after_failures, s.suspend_window) == (0, timedelta(minutes=30))
    assert (s.metrics_port, s.metrics_host, s.otel_enabled, s.otel_exporter) == (
        9464,
        "127.0.0.1",
        True,
        "none",
    )
    assert s.payload_keys == {"k1": b"1" * 16}
    assert (s.codec_server_token, s.receiver_secret) == (
        "a-token-of-16-chars",
        env["RECEIVER_SECRET"],
    )
    # Only WEBHOOK_SECRET_* variables are readable by a webhook header.
    assert dict(s.webhook_secrets) == {"WEBHOOK_SECRET_ITSM": "for a webhook header"}
    assert s.webhook_allowed_hosts == ("itsm.example.com", "*.hooks.example.com")
    assert [str(n) for n in s.webhook_private_networks] == ["10.20.0.0/16"]
    assert (s.inbox_sso_header, s.inbox_sso_secret) == ("X-Remote-User", "a-proxy-secret-of-16")
    assert "a-secret" not in repr(s) and "MTEx" not in repr(s)


def test_defaults_fill_only_what_the_environment_leaves_unset():
    s = Settings.from_env(
        {"TEMPORAL_ADDRESS": "mine:1"},
        defaults={"TEMPORAL_ADDRESS": "127.0.0.1:7233", "DATABASE_URL": "sqlite:///x.db"},
    )
    assert (s.temporal_address, s.database_url) == ("mine:1", "sqlite:///x.db")


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"EMAIL_PROVIDER": "pigeon"}, "EMAIL_PROVIDER must be 'outbox' or 'http', not 'pigeon'"),
        ({"SMS_PROVIDER": "http"}, "SMS_API_URL, SMS_ACCOUNT_SID, SMS_AUTH_TOKEN must be set"),
        ({"BREAKER_FAILURE_THRESHOLD": "many"}, "BREAKER_FAILURE_THRESHOLD must be a whole number"),
        ({"BREAKER_FAILURE_THRESHOLD": "0"}, "BREAKER_FAILURE_THRESHOLD must be at least 1"),
        ({"BREAKER_OPEN_SECONDS": "soon"}, "BREAKER_OPEN_SECONDS must be a number, not 'soon'"),
        ({"BREAKER_OPEN_SECONDS": "0"}, "BREAKER_OPEN_SECONDS must be positive"),
        ({"SUSPEND_AFTER_FAILURES": "-1"}, "SUSPEND_AFTER_FAILURES must not be negative"),
        ({"SUSPEND_WINDOW": "a while"}, "SUSPEND_WINDOW must be a duration such as 30m"),
        ({"METRICS_PORT": "ninety"}, "METRICS_PORT must be a port number, not 'ninety'"),
        ({"METRICS_PORT": "70000"}, "METRICS_PORT must be a port number, not '70000'"),
        ({"OTEL_EXPORTER": "jaeger"}, "OTEL_EXPORTER must be 'console' or 'none', not 'jaeger'"),
        ({"PAYLOAD_KEYS": "k1:%%%"}, "PAYLOAD_KEYS: key 'k1': not base64"),
        ({"WEBHOOK_PRIVATE_NETWORKS": "10.0.0.0/33"}, "WEBHOOK_PRIVATE_NETWORKS must be networks"),
        ({"WEBHOOK_ALLOWED_HOSTS": "a b"}, "WEBHOOK_ALLOWED_HOSTS must be host names"),
        ({"INBOX_SSO_HEADER": "X-User"}, "INBOX_SSO_SECRET must be set to at least 16"),
    ],
)
def test_a_bad_value_names_its_variable(env, message):
    with pytest.raises(SettingsError) as err:
        Settings.from_env(env)
    assert str(err.value).startswith(message)
