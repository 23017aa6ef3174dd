"""`TriggerCache` and `predict_many`: bulk predictions read shared things once per window."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from datetime import UTC, datetime

import pytest
from sqlalchemy import select
from temporalio.service import RPCError

from followthrough.triggers.batch import PredictionInput, TriggerCache, predict_many
from followthrough.triggers.limits import TooManyActive, active_query
from followthrough.triggers.start import TriggerError, TriggerOutcome, predict, start_sequence
from followthrough.triggers.suspension import TemplateSuspended
from store import Prediction, Store
from store.starts import NewStart
from workflows.search_attributes import TEMPLATE_VERSION


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

    monkeypatch.setattr("followthrough.triggers.policy.is_running", no_describe)
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


# --- the batched store work of `predict_many`: the same answers and rows as one by one ---


def _mixed_batch(prefix: str) -> list[PredictionInput]:
    p = prefix
    return [
        PredictionInput(f"{p}1", 0.9, 90, window_days=30, model_version="m1"),  # high: started
        PredictionInput(f"{p}2", 0.1, 10),  # below every threshold
        PredictionInput(f"{p}1", 0.9, 95),  # the same family again: already running
        PredictionInput(f"{p}-nobody", 0.9, 90),  # unknown family
        PredictionInput(f"{p}2", 1.5, 90),  # not a probability
        PredictionInput(f"{p}3", 0.65, 75),  # medium: started
        PredictionInput(f"{p}3", 0.9, 90),  # high for the same family: upgraded
        PredictionInput(f"{p}4", 0.9, 90),  # started before the batch: already running
        PredictionInput(f"{p}5", 0.9, 90),  # started by an earlier prediction: cooldown
        PredictionInput(f"{p}6", 0.99, 99),  # capped at one sequence, has one: refused
        PredictionInput(f"{p}2", 0.7, 75, window_days=-1),  # negative window
        PredictionInput(f"{p}2", 0.7, 75),  # medium: started
    ]


async def _prepare_families(dev_client, store: Store, queue: str, prefix: str) -> list[str]:
    """Families of `_mixed_batch(prefix)` and what runs or was started for them before it."""
    for n in range(1, 7):
        await store.families.upsert(f"{prefix}{n}", f"Family {n}", email=f"f{n}@example.org")
    high = await store.templates.active("high_risk_intervention")
    demo = await store.templates.active("demo_quick_intervention")
    assert high is not None and demo is not None
    running = [
        await start_sequence(dev_client, high, f"{prefix}4", task_queue=queue),
        await start_sequence(dev_client, demo, f"{prefix}6", task_queue=queue),
    ]
    earlier = await store.predictions.add(f"{prefix}5", 0.9, 90)
    await store.predictions.set_outcome(
        earlier.id,
        template="high_risk_intervention",
        workflow_id=f"intervention-high_risk_intervention-{prefix}5",
        outcome="started",
    )
    await store.starts.add(
        NewStart(
            family_id=f"{prefix}5",
            template="high_risk_intervention",
            version=1,
            workflow_id=f"intervention-high_risk_intervention-{prefix}5",
            triggered_by="prediction",
            started_at=datetime.now(UTC),
        )
    )
    for _ in range(100):  # visibility trails the start by a moment
        if (await dev_client.count_workflows(active_query(f"{prefix}6"))).count == 1:
            break
        await asyncio.sleep(0.1)
    return [outcome.workflow_id for outcome in running if outcome.workflow_id]


def _answer(result: TriggerOutcome | TriggerError, prefix: str) -> tuple[object, ...]:
    if isinstance(result, TriggerError):
        return (type(result).__name__, str(result).replace(prefix, "P"))
    return (
        result.status,
        result.message.replace(prefix, "P"),
        result.template,
        result.workflow_id and result.workflow_id.replace(prefix, "P"),
    )


async def _rows(store: Store, prefix: str) -> list[tuple[object, ...]]:
    async with store.sessions() as session:
        found = await session.scalars(
            select(Prediction)
            .where(Prediction.family_id.startswith(prefix))
            .order_by(Prediction.id)
        )
        return [
            (
                row.family_id.replace(prefix, "P"),
                row.probability,
                row.confidence,
                row.window_days,
                row.model_version,
                row.template,
                row.workflow_id and row.workflow_id.replace(prefix, "P"),
                row.outcome,
            )
            for row in found
        ]


async def _stop(dev_client, workflow_ids: set[str]) -> None:
    for workflow_id in workflow_ids:  # no worker polls these queues
        with contextlib.suppress(RPCError):  # not running: never started, or already ended
            await dev_client.get_workflow_handle(workflow_id).terminate("test over")


@pytest.mark.parametrize("batch_size", [1, 3, 100])
async def test_predict_many_answers_and_records_like_one_by_one(
    dev_client, store: Store, settings, batch_size: int
):
    high = await store.templates.active("high_risk_intervention")
    assert high is not None
    capped = high.model_copy(
        update={
            "name": "capped_check",
            "priority": 9,
            "max_active": None,
            "max_active_per_family": 1,
            "trigger": high.trigger.model_copy(
                update={
                    "when": high.trigger.when.model_copy(  # type: ignore[union-attr]
                        update={"probability_gt": 0.95, "confidence_gt": 95.0}
                    )
                }
            ),
        }
    )
    await store.templates.save(capped)
    queue = settings.task_queue
    tag = uuid.uuid4().hex[:6].upper()
    one, many = f"O{tag}", f"M{tag}"
    started = await _prepare_families(dev_client, store, queue, one)
    started += await _prepare_families(dev_client, store, queue, many)
    try:
        expected: list[TriggerOutcome | TriggerError] = []
        for row in _mixed_batch(one):
            try:
                expected.append(
                    await predict(
                        dev_client,
                        store,
                        row.family_id,
                        row.probability,
                        row.confidence,
                        task_queue=queue,
                        window_days=row.window_days,
                        model_version=row.model_version,
                        raise_refusals=False,
                    )
                )
            except TriggerError as err:
                expected.append(err)
        results = await predict_many(
            dev_client, store, _mixed_batch(many), task_queue=queue, batch_size=batch_size
        )

        answers = [_answer(result, many) for result in results]
        assert answers == [_answer(result, one) for result in expected]
        assert [type(result) for result in results] == [type(result) for result in expected]
        assert await _rows(store, many) == await _rows(store, one)
        # What the batch covers, so the comparison above compares something.
        assert [row[-1] for row in await _rows(store, many)] == [
            "started",  # the earlier prediction of family 5
            "started",
            "below_threshold",
            "already_running",
            "started",
            "upgraded",
            "already_running",
            "cooldown",
            "refused",
            "started",
        ]
        assert [a[0] for a in answers] == [
            "started",
            "below_threshold",
            "already_running",
            "TriggerError",
            "TriggerError",
            "started",
            "upgraded",
            "already_running",
            "cooldown",
            "refused",
            "TriggerError",
            "started",
        ]
        refused = results[9]
        assert isinstance(refused, TriggerOutcome) and isinstance(refused.error, TooManyActive)
    finally:
        await _stop(
            dev_client,
            {
                *started,
                *(
                    r.workflow_id
                    for r in [*expected, *results]
                    if isinstance(r, TriggerOutcome) and r.workflow_id
                ),
                *(f"intervention-medium_risk_intervention-{p}3" for p in (one, many)),
            },
        )


@pytest.mark.parametrize("batch_size", [1, 100])
async def test_a_start_in_the_same_run_counts_for_the_cooldown_before_it_is_written(
    dev_client, store: Store, settings, monkeypatch, batch_size: int
):
    # "Not running" from describe (as when the first sequence has already ended): the second
    # prediction then finds the cooldown of the first one's start, which one by one is read
    # back from its row; in a batch that row's outcome may not be written yet.
    async def not_running(*_: object) -> bool:
        return False

    monkeypatch.setattr("followthrough.triggers.policy.is_running", not_running)
    batch = [PredictionInput("F1", 0.9, 90), PredictionInput("F1", 0.9, 91)]
    started, again = await predict_many(
        dev_client, store, batch, task_queue=settings.task_queue, batch_size=batch_size
    )
    try:
        assert isinstance(started, TriggerOutcome) and started.started
        assert isinstance(again, TriggerOutcome) and not again.started
        assert again.message.startswith(
            "no sequence: high_risk_intervention started for family F1 on "
        )
        assert again.message.endswith("within its 30-day cooldown")
        async with store.sessions() as session:
            rows = await session.scalars(select(Prediction).order_by(Prediction.id))
            assert [row.outcome for row in rows] == ["started", "cooldown"]
    finally:
        assert isinstance(started, TriggerOutcome) and started.handle is not None
        await started.handle.terminate("test over")


async def test_predict_many_does_its_store_work_per_batch(
    dev_client, store: Store, settings, monkeypatch
):
    calls: dict[str, int] = {}
    for repository, name in [
        (store.families, "get"),
        (store.predictions, "add"),
        (store.predictions, "set_outcome"),
        (store.predictions, "add_many"),
        (store.predictions, "set_outcomes"),
        (store.rollouts, "get"),
        (store.rollouts, "all"),
    ]:
        original = getattr(repository, name)

        def counted(*args: object, _original=original, _name=name, **kwargs: object):
            calls[_name] = calls.get(_name, 0) + 1
            return _original(*args, **kwargs)

        monkeypatch.setattr(repository, name, counted)
    ids = [f"W{n}" for n in range(5)]
    for family_id in ids:
        await store.families.upsert(family_id, family_id, email="w@example.org")
    results = await predict_many(
        dev_client,
        store,
        [PredictionInput(family_id, 0.1, 10) for family_id in ids],  # all below threshold
        task_queue=settings.task_queue,
        batch_size=2,
    )
    assert all(isinstance(r, TriggerOutcome) and not r.started for r in results)
    # 5 predictions in 3 batches: per batch one insert, one read of the rollouts and one
    # write of the outcomes; nothing per prediction.
    assert calls == {"add_many": 3, "all": 3, "set_outcomes": 3}
    async with store.sessions() as session:
        rows = await session.scalars(select(Prediction).order_by(Prediction.id))
        assert [(row.family_id, row.outcome) for row in rows] == [
            (family_id, "below_threshold") for family_id in ids
        ]


async def test_an_unexpected_failure_still_writes_the_decided_outcomes(
    dev_client, store: Store, settings, monkeypatch
):
    from followthrough.triggers import start as triggers

    original = triggers.start_intervention

    async def failing(client, request, **kwargs):
        if request.family_id == "F2":
            raise RuntimeError("server gone")
        return await original(client, request, **kwargs)

    monkeypatch.setattr(triggers, "start_intervention", failing)
    batch = [
        PredictionInput("F1", 0.1, 10),
        PredictionInput("F2", 0.9, 90),
        PredictionInput("F2", 0.1, 10),  # its family stopped at the error: never decided
        PredictionInput("F3", 0.1, 10),
        PredictionInput("F1", 0.1, 20),  # the next batch
    ]
    with pytest.raises(RuntimeError, match="server gone"):
        await predict_many(dev_client, store, batch, task_queue=settings.task_queue, batch_size=4)
    async with store.sessions() as session:
        rows = await session.scalars(select(Prediction).order_by(Prediction.id))
        assert [(row.family_id, row.outcome) for row in rows] == [
            ("F1", "below_threshold"),
            ("F2", None),  # like one by one: no outcome for a prediction that raised
            ("F2", None),
            ("F3", "below_threshold"),  # written although its batch never finished
            ("F1", "below_threshold"),
        ]


async def test_predict_many_follows_the_rollout_read_for_its_batch(
    dev_client, store: Store, settings
):
    v1 = await store.templates.active("high_risk_intervention")
    assert v1 is not None and v1.version == 1
    await store.templates.save(v1.model_copy(update={"description": "v2"}))
    await store.rollouts.set("high_risk_intervention", 2, 0)  # v2 saved, no family gets it yet
    results = await predict_many(
        dev_client,
        store,
        [PredictionInput(family_id, 0.9, 90) for family_id in ("F1", "F2", "F3")],
        task_queue=settings.task_queue,
        batch_size=2,
    )
    for result in results:
        assert isinstance(result, TriggerOutcome) and result.handle is not None
        description = await result.handle.describe()
        assert description.typed_search_attributes.get(TEMPLATE_VERSION) == 1
        await result.handle.terminate("test over")
