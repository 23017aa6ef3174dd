"""Absurd numbers and oversized inputs get one clear answer naming the field, never an
OverflowError and never a state that grows without end."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from contracts import (
    CancelRequest,
    Channel,
    Decision,
    EscalationAnswer,
    Event,
    InterventionStatus,
    Response,
    State,
    StepRecord,
    StepRef,
    parse_duration,
)
from contracts.activities import idempotency_key
from contracts.bounds import (
    EVENT_DATA_MAX,
    KEPT,
    NOTE_MAX,
    REPLY_MAX,
    TEXT_KEPT,
    check_event_data,
    clip,
    keep_last,
    non_finite,
)
from contracts.policies import MAX_DURATION, RetrySpec
from tests.contracts.test_steps import problem

# ----------------------------------------------------------------------------- durations


@pytest.mark.parametrize(
    "written",
    ["99999999999999w", "3651d", 1e300, 10**30, float("inf"), float("nan"), "1e309s"],
)
def test_an_absurd_duration_is_a_validation_error(written: Any) -> None:
    with pytest.raises(ValueError) as caught:
        parse_duration(written)
    assert "duration" in str(caught.value) or "too long" in str(caught.value)


def test_ten_years_is_the_longest_duration() -> None:
    assert parse_duration("3650d") == MAX_DURATION
    assert parse_duration("520w") <= MAX_DURATION


@given(
    amount=st.one_of(
        st.integers(min_value=0, max_value=10**40),
        st.floats(allow_nan=True, allow_infinity=True),
    ),
    unit=st.sampled_from(["s", "m", "h", "d", "w", ""]),
)
def test_any_written_duration_is_a_timedelta_or_a_value_error(amount: Any, unit: str) -> None:
    written = f"{amount}{unit}" if unit else amount
    try:
        read = parse_duration(written)
    except ValueError:
        return  # one clear refusal; an OverflowError would fail the test
    assert timedelta(0) <= read <= MAX_DURATION


def test_a_template_with_an_absurd_delay_names_the_field() -> None:
    with pytest.raises(ValidationError) as caught:
        RetrySpec.model_validate({"max_interval": "99999999999999w"})
    assert "max_interval" in str(caught.value) and "too long" in str(caught.value)


@pytest.mark.parametrize(
    ("step", "expected"),
    [
        ({"delay": "99999999999999w"}, "step 'first': delay: too long"),
        ({"delay_days": 10**20}, "step 'first': delay_days: 100000000000000000000 days is more"),
        ({"delay_days": float("nan")}, "step 'first': delay_days: not a number of days: nan"),
        ({"delay_days": float("inf")}, "step 'first': delay_days: inf days is more"),
    ],
)
def test_a_step_with_an_absurd_delay_names_the_step(
    tmp_path: Path, step: dict[str, Any], expected: str
) -> None:
    email = {"id": "first", "type": "email", "template": "hello", **step}
    assert expected in problem(tmp_path, [email])


def test_a_loop_through_a_wait_of_no_time_is_refused(tmp_path: Path) -> None:
    steps: list[dict[str, Any]] = [
        {"id": "nudge", "type": "sms", "message": "hi"},
        {"id": "pause", "type": "wait", "duration": "0s"},
        {"id": "again", "type": "email", "template": "hello", "next": "nudge"},
    ]
    assert "step 'pause': duration: a wait of 0s waits for nothing" in problem(tmp_path, steps)


def test_a_loop_whose_only_pause_is_under_a_second_is_refused(tmp_path: Path) -> None:
    steps: list[dict[str, Any]] = [
        {"id": "nudge", "type": "sms", "message": "hi", "delay": "0.5s"},
        {"id": "again", "type": "email", "template": "hello", "next": "nudge"},
    ]
    assert "loop with no wait in between" in problem(tmp_path, steps)


# ----------------------------------------------------------------------------- numbers


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"probability": float("nan")}, "probability"),
        ({"scores": {"confidence": 1e309}}, "scores.confidence"),
        ({"values": [1.0, float("-inf")]}, "values[1]"),
    ],
)
def test_event_data_with_a_number_that_is_not_finite_is_refused(
    data: dict[str, Any], field: str
) -> None:
    with pytest.raises(ValidationError) as caught:
        Event(name="scored", data=data)
    assert f"{field}: not a finite number" in str(caught.value)


# ----------------------------------------------------------------------------- sizes


@pytest.mark.parametrize(
    ("build", "field"),
    [
        (lambda text: Response(channel=Channel.SMS, note=text[: REPLY_MAX + 1]), "note"),
        (lambda text: Decision(approver="sarah", role="coordinator", note=text), "note"),
        (lambda text: EscalationAnswer(by="sarah", note=text), "note"),
        (lambda text: CancelRequest(reason="done", by=text), "by"),
        (lambda text: Event(name="paid", data={"memo": text}), "data"),
    ],
)
def test_an_oversized_input_is_refused_naming_the_field(build: Any, field: str) -> None:
    with pytest.raises(ValidationError) as caught:
        build("x" * (max(NOTE_MAX, REPLY_MAX, EVENT_DATA_MAX) + 1))
    assert caught.value.errors()[0]["loc"][0] == field


def test_inputs_within_their_limits_are_kept_whole() -> None:
    assert Response(channel=Channel.SMS, note="y" * REPLY_MAX).note == "y" * REPLY_MAX
    assert Decision(approver="a", role="b", note="n" * NOTE_MAX).note == "n" * NOTE_MAX
    assert Event(name="paid", data={"amount": 120.5}).data == {"amount": 120.5}


def test_a_step_keeps_a_clipped_error_however_long_the_provider_text() -> None:
    record = StepRecord(step_id="s", kind="email", summary="Send")
    record.error = "provider error 500: " + "<html>" * 100_000
    record.result = "r" * 5000
    assert record.error is not None and len(record.error) == TEXT_KEPT
    assert record.result is not None and record.result.endswith("…")


def test_keep_last_keeps_the_newest_and_counts_the_rest() -> None:
    items = list(range(10))
    assert keep_last(items, 4) == 6
    assert items == [6, 7, 8, 9]
    assert keep_last(items, 4) == 0
    assert clip("abc", 2) == "a…" and clip("ab", 2) == "ab" and clip(None) is None


def test_the_idempotency_key_names_workflow_run_step_and_round() -> None:
    ref = StepRef(
        workflow_id="intervention-t-F1",
        run_id="r1",
        step_id="mail",
        template="t",
        template_version=1,
    )
    assert ref.idempotency_key == "intervention-t-F1/r1/mail"
    assert ref.model_copy(update={"round": 2}).idempotency_key == "intervention-t-F1/r1/mail/r2"
    assert idempotency_key("w", "r", "s") == idempotency_key("w", "r", "s", 0) == "w/r/s"
    assert idempotency_key("w", "r", "s", 1) == "w/r/s/r1"


def status(**extra: Any) -> InterventionStatus:
    return InterventionStatus(
        workflow_id="w",
        family_id="F1",
        template="t",
        template_version=1,
        state=State.SCHEDULED,
        **extra,
    )


def test_a_status_list_keeps_its_newest_entries_and_counts_the_rest() -> None:
    st = status()
    for n in range(KEPT["decisions"] + 3):
        st.keep("decisions", {"n": n})
    assert [d["n"] for d in st.decisions][:2] == [3, 4] and len(st.decisions) == KEPT["decisions"]
    assert st.dropped == {"decisions": 3}
    st.let_go("decisions", 0)
    st.let_go("bounces", 2)
    assert st.dropped == {"decisions": 3, "bounces": 2}


def test_events_keep_one_per_name_the_newest() -> None:
    st = status()
    st.keep("events", Event(name="paid", data={"n": 1}))
    st.keep("events", Event(name="visit"))
    st.keep("events", Event(name="paid", data={"n": 2}))
    assert [(e.name, e.data) for e in st.events] == [("visit", {}), ("paid", {"n": 2})]
    assert st.dropped == {"events": 1}


def test_the_next_run_carries_the_counts_and_counts_what_it_trims() -> None:
    steps = [StepRecord(step_id=f"s{n}", kind="sms", summary="s") for n in range(5)]
    decisions: list[dict[str, Any]] = [{"n": n} for n in range(4)]
    st = status(steps=steps, decisions=decisions, dropped={"events": 2})
    carried = st.next_run("s0", steps_kept=2, decisions_kept=3)
    assert [s.step_id for s in carried.steps] == ["s3", "s4"]
    assert carried.decisions == decisions[1:]
    assert carried.dropped == {"events": 2, "steps": 3, "decisions": 1}
    assert st.dropped == {"events": 2}  # the run before keeps its own counts
    again = carried.next_run("s0", steps_kept=2, decisions_kept=3)
    assert again.dropped == carried.dropped and again.run == 3


@pytest.mark.parametrize(
    ("written", "shown"),
    [
        ("3651d", "'3651d'"),
        (1e300, "1e+300"),
        (timedelta(days=3651), "datetime.timedelta(days=3651)"),
        ("P3651D", "'P3651D'"),
    ],
)
def test_a_duration_too_long_is_refused_showing_what_was_written(written: Any, shown: str) -> None:
    with pytest.raises(ValueError) as caught:
        parse_duration(written)
    assert str(caught.value) == f"too long: {shown} is more than 3650d (ten years), the longest"


def test_ten_years_is_accepted_in_every_form() -> None:
    assert parse_duration(MAX_DURATION) == MAX_DURATION
    assert parse_duration("P3650D") == MAX_DURATION
    assert parse_duration(MAX_DURATION.total_seconds()) == MAX_DURATION


def test_a_number_that_is_not_finite_is_named_by_its_path() -> None:
    nan = float("nan")
    assert non_finite(nan) == "value"
    assert non_finite({"score": nan}) == "score"
    assert non_finite({"visit": {"scores": [1.0, float("inf")]}}) == "visit.scores[1]"
    assert non_finite([0, {"a": -float("inf")}]) == "[1].a"
    assert non_finite({"fine": [1, 2.5, "x", None]}) is None


def test_event_data_of_exactly_the_limit_is_kept_and_one_byte_more_is_refused() -> None:
    padding = EVENT_DATA_MAX - len('{"x": ""}')
    at_limit = {"x": "a" * padding}
    assert check_event_data(at_limit) == at_limit
    with pytest.raises(ValueError) as caught:
        check_event_data({"x": "a" * (padding + 1)})
    assert str(caught.value) == f"is {EVENT_DATA_MAX + 1} bytes as JSON; at most 4096 are kept"
    with pytest.raises(ValueError, match=r"^n: not a finite number$"):
        check_event_data({"n": float("nan")})
