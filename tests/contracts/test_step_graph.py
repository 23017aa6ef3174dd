"""Whole-template checks of a step list: jump targets, messages, roles, reachability, loops."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from contracts import Channel, parse_steps
from contracts.step_graph import check_template, successors
from contracts.steps import TEMPLATE_WORKFLOW
from followthrough.templates import read_template
from tests.contracts.test_steps import EMAIL, problem, write


@pytest.mark.parametrize(
    ("steps", "extra", "expected"),
    [
        ([{**EMAIL, "next": "nowhere"}], {}, "step 'first': next: no step with id 'nowhere'"),
        (
            [EMAIL, {"id": "orphan", "type": "end"}, {"id": "lost", "type": "sms", "message": "x"}],
            {},
            "step 'lost': unreachable",
        ),
        (
            [
                EMAIL,
                {"id": "a", "type": "sms", "message": "hi"},
                {
                    "id": "b",
                    "type": "condition",
                    "if": {"field": "response_received"},
                    "then": "end",
                    "else": "a",
                },
            ],
            {},
            "step 'a': next: the steps a → b → a loop with no wait",
        ),
        ([{**EMAIL, "template": "missing"}], {}, "step 'first': template: no message 'missing'"),
        (
            [{"id": "g", "type": "approval", "roles": ["janitor"]}],
            {},
            "step 'g': roles: 'janitor' is not one of the template's approver_roles",
        ),
        ([EMAIL, EMAIL], {}, "step 'first': id: used by two steps"),
        ([EMAIL], {"workflow": "HighRiskIntervention"}, "workflow: a template with steps runs on"),
    ],
)
def test_mistakes_are_named_by_step_and_field(
    tmp_path: Path, steps: list[dict[str, Any]], extra: dict[str, Any], expected: str
) -> None:
    assert expected in problem(tmp_path, steps, **extra)


def test_a_loop_with_a_wait_is_allowed(tmp_path: Path) -> None:
    steps: list[dict[str, Any]] = [
        {"id": "nudge", "type": "sms", "message": "hi"},
        {"id": "pause", "type": "wait", "duration": "7d", "until": "response_received"},
        {
            "id": "again",
            "type": "condition",
            "if": {"field": "response_received"},
            "then": "end",
            "else": "nudge",
        },
    ]
    params = read_template(write(tmp_path, steps))
    assert params.steps is not None and len(params.steps) == 3


def test_where_each_step_can_go() -> None:
    steps = parse_steps(
        [
            {"id": "mail", "type": "email", "message": "hi", "fallback": "call_desk"},
            {
                "id": "check",
                "type": "condition",
                "if": {"field": "x"},
                "then": "end",
                "else": "done",
            },
            {"id": "call_desk", "type": "call", "reason": "r"},
            {"id": "done", "type": "end"},
        ]
    )
    assert successors(steps, 0) == ["check", "call_desk"]
    assert successors(steps, 1) == ["end", "done"]
    assert successors(steps, 2) == ["done"]
    assert successors(steps, 3) == []


def test_no_steps_only_for_code_defined_workflows() -> None:
    check_template(None, workflow="HighRiskIntervention", messages=set(), approver_roles=[])
    with pytest.raises(ValueError, match="needs a list of steps"):
        check_template(None, workflow="TemplateIntervention", messages=set(), approver_roles=[])


def _refusal(steps: list[dict[str, Any]], **extra: Any) -> str:
    with pytest.raises(ValueError) as caught:
        check_template(
            parse_steps(steps),
            workflow=TEMPLATE_WORKFLOW,
            messages=extra.pop("messages", {"hello", "bye"}),
            approver_roles=[],
            **extra,
        )
    return str(caught.value)


def test_each_refusal_says_how_to_fix_it() -> None:
    assert _refusal([{**EMAIL, "template": "missing"}]) == (
        "step 'first': template: no message 'missing' in messages (bye, hello)"
    )
    assert _refusal([{**EMAIL, "template": "missing"}], messages=set()) == (
        "step 'first': template: no message 'missing' in messages (none defined)"
    )
    assert _refusal([EMAIL, {"id": "orphan", "type": "end"}, {"id": "lost", "type": "end"}]) == (
        "step 'lost': unreachable: no step leads to it "
        "(add a jump with next/then/else, or remove it)"
    )
    assert _refusal(
        [
            {"id": "a", "type": "sms", "message": "hi"},
            {"id": "b", "type": "email", "template": "hello", "next": "a"},
        ]
    ) == (
        "step 'a': next: the steps a → b → a loop with no wait in between "
        "(add a wait step or a delay)"
    )
    sms_back_to_email = {"id": "x", "type": "email", "template": "hello", "fallback": "sms"}
    assert _refusal([sms_back_to_email], fallbacks={Channel.SMS: Channel.EMAIL}) == (
        "step 'x': fallback: email → sms → email loops; fall back to a channel not already tried "
        "(or end the chain in `fallbacks`)"
    )
