"""Holdout groups: a stable assignment, independent of rollout buckets, and in the pipeline
a held-out family gets no sequence while its decision is kept like a start."""

from __future__ import annotations

import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from pydantic import ValidationError
from scipy.stats import chi2_contingency
from sqlalchemy import select
from temporalio.client import Client
from temporalio.service import RPCError

from contracts import SequenceParams, workflow_id_for
from followthrough.triggers.batch import PredictionInput, predict_many
from followthrough.triggers.governance import bucket
from followthrough.triggers.holdout import held_out, holdout_place
from followthrough.triggers.start import predict
from store import Prediction, Store

ROOT = Path(__file__).resolve().parents[3]
FAMILIES = [f"F{n:05d}" for n in range(10_000)]


def _params(**changes: object) -> SequenceParams:
    base: dict[str, object] = {
        "name": "measured",
        "workflow": "HighRiskIntervention",
        "holdout_percent": 20,
        "holdout_salt": "spring",
        "success_outcome": "retained",
    }
    return SequenceParams.model_validate({**base, **changes})


def test_about_the_percentage_is_held_out_and_the_salt_reshuffles_them() -> None:
    params = _params()
    chosen = {f for f in FAMILIES if held_out(params, f)}
    # 20% of 10,000: a binomial sd of 40, so within 4 sd.
    assert 1840 <= len(chosen) <= 2160
    other = {f for f in FAMILIES if held_out(_params(holdout_salt="autumn"), f)}
    assert 1840 <= len(other) <= 2160
    assert len(chosen & other) < 0.3 * len(chosen)  # about 20% overlap by chance, not 100%
    assert not any(held_out(_params(holdout_percent=0, success_outcome=None), f) for f in FAMILIES)


def test_the_assignment_is_the_same_in_another_process() -> None:
    here = [holdout_place("measured", f, "spring") for f in FAMILIES[:500]]
    code = (
        "from followthrough.triggers.holdout import holdout_place\n"
        "print(','.join(str(holdout_place('measured', f'F{n:05d}', 'spring')) "
        "for n in range(500)))"
    )
    # A fresh interpreter with another hash seed: nothing rests on Python's str hash.
    output = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONHASHSEED": "12345", "PATH": ""},
    ).stdout
    assert [int(v) for v in output.strip().split(",")] == here
    assert here == [holdout_place("measured", f, "spring") for f in FAMILIES[:500]]


def test_the_places_do_not_move_between_releases() -> None:
    # A new hash would reshuffle who is held out under a running experiment: pinned here.
    places = [holdout_place("measured", f, "spring") for f in ("F00001", "F00002", "F00003")]
    assert places == [9351, 2143, 1049]


@pytest.mark.parametrize("percent", [1, 20, 50])
def test_a_family_is_held_out_exactly_below_its_percentage_of_places(percent: int) -> None:
    params = _params(holdout_percent=percent)
    line = percent * 100  # places are read to 1/10,000
    at_line = next(f for f in (f"G{n}" for n in range(200_000)) if _place(f) == line)
    just_below = next(f for f in (f"G{n}" for n in range(200_000)) if _place(f) == line - 1)
    assert not held_out(params, at_line)
    assert held_out(params, just_below)
    for family in FAMILIES[:2000]:
        assert held_out(params, family) is (_place(family) < line)
    # The template's name is part of the hash: another template holds out other families.
    renamed = _params(name="other", holdout_percent=percent)
    assert any(held_out(params, f) != held_out(renamed, f) for f in FAMILIES[:2000])


def _place(family: str) -> int:
    return holdout_place("measured", family, "spring")


def test_the_held_out_families_are_spread_evenly_over_the_rollout_buckets() -> None:
    params = _params(holdout_percent=50)
    table = [[0, 0], [0, 0]]  # [canary side, stable side] x [held out, treated]
    for family in FAMILIES:
        table[bucket(family, params.name) < 30][held_out(params, family)] += 1
    # Independence: a chi-square test does not see the canary in the holdout.
    assert chi2_contingency(table).pvalue > 0.01
    for side in table:
        assert 0.46 < side[1] / sum(side) < 0.54


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"urgent": True}, "an urgent template reaches every family"),
        ({"safety": True}, "a safety template"),
        ({"success_outcome": None}, "success_outcome: a holdout is measured by an outcome"),
        ({"holdout_percent": 51}, "less than or equal to 50"),
    ],
)
def test_validation_refuses_a_holdout_and_says_why(changes: dict, reason: str) -> None:
    with pytest.raises(ValidationError, match=reason):
        _params(**changes)


async def _template(store: Store, **changes: object) -> SequenceParams:
    """A prediction template heavier than every shipped one, with a 50% holdout."""
    high = await store.templates.active("high_risk_intervention")
    assert high is not None and high.trigger.when is not None
    probe = high.model_copy(
        update={
            "name": f"measured_{uuid.uuid4().hex[:8]}",
            "priority": 10,
            "max_active": None,
            "holdout_percent": 50,
            "success_outcome": "retained",
            "trigger": high.trigger.model_copy(
                update={"when": high.trigger.when.model_copy(update={"probability_gt": 0.95})}
            ),
            **changes,
        }
    )
    saved, _ = await store.templates.save(probe)
    return saved


async def _families(store: Store, params: SequenceParams) -> tuple[str, str]:
    """A family the template holds out, and one it reaches."""
    ids = [f"H{uuid.uuid4().hex[:8]}" for _ in range(40)]
    out = next(f for f in ids if held_out(params, f))
    treated = next(f for f in ids if not held_out(params, f))
    for family in (out, treated):
        await store.families.upsert(family, "Held", email="h@example.org", timezone="UTC")
    return out, treated


async def test_a_held_out_family_gets_no_sequence_and_its_decision_counts_for_cooldown(
    dev_client: Client, store: Store, settings
):
    queue = settings.task_queue
    v1 = await _template(store)
    # A rollout gives v2 every new start: the decision records the version chosen first.
    v2, _ = await store.templates.save(v1.model_copy(update={"description": "v2"}))
    await store.rollouts.set(v1.name, v2.version, 100)
    out, treated = await _families(store, v2)

    held = await predict(dev_client, store, out, 0.99, 99, task_queue=queue, window_days=45)
    assert held.status == "held_out" and held.workflow_id is None
    assert f"50% holdout of {v1.name} (would have got v{v2.version})" in held.message
    with pytest.raises(RPCError):
        await dev_client.get_workflow_handle(workflow_id_for(v1.name, out)).describe()
    [decision] = await store.outcomes.decisions(family_id=out)
    assert (decision.template, decision.version, decision.held_out) == (v1.name, 2, True)
    assert decision.window_days == 45 and decision.probability == 0.99
    again = await predict(dev_client, store, out, 0.99, 99, task_queue=queue)
    assert again.status == "cooldown"

    started = await predict(dev_client, store, treated, 0.99, 99, task_queue=queue)
    try:
        assert started.status == "started"
        [reached] = await store.outcomes.decisions(family_id=treated)
        assert (reached.version, reached.held_out) == (2, False)
        assert reached.prediction_id is not None
    finally:
        if started.handle is not None:
            await started.handle.terminate("test over")
    async with store.sessions() as session:
        rows = await session.execute(
            select(Prediction.outcome, Prediction.template).where(Prediction.family_id == out)
        )
        assert list(rows) == [("held_out", v1.name), ("cooldown", v1.name)]


async def test_a_batch_holds_out_the_same_families_and_records_them(
    dev_client: Client, store: Store, settings
):
    params = await _template(store)
    out, treated = await _families(store, params)
    results = await predict_many(
        dev_client,
        store,
        [PredictionInput(out, 0.99, 99), PredictionInput(out, 0.99, 99)],
        task_queue=settings.task_queue,
    )
    assert [getattr(r, "status", r) for r in results] == ["held_out", "cooldown"]
    [decision] = await store.outcomes.decisions(family_id=out)
    assert decision.held_out and decision.version == params.version
    assert await store.outcomes.decisions(family_id=treated) == []


async def test_a_new_percentage_or_salt_is_a_new_version(store: Store) -> None:
    first, _ = await store.templates.save(_params())
    same, made = await store.templates.save(_params())
    assert (same.version, made) == (first.version, False)
    wider, made = await store.templates.save(_params(holdout_percent=30))
    assert made and wider.version == first.version + 1
    salted, made = await store.templates.save(_params(holdout_percent=30, holdout_salt="autumn"))
    assert made and salted.version == wider.version + 1
    # The versions keep their own settings: decisions made under one stand.
    kept = await store.templates.get("measured", first.version)
    assert kept is not None and (kept.holdout_percent, kept.holdout_salt) == (20, "spring")
