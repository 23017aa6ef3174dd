"""Signal validation: any JSON in, the signal's contract or one line naming what is wrong."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from contracts import CancelRequest, Decision, RejectedSignal, Response, Undo
from contracts.signals import SENDER_SHOWN, check_signal, sender_of

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
    max_leaves=8,
)


def test_a_good_input_fills_the_contract() -> None:
    found, why = check_signal(Decision, {"approver": "sarah", "role": "coordinator"})
    assert why is None
    assert found == Decision(approver="sarah", role="coordinator")


def test_a_missing_field_is_named_as_required() -> None:
    assert check_signal(Decision, {"approver": "sarah"}) == (None, "role is required")


def test_a_wrong_field_is_named_with_why() -> None:
    found, why = check_signal(Response, {"channel": "pigeon"})
    assert found is None
    assert why is not None and why.startswith("channel: Input should be ")


def test_more_wrong_fields_are_counted() -> None:
    assert check_signal(Decision, {}) == (None, "approver is required (and 1 more)")
    assert check_signal(Decision, {"role": "x"}) == (None, "approver is required")


def test_a_field_inside_a_list_is_named_by_its_path() -> None:
    found, why = check_signal(RejectedSignal, {"signal": "s", "reason": "r", "at": ["x"]})
    assert found is None and why is not None and why.startswith("at: ")


def test_a_nested_field_is_named_by_its_dotted_path() -> None:
    value = {"step_id": "call", "kind": "cancel_task", "ref": {"workflow_id": "w", "run_id": "r"}}
    found, why = check_signal(Undo, value)
    assert found is None
    assert why == "ref.step_id is required (and 2 more)"


def test_an_input_that_is_not_an_object_says_so() -> None:
    for value in ("approve", 3, None, ["sarah", "coordinator"]):
        assert check_signal(Decision, value) == (None, "input: must be a JSON object")


@given(json_values)
def test_any_json_gets_the_contract_or_one_line(value: Any) -> None:
    found, why = check_signal(CancelRequest, value)
    assert (found is None) != (why is None)
    if why is not None:
        assert why and "\n" not in why


def test_the_sender_comes_from_the_approver_or_by_even_in_a_wrong_input() -> None:
    assert sender_of({"approver": " sarah ", "by": "dan"}) == "sarah"
    assert sender_of({"approver": "  ", "by": "dan"}) == "dan"
    assert sender_of({"approver": 7, "by": "dan"}) == "dan"
    assert sender_of({"by": "x" * 500}) == "x" * SENDER_SHOWN
    assert sender_of({"role": "coordinator"}) is None
    assert sender_of(["sarah"]) is None
    assert sender_of("sarah") is None


def test_a_rejection_reads_as_one_line() -> None:
    at = datetime(2026, 1, 1, tzinfo=UTC)
    with_sender = RejectedSignal(signal="approve", sender="sarah", reason="role is required", at=at)
    assert with_sender.describe() == "rejected approve from sarah: role is required"
    without = RejectedSignal(signal="skip", reason="input: must be a JSON object", at=at)
    assert without.describe() == "rejected skip: input: must be a JSON object"


@pytest.mark.parametrize(
    ("value", "line"),
    [
        (
            {"aprover": "sarah", "role": "coordinator"},
            "approver is required (is 'aprover' meant to be approver?)",
        ),
        ({"Approver": "sarah", "role": "coordinator"}, "approver is required (is 'Approver'"),
        (
            {"approver": "sarah", "rol": "coordinator"},
            "role is required (is 'rol' meant to be role?)",
        ),
        ({"approver": "sarah", "colour": "blue"}, "role is required"),
        ({"approver": "sarah"}, "role is required"),
        (["sarah"], "input: must be a JSON object"),
    ],
)
def test_a_wrong_approval_is_refused_in_one_line(value: Any, line: str) -> None:
    found, why = check_signal(Decision, value)

    assert found is None
    assert why is not None and why.startswith(line)
    assert "\n" not in why


def test_an_unrelated_key_is_not_offered_as_a_misspelling() -> None:
    _, why = check_signal(Decision, {"approver": "sarah", "colour": "blue"})

    assert why == "role is required"


def test_a_right_approval_is_accepted() -> None:
    found, why = check_signal(Decision, {"approver": "sarah", "role": "coordinator"})

    assert why is None and found is not None and found.approver == "sarah"
