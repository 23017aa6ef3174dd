"""`followthrough respond|approve|reject|resume|skip|cancel`: refusals are one line, exit 1."""

from __future__ import annotations

from followthrough import operations
from followthrough.platform.devserver import DevServer
from starter import cli_signals
from tests.starter.runner import invoke


def test_refused_decision_is_one_line_and_exit_1(monkeypatch):
    async def refuse(*args, **kwargs):
        raise operations.OperationError("refused: role: 'parent' may not decide")

    monkeypatch.setattr(operations, "decide_now", refuse)

    class Fake:
        async def __aenter__(self):
            return object()

        async def __aexit__(self, *exc):
            return False

    monkeypatch.setattr(cli_signals, "temporal", Fake)
    code, output = invoke("approve", "intervention-x-F1", "--by", "p", "--role", "parent")
    assert (code, output) == (1, "error: refused: role: 'parent' may not decide")


def test_bad_channel(env, dev_server: DevServer, monkeypatch):
    monkeypatch.setenv("TEMPORAL_ADDRESS", dev_server.address)
    code, output = invoke("respond", "intervention-x-F1", "--channel", "pigeon")
    assert code == 1 and output.startswith("error: channel: 'pigeon' is not one of email, sms")
