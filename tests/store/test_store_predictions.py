"""Predictions one at a time and by the batch: the batch calls give the same rows."""

from __future__ import annotations

import pytest
from sqlalchemy import select

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
