"""Sequence parameters: defaults that follow from what a template says."""

from __future__ import annotations

from datetime import timedelta

import pytest
from pydantic import ValidationError

from contracts import SequenceParams


def test_an_owner_receives_the_escalations_unless_told_otherwise() -> None:
    owned = SequenceParams.model_validate(
        {"name": "owned", "workflow": "MediumRiskIntervention", "owner": "billing"}
    )
    assert owned.escalation.assign_to == "billing" and owned.accountable == "billing"
    assigned = SequenceParams.model_validate(
        {
            "name": "assigned",
            "workflow": "MediumRiskIntervention",
            "owner": "billing",
            "escalation": {"assign_to": "director"},
        }
    )
    assert assigned.escalation.assign_to == "director" and assigned.accountable == "billing"


def test_a_step_list_runs_on_the_interpreter() -> None:
    params = SequenceParams.model_validate(
        {"name": "data", "steps": [{"id": "hello", "type": "sms", "message": "hi"}]}
    )
    assert params.workflow == "TemplateIntervention"


def test_named_delays() -> None:
    params = SequenceParams.model_validate(
        {"name": "waits", "workflow": "HighRiskIntervention", "delays": {"call_after": "2d"}}
    )
    assert params.delay("call_after") == timedelta(days=2)
    with pytest.raises(KeyError, match="no delay 'wait_for_reply'"):
        params.delay("wait_for_reply")


@pytest.mark.parametrize("name", ["High risk", "1st", "with-dash", ""])
def test_template_names_are_lower_case_identifiers(name: str) -> None:
    with pytest.raises(ValidationError):
        SequenceParams.model_validate({"name": name, "workflow": "HighRiskIntervention"})
