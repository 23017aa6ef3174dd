"""Predictions one at a time and by the batch: the batch calls give the same rows."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, update

from store import Prediction, Store
from store.predictions import NewPrediction, Outcome


async def rows(store: Store) -> list[Prediction]:
    async with store.sessions() as session:
        return list(await session.scalars(select(Prediction).order_by(Prediction.id)))


async def test_add_many_stores_known_families_in_order(store: Store) -> None:
    for family_id in ("A", "B"):
        await store.families.upsert(family_id, family_id, email=f"{family_id}@example.org")
    batch = [
        NewPrediction("A", 0.9, 90, window_days=30, model_version="m1"),
        NewPrediction("nobody", 0.9, 90),
        NewPrediction("B", 0.5, 40),
        NewPrediction("A", 0.7, 75),
    ]

    recorded = await store.predictions.add_many(batch)

    assert recorded[1] is None
    kept = [r for r in recorded if r is not None]
    assert [r.family_id for r in kept] == ["A", "B", "A"]
    assert [r.id for r in kept] == sorted(r.id for r in kept)  # ids in the order given
    stored = await rows(store)
    assert [(p.id, p.family_id, p.probability, p.confidence) for p in stored] == [
        (kept[0].id, "A", 0.9, 90),
        (kept[1].id, "B", 0.5, 40),
        (kept[2].id, "A", 0.7, 75),
    ]
    assert (stored[0].window_days, stored[0].model_version) == (30, "m1")
    assert (stored[1].window_days, stored[1].model_version) == (None, "unknown")
    assert [p.created_at for p in stored] == [r.created_at for r in kept]
    assert all(p.outcome is None for p in stored)
    assert await store.predictions.add_many([]) == []
    assert await store.predictions.add_many([NewPrediction("nobody", 0.9, 90)]) == [None]


async def test_set_outcomes_writes_every_row_or_none(store: Store, family_id: str) -> None:
    recorded = await store.predictions.add_many(
        [NewPrediction(family_id, 0.9, 90), NewPrediction(family_id, 0.1, 10)]
    )
    first, second = (r.id for r in recorded if r is not None)

    with pytest.raises(LookupError, match="no prediction 999999"):
        await store.predictions.set_outcomes(
            [Outcome(first, "t", "wf", "started"), Outcome(999999, None, None, "cooldown")]
        )
    assert [p.outcome for p in await rows(store)] == [None, None]

    await store.predictions.set_outcomes(
        [Outcome(first, "t", "wf", "started"), Outcome(second, None, None, "below_threshold")]
    )
    stored = await rows(store)
    assert [(p.template, p.workflow_id, p.outcome) for p in stored] == [
        ("t", "wf", "started"),
        (None, None, "below_threshold"),
    ]
    await store.predictions.set_outcomes([])


async def test_last_started_many_matches_last_started(store: Store) -> None:
    for family_id in ("A", "B", "C"):
        await store.families.upsert(family_id, family_id, email=f"{family_id}@example.org")
    plan = [
        ("A", "high", "started", 5),
        ("A", "high", "upgraded", 2),  # the latest start of (A, high)
        ("A", "high", "already_running", 1),  # not a start
        ("A", "medium", "started", 9),
        ("B", "high", "cooldown", 1),
        ("B", "medium", "started", 3),
    ]
    recorded = await store.predictions.add_many([NewPrediction(f, 0.9, 90) for f, *_ in plan])
    for row, (_, template, outcome, days_ago) in zip(recorded, plan, strict=True):
        assert row is not None
        await store.predictions.set_outcome(
            row.id, template=template, workflow_id=None, outcome=outcome
        )
        async with store.sessions.begin() as session:
            await session.execute(
                update(Prediction)
                .where(Prediction.id == row.id)
                .values(created_at=row.created_at - timedelta(days=days_ago))
            )

    found = await store.predictions.last_started_many(["A", "B", "C", "A"], ["high", "medium"])

    expected = {}
    for family_id in ("A", "B", "C"):
        for template in ("high", "medium"):
            last = await store.predictions.last_started(family_id, template)
            if last is not None:
                expected[(family_id, template)] = last
    assert found == expected
    assert set(found) == {("A", "high"), ("A", "medium"), ("B", "medium")}
    assert await store.predictions.last_started_many([], ["high"]) == {}
