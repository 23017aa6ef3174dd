"""`TriggerCache` and `predict_many`: bulk predictions read shared things once per window."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import select

from starter.failures import TemplateSuspended
from starter.trigger_cache import PredictionInput, TriggerCache, predict_many
from starter.triggers import TriggerError, TriggerOutcome
from store import Prediction, Store


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


async def test_template_lists_are_read_once_per_window(dev_client, store: Store, monkeypatch):
    reads = 0
    original = store.templates.list_active

    async def counted() -> list:
        nonlocal reads
        reads += 1
        return await original()

    monkeypatch.setattr(store.templates, "list_active", counted)
    clock = Clock()
    cache = TriggerCache(dev_client, store, ttl=5, clock=clock)
    first, *_ = await asyncio.gather(*(cache.list_active() for _ in range(20)))
    assert reads == 1  # concurrent callers share the one read
    clock.now = 4.9
    assert await cache.list_active() == first and reads == 1
    clock.now = 5.0
    await cache.list_active()
    assert reads == 2


async def test_a_guard_pass_is_kept_a_refusal_is_not(dev_client, store: Store):
    clock = Clock()
    cache = TriggerCache(dev_client, store, ttl=5, clock=clock)
    await cache.guard_start("high_risk_intervention")
    await store.suspensions.suspend("high_risk_intervention", "6 of its sequences failed")
    await cache.guard_start("high_risk_intervention")  # the pass holds for its window
    clock.now = 5.0
    for _ in range(2):  # refused, and asked again each time until resumed
        with pytest.raises(TemplateSuspended):
            await cache.guard_start("high_risk_intervention")
    await store.suspensions.resume("high_risk_intervention", "ops")
    await cache.guard_start("high_risk_intervention")


async def test_predict_many_answers_in_order_like_one_by_one(dev_client, store: Store, settings):
    batch = [
        PredictionInput("F1", 0.9, 90),
        PredictionInput("F2", 0.1, 10),  # below every threshold
        PredictionInput("F1", 0.9, 95),  # same family: runs after the first, finds it running
        PredictionInput("nobody", 0.9, 90),
    ]
    results = await predict_many(dev_client, store, batch, task_queue=settings.task_queue)
    assert [type(r) for r in results] == [
        TriggerOutcome,
        TriggerOutcome,
        TriggerOutcome,
        TriggerError,
    ]
    started, below, again, unknown = results
    assert isinstance(started, TriggerOutcome) and started.started
    assert isinstance(below, TriggerOutcome) and not below.started
    assert isinstance(again, TriggerOutcome) and not again.started
    assert again.message == f"{started.workflow_id} is already running"
    assert str(unknown) == "family: no family with id 'nobody'"
    async with store.sessions() as session:
        rows = await session.scalars(
            select(Prediction).where(Prediction.family_id == "F1").order_by(Prediction.id)
        )
        assert [row.outcome for row in rows] == ["started", "already_running"]
    assert started.handle is not None
    await started.handle.terminate("test over")  # no worker polls this queue


async def test_no_cooldown_means_no_describe_before_the_start(
    dev_client, store: Store, settings, monkeypatch
):
    # The lowest-priority prediction template, with no cooldown and no limits: the start's
    # own conflict policy answers "already running", so no `describe` is made before it.
    medium = await store.templates.active("medium_risk_intervention")
    assert medium is not None
    quiet = medium.model_copy(
        update={
            "name": "low_risk_check",
            "priority": 1,
            "max_active": None,
            "trigger": medium.trigger.model_copy(
                update={
                    "cooldown_days": 0,
                    "when": medium.trigger.when.model_copy(  # type: ignore[union-attr]
                        update={"probability_gt": 0.2, "confidence_gt": 20.0}
                    ),
                }
            ),
        }
    )
    await store.templates.save(quiet)

    async def no_describe(*_: object) -> bool:
        raise AssertionError("describe made before a start that answers for itself")

    monkeypatch.setattr("starter.policy.is_running", no_describe)
    batch = [PredictionInput("F1", 0.3, 30), PredictionInput("F1", 0.3, 40)]
    started, again = await predict_many(dev_client, store, batch, task_queue=settings.task_queue)
    assert isinstance(started, TriggerOutcome) and started.started
    assert started.template == "low_risk_check"
    assert isinstance(again, TriggerOutcome) and not again.started
    assert again.message == f"{started.workflow_id} is already running"
    async with store.sessions() as session:
        rows = await session.scalars(
            select(Prediction).where(Prediction.family_id == "F1").order_by(Prediction.id)
        )
        assert [row.outcome for row in rows] == ["started", "already_running"]
    assert started.handle is not None
    await started.handle.terminate("test over")  # no worker polls this queue
