"""The start pipeline's pure rules: cooldown, which templates an upgrade replaces, the
visibility query of a family's running sequences and its limit, and what one start reports.
No server: these are the decisions, checked at their edges."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any, cast, get_args

import pytest
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from contracts import SequenceParams
from followthrough.triggers.errors import TooManyActive, TriggerError
from followthrough.triggers.limits import active_query, check_active_limit
from followthrough.triggers.outcome import STARTED, Status, TriggerOutcome, refused
from followthrough.triggers.policy import cooldown_message, in_cooldown, lighter_than

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


def params(name: str = "t", **extra: Any) -> SequenceParams:
    return SequenceParams.model_validate(
        {"name": name, "workflow": "HighRiskIntervention", **extra}
    )


def prediction(name: str, priority: int) -> SequenceParams:
    rule = {"probability_gt": 0.5, "confidence_gt": 50}
    return params(name, priority=priority, trigger={"type": "prediction", "when": rule})


# ----------------------------------------------------------------------------- cooldown


@pytest.mark.parametrize(
    ("days", "ago", "holds"),
    [
        (0, timedelta(hours=1), False),  # no cooldown at all
        (3, timedelta(days=3) - timedelta(seconds=1), True),  # a second before it ends
        (3, timedelta(days=3), False),  # exactly when it ends: free again
        (3, timedelta(days=4), False),
        (1, timedelta(0), True),
        # No cooldown even for a start stamped ahead of this clock (another host's clock).
        (0, -timedelta(hours=1), False),
    ],
)
def test_cooldown_holds_until_its_last_second(days: int, ago: timedelta, holds: bool) -> None:
    template = params(trigger={"type": "manual", "cooldown_days": days})
    assert in_cooldown(template, NOW - ago, NOW) is holds


def test_no_earlier_start_means_no_cooldown() -> None:
    assert in_cooldown(params(trigger={"cooldown_days": 30}), None, NOW) is False


def test_cooldown_without_now_reads_the_clock() -> None:
    template = params(trigger={"cooldown_days": 1})
    assert in_cooldown(template, datetime.now(UTC) - timedelta(hours=1)) is True
    assert in_cooldown(template, datetime.now(UTC) - timedelta(days=2)) is False


def test_cooldown_message_names_the_start_and_the_days() -> None:
    template = params("reminder", trigger={"cooldown_days": 30})
    assert cooldown_message(template, "F1", NOW) == (
        "no sequence: reminder started for family F1 on 2026-11-27, within its 30-day cooldown"
    )


# ----------------------------------------------------------------------------- upgrades


def test_an_upgrade_replaces_only_lighter_prediction_templates() -> None:
    heavy = prediction("heavy", 8)
    latest = [
        prediction("light", 5),
        prediction("equal", 8),
        prediction("heavier", 9),
        params("manual_light", priority=1),
        heavy,
    ]
    assert lighter_than(heavy, latest) == ("light",)


def test_a_template_never_replaces_itself() -> None:
    heavy = prediction("heavy", 8)
    assert lighter_than(heavy, [heavy.model_copy(update={"priority": 1})]) == ()


# ----------------------------------------------------------------------------- limits


def test_the_active_query_excludes_the_named_sequences() -> None:
    assert active_query("F1") == "FamilyId = 'F1' AND ExecutionStatus = 'Running'"
    assert active_query("F1", ["a", "b"]) == (
        "FamilyId = 'F1' AND ExecutionStatus = 'Running'"
        " AND WorkflowId != 'a' AND WorkflowId != 'b'"
    )


@pytest.mark.parametrize(("family", "excluding"), [("F'1", []), ("F\\1", []), ("F1", ["x'"])])
def test_a_value_that_would_break_the_query_is_refused(family: str, excluding: list[str]) -> None:
    with pytest.raises(TriggerError) as caught:
        active_query(family, excluding)
    assert str(caught.value) == f"family: {family!r} cannot be used in a visibility query"


class Counting:
    """A client whose visibility counts `count` running sequences (or fails with `error`)."""

    def __init__(self, count: int = 0, error: RPCError | None = None) -> None:
        self.count, self.error = count, error
        self.queries: list[str] = []

    async def count_workflows(self, query: str) -> Any:
        self.queries.append(query)
        if self.error is not None:
            raise self.error
        return SimpleNamespace(count=self.count)


@pytest.mark.parametrize(
    ("running", "limit", "refused_"), [(1, 2, False), (2, 2, True), (3, 2, True)]
)
async def test_the_family_limit_refuses_at_the_limit(running: int, limit: int, refused_: bool):
    client = Counting(running)
    template = params("t", max_active_per_family=limit)
    if not refused_:
        await check_active_limit(cast(Client, client), template, "F1", "wf", replacing=["old"])
    else:
        with pytest.raises(TooManyActive) as caught:
            await check_active_limit(cast(Client, client), template, "F1", "wf")
        plural = "s" if running != 1 else ""
        assert str(caught.value) == (
            f"max_active_per_family: family F1 already has {running} active "
            f"sequence{plural}; t allows at most {limit}"
        )
    assert client.queries[0].startswith("FamilyId = 'F1'")
    assert "WorkflowId != 'wf'" in client.queries[0]


async def test_one_active_sequence_is_named_in_the_singular():
    with pytest.raises(TooManyActive, match="already has 1 active sequence; t allows at most 1"):
        await check_active_limit(
            cast(Client, Counting(1)), params("t", max_active_per_family=1), "F1", "wf"
        )


async def test_no_limit_counts_nothing_and_no_visibility_lets_it_pass():
    client = Counting(99)
    await check_active_limit(cast(Client, client), params("t"), "F1", "wf")
    assert client.queries == []
    unimplemented = RPCError("no visibility", RPCStatusCode.UNIMPLEMENTED, b"")
    limited = params("t", max_active_per_family=1)
    await check_active_limit(cast(Client, Counting(error=unimplemented)), limited, "F1", "wf")
    other = RPCError("down", RPCStatusCode.UNAVAILABLE, b"")
    with pytest.raises(RPCError):
        await check_active_limit(cast(Client, Counting(error=other)), limited, "F1", "wf")


# ----------------------------------------------------------------------------- outcome


@pytest.mark.parametrize("status", get_args(Status))
def test_only_a_start_or_an_upgrade_counts_as_started(status: Any) -> None:
    outcome = TriggerOutcome(status, "wf", "m")
    assert outcome.started is (status in ("started", "upgraded"))
    assert outcome.raise_refusal() is outcome
    assert STARTED == ("started", "upgraded")


def test_a_refusal_carries_its_error_and_raises_it() -> None:
    error = TooManyActive("max_active_per_family: no")
    outcome = refused(error, "t")
    assert (outcome.status, outcome.workflow_id, outcome.message) == ("refused", None, str(error))
    assert outcome.template == "t" and outcome.error is error and not outcome.started
    with pytest.raises(TooManyActive):
        outcome.raise_refusal()
    assert refused(error, None, "suspended").status == "suspended"
