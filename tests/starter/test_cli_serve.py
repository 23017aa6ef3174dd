"""`followthrough migrate|receiver|codec-server`: set-up, and listeners refusing to start unsafe."""

from __future__ import annotations

from tests.starter.runner import invoke


def test_migrate(env):
    assert invoke("migrate") == (0, "store migrated")


def test_listeners_name_the_missing_secret(env, monkeypatch):
    monkeypatch.delenv("RECEIVER_SECRET", raising=False)
    monkeypatch.delenv("PAYLOAD_KEYS", raising=False)
    code, output = invoke("receiver")
    assert (code, output) == (1, "error: RECEIVER_SECRET must be set to at least 16 characters")
    code, output = invoke("codec-server")
    assert (code, output) == (1, "error: PAYLOAD_KEYS must be set for the codec server")
