"""`followthrough tasks --today`: open call tasks due today, one list per coordinator."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from typer.testing import CliRunner

from followthrough.reporting.call_lists import daily_call_lists, render
from starter.cli import app
from store import CoordinatorTask, Store

NOW = datetime(2026, 3, 6, 15, 0, tzinfo=UTC)  # a Friday, 10:00 in New York


def task(
    id_: int, who: str, at: datetime, kind: str = "call", status: str = "open"
) -> CoordinatorTask:
    return CoordinatorTask(
        id=id_,
        idempotency_key=f"k{id_}",
        family_id=f"F{id_}",
        workflow_id=f"intervention-x-F{id_}",
        kind=kind,
        reason=f"reason {id_}",
        assign_to=who,
        details={},
        status=status,
        created_at=at,
    )


def test_due_calls_are_grouped_per_coordinator_oldest_first() -> None:
    tasks = [
        task(1, "sarah", datetime(2026, 3, 6, 14, tzinfo=UTC)),
        task(2, "mike", datetime(2026, 3, 6, 9, tzinfo=UTC)),
        task(3, "sarah", datetime(2026, 3, 4, 16, tzinfo=UTC)),  # still open from Wednesday
        task(4, "sarah", datetime(2026, 3, 6, 13, tzinfo=UTC), kind="task"),
        task(5, "mike", datetime(2026, 3, 6, 10, tzinfo=UTC), status="done"),
        task(6, "mike", datetime(2026, 3, 7, 6, tzinfo=UTC)),  # tomorrow in New York
    ]
    lists = daily_call_lists(tasks, NOW, "America/New_York")
    assert [(each.assign_to, [t.id for t in each.tasks]) for each in lists] == [
        ("mike", [2]),
        ("sarah", [3, 1]),
    ]
    lines = render(lists, NOW, "America/New_York")
    assert lines[0] == "calls due on Fri 2026-03-06 (America/New_York): 3 for 2 people"
    assert lines[1] == "mike (1)"
    assert "due 04:00" in lines[2] and "family F2" in lines[2]
    assert "overdue since Wed 04 Mar 11:00" in lines[4]
    # In New York task 6 is tomorrow's; in Auckland (UTC+13) it is due today.
    assert 6 in [
        t.id for each in daily_call_lists(tasks, NOW, "Pacific/Auckland") for t in each.tasks
    ]


def test_nothing_due() -> None:
    assert render([], NOW) == ["no calls due on Fri 2026-03-06 (UTC)"]


async def _open(store: Store, key: str, family: str, who: str) -> None:
    await store.tasks.open(
        idempotency_key=key,
        family_id=family,
        workflow_id=f"intervention-payment_reminder-{family}",
        kind="call",
        reason="Overdue balance",
        assign_to=who,
        details={},
    )


async def test_the_cli_prints_the_lists(store: Store, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'store.db'}")
    await _open(store, "a", "F1", "billing")
    await _open(store, "b", "F2", "billing")
    await _open(store, "c", "F3", "coordinator")
    import asyncio

    result = await asyncio.to_thread(CliRunner().invoke, app, ["tasks", "--today"])
    assert result.exit_code == 0, result.output
    lines = result.output.strip().splitlines()
    assert lines[0].endswith("(UTC): 3 for 2 people")
    assert lines[1] == "billing (2)" and lines[4] == "coordinator (1)"
    bad = await asyncio.to_thread(
        CliRunner().invoke, app, ["tasks", "--today", "--timezone", "Mars/Base"]
    )
    assert bad.exit_code == 1
    assert "timezone: unknown time zone 'Mars/Base'" in bad.output
