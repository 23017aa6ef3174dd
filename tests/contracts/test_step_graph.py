"""Whole-template checks of a step list: jump targets, messages, roles, reachability, loops."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from contracts import parse_steps
from contracts.step_graph import check_template, successors
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
