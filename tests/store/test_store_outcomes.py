"""Outcomes and decisions in the store, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from store import Prediction, Store
from store.outcomes import NewOutcome, PastPrediction
from store.starts import NewStart

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


async def test_the_same_outcome_twice_is_kept_once(store: Store, family_id: str) -> None:
    first = [
        NewOutcome(family_id, "withdrew", NOW - timedelta(days=3), source="import"),
        NewOutcome(family_id, "retained", NOW - timedelta(days=40), source="import"),
    ]
    assert await store.outcomes.add_many(first) == 2
    again = [*first, NewOutcome(family_id, "withdrew", NOW - timedelta(days=1))]
    assert await store.outcomes.add_many(again) == 1  # only the new time is new
    assert await store.outcomes.of_families([family_id, "nobody"]) == {
        family_id: [
            ("retained", NOW - timedelta(days=40)),
            ("withdrew", NOW - timedelta(days=3)),
            ("withdrew", NOW - timedelta(days=1)),
        ]
    }
    assert await store.outcomes.add_many([]) == 0


async def test_decisions_carry_their_prediction_and_holdout(store: Store, family_id: str) -> None:
    prediction = await store.predictions.add(family_id, 0.91, 88, window_days=21)
    await store.starts.add_many(
        [
            NewStart(family_id, "outreach", 2, "wf", "prediction", NOW, True, prediction.id),
            NewStart(family_id, "reminder", 1, "wf2", "event", NOW + timedelta(seconds=1)),
        ]
    )
    held, event = await store.outcomes.decisions(family_id=family_id)
    assert (held.template, held.version, held.held_out) == ("outreach", 2, True)
    assert (held.probability, held.window_days, held.prediction_id) == (0.91, 21, prediction.id)
    assert (event.held_out, event.prediction_id, event.probability) == (False, None, None)
    assert await store.outcomes.decisions(template="reminder") == [event]
    assert await store.outcomes.decisions(since=NOW + timedelta(seconds=1)) == [event]
    assert await store.outcomes.held_out_counts() == {"outreach v2": 1}
    assert await store.outcomes.decisions(families=["nobody", family_id]) == [held, event]


async def test_a_history_is_written_once_with_its_decisions(store: Store) -> None:
    past = [
        PastPrediction("D1", 0.9, 90, "m1", 30, NOW, "started", "outreach", 1),
        PastPrediction("D2", 0.95, 92, "m1", 30, NOW, "held_out", "outreach", 2),
        PastPrediction("D3", 0.3, 60, "m2", None, NOW, "below_threshold"),
    ]
    assert await store.outcomes.add_history(["D1", "D2", "D3"], past) == 3
    assert await store.outcomes.add_history(["D1", "D2", "D3"], past) == 0
    decisions = await store.outcomes.decisions(template="outreach")
    assert [(d.family_id, d.version, d.held_out) for d in decisions] == [
        ("D1", 1, False),
        ("D2", 2, True),
    ]
    untreated = await store.outcomes.untreated_predictions()
    assert [(p.family_id, p.model_version) for p in untreated] == [("D2", "m1"), ("D3", "m2")]
    assert [p.family_id for p in await store.outcomes.untreated_predictions("m2")] == ["D3"]
    async with store.sessions() as session:
        rows = await session.execute(select(Prediction.family_id, Prediction.workflow_id))
        assert sorted(rows) == [
            ("D1", "intervention-outreach-D1"),
            ("D2", None),
            ("D3", None),
        ]
