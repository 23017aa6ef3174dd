"""Webhook rules at the edge: `templates validate|load` refuse, `validate --all` reports the
stored templates that break them, and the start pipeline refuses those at start."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from contracts import SequenceParams
from followthrough.triggers.errors import TriggerError
from followthrough.triggers.start import start_sequence
from tests.starter.runner import invoke as run


def ticket_template(url: str, headers: dict[str, str] | None = None) -> dict[str, Any]:
    step = {"id": "ticket", "type": "webhook", "url": url, "headers": headers or {}}
    return {"name": "itsm_ticket", "trigger": {"type": "manual"}, "steps": [step]}


def write(tmp_path: Path, data: dict[str, Any]) -> Path:
    path = tmp_path / "ticket.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


@pytest.mark.parametrize(
    ("url", "headers", "why"),
    [
        (
            "https://itsm.example.com/api",
            {"Authorization": "env:DATABASE_URL"},
            "headers.Authorization: env:DATABASE_URL is not a webhook secret "
            "(only env:WEBHOOK_SECRET_* variables)",
        ),
        (
            "https://evil.example.net/x",
            {},
            "url: host 'evil.example.net' is not in WEBHOOK_ALLOWED_HOSTS",
        ),
        (
            "http://169.254.169.254/latest",
            {},
            "url: host '169.254.169.254' is not in WEBHOOK_ALLOWED_HOSTS",
        ),
        (
            "https://{{ host }}/x",
            {},
            "url: the host must be written out, not a template variable or user info",
        ),
    ],
)
def test_validate_and_load_refuse_naming_the_step(env, tmp_path, monkeypatch, url, headers, why):
    monkeypatch.setenv("WEBHOOK_ALLOWED_HOSTS", "itsm.example.com")
    path = write(tmp_path, ticket_template(url, headers))
    for command in ("validate", "load"):
        assert run("templates", command, str(path)) == (1, f"error: {path}: step 'ticket': {why}")


def test_an_allowed_private_address_needs_its_network(env, tmp_path, monkeypatch):
    monkeypatch.setenv("WEBHOOK_ALLOWED_HOSTS", "10.1.2.3")
    path = write(tmp_path, ticket_template("http://10.1.2.3/hook"))
    code, output = run("templates", "validate", str(path))
    assert (code, output) == (
        1,
        f"error: {path}: step 'ticket': url: 10.1.2.3 is a private address; "
        "allow its network in WEBHOOK_PRIVATE_NETWORKS to call it",
    )
    monkeypatch.setenv("WEBHOOK_PRIVATE_NETWORKS", "10.1.0.0/16")
    assert run("templates", "validate", str(path)) == (
        0,
        f"{path}: ok (itsm_ticket, workflow TemplateIntervention)",
    )


async def test_stored_templates_that_break_the_rules_are_reported_and_refused(
    env, store, monkeypatch, dev_client, settings
):
    # Stored before the rules existed: straight into the store, past every check.
    leaky = SequenceParams.model_validate(
        ticket_template("https://itsm.example.com/api", {"X-Key": "env:PAYLOAD_KEYS"})
    )
    await store.templates.save(leaky)
    monkeypatch.setenv("WEBHOOK_ALLOWED_HOSTS", "itsm.example.com")
    from tests.starter.runner import invoke_async

    code, output = await invoke_async("templates", "validate", "--all")
    assert code == 1
    assert (
        "error: itsm_ticket v1 (active): step 'ticket': headers.X-Key: env:PAYLOAD_KEYS is not "
        "a webhook secret" in output
    )
    assert "high_risk_intervention v1 (active): ok" in output

    stored = await store.templates.active("itsm_ticket")
    assert stored is not None
    with pytest.raises(TriggerError) as refused:
        await start_sequence(dev_client, stored, "F1", task_queue=settings.task_queue, store=store)
    assert str(refused.value) == (
        "template: itsm_ticket v1 breaks the webhook rules: step 'ticket': headers.X-Key: "
        "env:PAYLOAD_KEYS is not a webhook secret (only env:WEBHOOK_SECRET_* variables)"
    )
