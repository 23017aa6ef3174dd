"""Edges of reading a step list that mutation testing showed no test held: the exact
message for each wrong shape, the JSON spelling's nested conditions and index hints."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from contracts import ScheduleSpec, parse_steps
from contracts.steps import is_valid_timezone
from tests.contracts.test_steps import EMAIL, problem


def refused(value: Any) -> str:
    with pytest.raises(ValueError) as caught:
        parse_steps(value)
    return str(caught.value)


@pytest.mark.parametrize("value", [{"id": "a", "type": "end"}, [], None, "steps"])
def test_steps_must_be_a_non_empty_list(value: Any) -> None:
    assert "steps: give a non-empty list of steps" in refused(value)


def test_a_step_that_is_not_a_mapping_is_named_by_its_place() -> None:
    assert "step #2: expected a mapping with `id` and `type`" in refused([EMAIL, "sms"])


@pytest.mark.parametrize("step_id", [5, "", None])
def test_a_step_without_a_usable_id_is_named_by_its_place(step_id: Any) -> None:
    assert "step #1: id: every step needs an id" in refused([{"id": step_id, "type": "end"}])


def test_a_json_name_becomes_a_slug_without_edge_underscores() -> None:
    (step,) = parse_steps([{"name": "  Send the Email! ", "type": "end"}])
    assert step.id == "send_the_email"


def test_a_bad_id_and_the_reserved_id_say_why() -> None:
    assert (
        "step 'Bad': id: use lower-case letters, digits and underscores, starting with a letter"
        in refused([{"id": "Bad", "type": "end"}])
    )
    assert "step 'end': id: 'end' is reserved; choose another id" in refused(
        [{"id": "end", "type": "end"}]
    )


@pytest.mark.parametrize(
    ("target", "hint"), [(0, "then: first"), (1, "then: check"), (2, "then: <a step id>")]
)
def test_a_jump_by_index_hints_at_the_step_id(target: int, hint: str) -> None:
    check = {
        "id": "check",
        "type": "condition",
        "condition": {"field": "x", "operator": "==", "value": 1},
        "if_true_step": target,
        "else": "end",
    }
    assert f"e.g. `{hint}`" in refused([EMAIL, check])


def test_nested_json_conditions_are_read_as_ours() -> None:
    condition = {
        "all": [{"field": "a", "operator": ">", "value": 1}, {"field": "b"}],
        "any": [{"field": "c", "operator": "==", "value": 2}],
        "not": {"field": "d", "operator": "<", "value": 3},
    }
    step = {"id": "c", "type": "condition", "condition": condition, "then": "end", "else": "end"}
    (read,) = parse_steps([step])
    assert read.if_ is not None
    assert [c.op for c in read.if_.all or []] == [">", "=="]
    assert [c.op for c in read.if_.any or []] == ["=="]
    assert read.if_.not_ is not None and read.if_.not_.op == "<"


@pytest.mark.parametrize(
    ("field", "value", "accepted"), [("compensate", False, True), ("compensate", True, False)]
)
def test_a_field_of_another_type_is_accepted_only_when_unset(
    tmp_path: Path, field: str, value: Any, accepted: bool
) -> None:
    step = {**EMAIL, field: value}
    if accepted:
        assert parse_steps([step])[0].type == "email"
    else:
        assert (
            f"step 'first': {field}: does not apply to a email step (use: at, delay, "
            in problem(tmp_path, [step])
        )


@pytest.mark.parametrize(
    ("step", "expected"),
    [
        (
            {"id": "c", "type": "condition", "if": {"field": "x"}, "then": "nope", "else": "end"},
            "step 'c': then: no step with id 'nope'",
        ),
        (
            {"id": "c", "type": "condition", "if": {"field": "x"}, "then": "end", "else": "nope"},
            "step 'c': else: no step with id 'nope'",
        ),
        ({**EMAIL, "fallback": "nope"}, "step 'first': fallback: no step with id 'nope'"),
        ({**EMAIL, "fallback": "email"}, "step 'first': fallback: email → email loops"),
        (
            {**EMAIL, "template": "gone"},
            "step 'first': template: no message 'gone' in messages (hello)",
        ),
    ],
)
def test_template_mistakes_name_the_field(
    tmp_path: Path, step: dict[str, Any], expected: str
) -> None:
    assert expected in problem(tmp_path, [step])


def test_no_messages_are_named_as_none(tmp_path: Path) -> None:
    assert "in messages (none defined)" in problem(tmp_path, [EMAIL], messages={})


def test_time_zones_are_checked_by_name() -> None:
    assert is_valid_timezone("Europe/Paris") and not is_valid_timezone("Mars/Olympus")
    assert ScheduleSpec(cron="0 9 * * 1", timezone="Europe/Paris").timezone == "Europe/Paris"


def test_the_refusals_read_exactly_as_written() -> None:
    assert refused([]) == "steps: give a non-empty list of steps"
    assert refused([{"id": "a", "type": "bogus"}]) == (
        "step 'a': type: unknown type 'bogus' (use one of email, sms, whatsapp, call, task, "
        "wait, condition, approval, webhook, end)"
    )
    assert refused([{"id": "a", "type": "wait", "duration": "1d", "url": "http://x"}]) == (
        "step 'a': url: does not apply to a wait step "
        "(use: description, duration, name, next, until)"
    )


@pytest.mark.parametrize("days", ["3", None, -1, True])
def test_days_that_are_not_a_number_are_named(days: Any) -> None:
    assert refused([{"id": "a", "type": "wait", "duration_days": days}]) == (
        f"step 'a': duration_days: not a number of days: {days!r}"
    )


def test_days_are_whole_days() -> None:
    (step,) = parse_steps([{"id": "a", "type": "wait", "duration_days": 1.5}])
    assert step.duration == timedelta(days=1.5)


def test_steps_already_read_are_taken_as_they_are_or_read_again_with_the_rest() -> None:
    read = parse_steps(
        [
            {
                "id": "ask",
                "type": "condition",
                "if": {"field": "response_received", "op": "==", "value": True},
                "then": "done",
                "else": "ask_again",
            },
            {"id": "ask_again", "type": "wait", "duration": "1d", "next": "done"},
            {"id": "done", "type": "end"},
        ]
    )
    assert parse_steps(read) == read
    again = parse_steps(
        [read[0], {"id": "ask_again", "type": "end"}, {"id": "done", "type": "end"}]
    )
    assert again[0] == read[0] and again[0].else_ == "ask_again"
