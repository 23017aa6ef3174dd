"""Owners, quotas and rollouts: the pure parts, the quota on the real dev server, the CLI."""

from __future__ import annotations

import asyncio
import re
import uuid
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from temporalio.client import Client
from typer.testing import CliRunner

from contracts import CancelRequest, Channel, SequenceParams
from followthrough.platform.devserver import free_port
from followthrough.triggers.errors import TriggerError
from followthrough.triggers.governance import (
    QuotaExceeded,
    bucket,
    choose_version,
    count_running,
    running_query,
)
from followthrough.triggers.start import start_sequence
from starter.cli import app
from store import Store
from workflows.search_attributes import TEMPLATE_VERSION

runner = CliRunner()


def run(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    assert "Traceback" not in result.output
    return result.exit_code, result.output.strip()


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, store: Store, tmp_path: Path) -> None:
    monkeypatch.setenv("DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'store.db'}")
    monkeypatch.setenv("TEMPORAL_ADDRESS", f"127.0.0.1:{free_port()}")  # nothing listens


# ----------------------------------------------------------------------- pure parts

families = st.text(alphabet="ABCDEFGHJKLMNPQRSTUVWXYZ0123456789-", min_size=1, max_size=12)


@settings(max_examples=300, deadline=None)
@given(families, st.sampled_from(["onboarding", "payment_reminder", "x"]))
def test_a_family_always_lands_in_the_same_bucket(family: str, template: str) -> None:
    place = bucket(family, template)
    assert 0 <= place < 100
    assert bucket(family, template) == place


@settings(max_examples=300, deadline=None)
@given(families, st.integers(0, 100), st.integers(0, 100))
def test_raising_the_share_never_moves_a_family_back(family: str, low: int, high: int) -> None:
    low, high = sorted((low, high))
    on_canary_at_low = bucket(family, "t") < low
    assert not on_canary_at_low or bucket(family, "t") < high


def test_buckets_spread_evenly_enough() -> None:
    places = [bucket(f"F{i}", "onboarding") for i in range(2000)]
    share = sum(place < 10 for place in places) / len(places)
    assert 0.08 < share < 0.12


def test_the_buckets_do_not_move_between_releases() -> None:
    # A new hash would move families between a canary and its stable version: pinned here.
    assert [bucket(f, "onboarding") for f in ("F00001", "F00002", "F00003")] == [85, 51, 18]


def test_the_running_query_counts_a_template_but_the_sequence_being_started() -> None:
    running = "TemplateName = 'onboarding' AND ExecutionStatus = 'Running'"
    assert running_query("onboarding") == running
    assert running_query("onboarding", "intervention-onboarding-F1") == (
        f"{running} AND WorkflowId != 'intervention-onboarding-F1'"
    )
    for bad in ("F1' OR 'a' = 'a", "F1\\"):
        with pytest.raises(TriggerError, match="cannot be used in a visibility query"):
            running_query("onboarding", bad)


def test_the_owner_receives_escalations_unless_someone_else_is_named() -> None:
    base = {"name": "t", "workflow": "W", "owner": "billing"}
    assert SequenceParams.model_validate(base).escalation.assign_to == "billing"
    named = {**base, "escalation": {"assign_to": "director", "timeout": "1d"}}
    params = SequenceParams.model_validate(named)
    assert (params.escalation.assign_to, params.accountable) == ("director", "billing")
    # A stored snapshot round-trips unchanged.
    again = SequenceParams.model_validate(params.model_dump(mode="json"))
    assert again.escalation.assign_to == "director"
    without = SequenceParams.model_validate({"name": "t", "workflow": "W"})
    assert (without.owner, without.accountable) == (None, "coordinator")


async def test_choose_version_follows_the_rollout(store: Store) -> None:
    v1 = await store.templates.active("medium_risk_intervention")
    assert v1 is not None and v1.version == 1
    v2, _ = await store.templates.save(v1.model_copy(update={"description": "shorter"}))
    assert (await choose_version(store, v2, "F1"))[1] is None  # no rollout: as given

    await store.rollouts.set("medium_risk_intervention", 2, 10)
    chosen = {}
    for i in range(40):
        family = f"F{i}"
        params, why = await choose_version(store, v2, family)
        side = "canary" if bucket(family, v2.name) < 10 else "stable"
        assert params.version == (2 if side == "canary" else 1)
        assert why is not None and why.startswith(side)
        chosen[family] = params.version
    # Deterministic: exactly the families whose bucket is below the share.
    assert sum(v == 2 for v in chosen.values()) == sum(bucket(f, v2.name) < 10 for f in chosen)


# ----------------------------------------------------------------------- quota


async def test_a_start_past_the_quota_is_refused_naming_quota_and_owner(
    dev_client: Client, store: Store
) -> None:
    params = await store.templates.active("medium_risk_intervention")
    assert params is not None
    name = f"quota_probe_{uuid.uuid4().hex[:8]}"
    params = params.model_copy(update={"name": name, "max_active": 2, "owner": "retention"})
    queue = f"no-worker-{uuid.uuid4()}"  # nothing runs them: they stay Running
    handles = []
    for family in ("F1", "F2"):
        outcome = await start_sequence(dev_client, params, family, task_queue=queue)
        assert outcome.started and outcome.handle is not None
        handles.append(outcome.handle)
    for _ in range(100):  # visibility catches up within moments
        if await count_running(dev_client, name) == 2:
            break
        await asyncio.sleep(0.05)

    with pytest.raises(QuotaExceeded) as refused:
        await start_sequence(dev_client, params, "F3", task_queue=queue)
    assert str(refused.value) == (
        f"max_active: {name} already runs 2 sequences, its quota is 2; "
        "start refused (owner: retention)"
    )
    # A running one asked again is "already running", not refused.
    again = await start_sequence(dev_client, params, "F1", task_queue=queue)
    assert not again.started and again.message.endswith("is already running")

    for handle in handles:
        await handle.terminate("test over")


# ----------------------------------------------------------------------- CLI


def test_rollout_promote_rollback_and_the_list(env, store, tmp_path) -> None:
    code, output = run("templates", "list")
    assert code == 0, output
    line = next(row for row in output.splitlines() if row.startswith("payment_reminder "))
    assert re.search(
        r"payment_reminder\s+v1\s+active\s+PaymentReminder\s+owner billing\s+running \?/300\s+"
        r"versions v1\*\s+rollout -",
        line,
    ), line
    assert output.splitlines()[-1].startswith("(running counts need Temporal at 127.0.0.1:")

    assert run("templates", "rollout", "payment_reminder", "--version", "2", "--percent", "10") == (
        1,
        "error: version: 'payment_reminder' has no version 2",
    )
    v2 = tmp_path / "v2.yaml"
    text = Path("templates/payment_reminder.yaml").read_text()
    v2.write_text(text.replace("wait_after_email: 5d", "wait_after_email: 4d"))
    assert run("templates", "load", str(v2)) == (0, "payment_reminder v2 loaded")
    assert run("templates", "rollout", "payment_reminder", "--version", "2", "--percent", "10") == (
        0,
        "payment_reminder: v2 takes 10% of new starts, v1 the rest; "
        "running sequences keep their version",
    )
    assert run("templates", "rollout", "payment_reminder", "--version", "2", "--percent", "101")[
        1
    ] == ("error: percent: must be between 0 and 100, got 101")
    code, output = run("templates", "list")
    assert re.search(r"payment_reminder\s+v2 .* versions v1\* v2\*\s+rollout v2 10%", output)

    assert run("templates", "rollback", "payment_reminder") == (
        0,
        "payment_reminder: v2 rolled back; new starts get v1",
    )
    assert run("templates", "rollback", "payment_reminder") == (
        1,
        "error: template: 'payment_reminder' has no rollout in progress",
    )
    assert (
        run("templates", "rollout", "payment_reminder", "--version", "2", "--percent", "50")[0] == 0
    )
    assert run("templates", "promote", "payment_reminder") == (
        0,
        "payment_reminder: v2 promoted to every new start",
    )
    code, output = run("templates", "list")
    assert re.search(r"payment_reminder\s+v2\s+active .* versions v1 v2\*\s+rollout -", output)


async def test_an_event_start_follows_the_rollout(time_env, store, settings, ts_worker) -> None:
    from contracts import InterventionStatus
    from followthrough.triggers.events import send_event

    v1 = await store.templates.active("onboarding")
    assert v1 is not None
    await store.templates.save(v1.model_copy(update={"description": "v2"}))
    await store.rollouts.set("onboarding", 2, 100)
    outcome = await send_event(
        time_env.client, store, "enrolled", "F1", task_queue=settings.task_queue
    )
    assert outcome.handle is not None
    status = await outcome.handle.query("status", result_type=InterventionStatus)
    assert status.template_version == 2
    assert status.rollout is not None and status.rollout.startswith("canary v2 (100%")
    await outcome.handle.terminate("test over")


async def test_after_a_rollback_predictions_start_the_stable_version(
    time_env, store, settings, ts_worker
):
    from followthrough.triggers.start import predict

    v1 = await store.templates.active("high_risk_intervention")
    assert v1 is not None
    await store.templates.save(v1.model_copy(update={"description": "v2"}))
    await store.templates.set_active("high_risk_intervention", False, 2)  # what rollback does
    assert [p.version for p in await store.templates.list_active() if p.name == v1.name] == [1]

    # On a served queue: a workflow task nobody picks up would hold the test server's clock.
    outcome = await predict(time_env.client, store, "F1", 0.9, 90, task_queue=settings.task_queue)
    assert outcome.started and outcome.handle is not None, outcome.message
    description = await outcome.handle.describe()
    assert description.typed_search_attributes.get(TEMPLATE_VERSION) == 1
    # Ended from inside, by the workflow's own cancel: terminating it mid-task would leave
    # the time-skipping server's clock held for the tests after this one.
    await outcome.handle.signal("cancel", CancelRequest(reason="test over"))
    await outcome.handle.result()


async def test_status_shows_the_version_choice_and_why_a_step_waits(
    env, store, dev_server, dev_client, dev_worker, settings, monkeypatch
) -> None:
    from datetime import time

    from contracts.windows import SendWindow

    monkeypatch.setenv("TEMPORAL_ADDRESS", dev_server.address)
    name = f"status_probe_{uuid.uuid4().hex[:8]}"
    base = await store.templates.active("medium_risk_intervention")
    assert base is not None
    # A one-minute email window a day: the first email has to wait for it, whatever the hour.
    window = SendWindow(start=time(3, 7), end=time(3, 8))
    probe = base.model_copy(
        update={
            "name": name,
            "quiet_hours": None,
            "best_hour": True,
            "send_windows": {Channel.EMAIL: window},
        }
    )
    v1, _ = await store.templates.save(probe)
    v2, _ = await store.templates.save(probe.model_copy(update={"description": "v2"}))
    await store.rollouts.set(name, 2, 100)
    outcome = await start_sequence(
        dev_client, v2, "F1", task_queue=settings.task_queue, store=store
    )
    assert outcome.handle is not None and outcome.workflow_id is not None
    for _ in range(100):
        code, output = await asyncio.to_thread(run, "status", outcome.workflow_id)
        if "first_email" in output:
            break
        await asyncio.sleep(0.1)
    assert code == 0, output
    assert "version: canary v2 (100%, bucket" in output
    assert re.search(
        r"first_email .* \[due \d{4}-\d\d-\d\d 03:07 UTC: best hour: no past answers, "
        r"window start 03:07; send window \(03:07–03:08 local\)\]",
        output,
    ), output
    await outcome.handle.terminate("test over")
