"""Sequence starts: what every cooldown reads, one at a time and for a batch of families."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from alembic import command
from sqlalchemy import text

from store import Store, make_engine, migrate
from store.migrate import alembic_config
from store.starts import NewStart

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


def _start(family_id: str, template: str, days_ago: int) -> NewStart:
    return NewStart(
        family_id=family_id,
        template=template,
        version=1,
        workflow_id=f"intervention-{template}-{family_id}",
        triggered_by="manual",
        started_at=NOW - timedelta(days=days_ago),
    )


async def test_the_last_start_per_family_and_template(store: Store) -> None:
    await store.starts.add(_start("A", "reminder", 9))
    await store.starts.add_many(
        [_start("A", "reminder", 2), _start("A", "outreach", 5), _start("B", "reminder", 1)]
    )

    assert await store.starts.last_started("A", "reminder") == NOW - timedelta(days=2)
    assert await store.starts.last_started("A", "nothing") is None
    assert await store.starts.last_started_many(["A", "B", "C"], ["reminder"]) == {
        ("A", "reminder"): NOW - timedelta(days=2),
        ("B", "reminder"): NOW - timedelta(days=1),
    }
    assert await store.starts.last_started_many([], ["reminder"]) == {}


async def test_the_upgrade_carries_over_the_starts_predictions_made(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'old.db'}"
    engine = make_engine(url)

    def upgrade_to(connection: object, revision: str) -> None:
        config = alembic_config()
        config.attributes["connection"] = connection
        command.upgrade(config, revision)

    try:
        async with engine.begin() as connection:
            await connection.run_sync(upgrade_to, "h8_template_rollouts")
            await connection.execute(
                text(
                    "INSERT INTO families (family_id, name, timezone, opted_out, attributes,"
                    " created_at, updated_at) VALUES ('F1', 'x', 'UTC', '[]', '{}',"
                    " '2026-11-01 09:00:00', '2026-11-01 09:00:00')"
                )
            )
            # A cooldown row started nothing: it is not carried over.
            for day, outcome in ((2, "started"), (3, "upgraded"), (4, "cooldown")):
                await connection.execute(
                    text(
                        "INSERT INTO predictions (family_id, probability, confidence,"
                        " model_version, created_at, template, workflow_id, outcome) VALUES"
                        " ('F1', 0.9, 90, 'm', :at, 'high', 'intervention-high-F1', :outcome)"
                    ),
                    {"at": f"2026-11-0{day} 09:00:00", "outcome": outcome},
                )
    finally:
        await engine.dispose()
    await migrate(url)
    store = Store.from_url(url)
    try:
        last = await store.starts.last_started("F1", "high")
    finally:
        await store.close()
    assert last == datetime(2026, 11, 3, 9, 0, tzinfo=UTC)
