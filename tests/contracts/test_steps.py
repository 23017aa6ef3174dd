"""Reading step lists: what loads, and what is refused with a message naming the step and
field (the checks of the whole list are in `test_step_graph`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from contracts import SequenceParams
from followthrough.templates import TemplateFileError, read_template

HERE = Path(__file__).parent
TEMPLATES = HERE.parent.parent / "templates"

BASE: dict[str, Any] = {
    "name": "data_sequence",
    "messages": {"hello": {"subject": "Hi", "body": "Hi {{ first_name }}"}},
}


def write(tmp_path: Path, steps: list[dict[str, Any]], **extra: Any) -> Path:
    path = tmp_path / "t.yaml"
    path.write_text(yaml.safe_dump({**BASE, **extra, "steps": steps}))
    return path


def problem(tmp_path: Path, steps: list[dict[str, Any]], **extra: Any) -> str:
    with pytest.raises(TemplateFileError) as caught:
        read_template(write(tmp_path, steps, **extra))
    return str(caught.value)


def test_jumps_by_index_ask_for_named_jumps():
    with pytest.raises(TemplateFileError) as caught:
        read_template(HERE / "jumps_by_index.yaml")
    assert str(caught.value).endswith(
        "step 'check_response': if_true_step: jumps by index (5) are not supported; "
        "name the target step instead, e.g. `then: mark_complete`"
    )


def test_the_six_step_template_loads_in_the_json_spelling():
    params = read_template(TEMPLATES / "high_risk_six_steps.yaml")
    assert params.workflow == "TemplateIntervention"
    steps = params.steps
    assert steps is not None
    assert [s.id for s in steps] == [
        "send_initial_email",
        "wait_for_response",
        "check_response",
        "send_sms_follow_up",
        "schedule_phone_call",
        "mark_complete",
    ]
    assert steps[1].duration is not None and steps[1].duration.days == 3
    assert steps[4].delay.days == 2
    assert steps[2].if_ is not None and steps[2].if_.field == "email_response_received"
    assert (steps[2].then, steps[2].else_) == ("mark_complete", "send_sms_follow_up")


def test_a_stored_template_reads_back_the_same():
    params = read_template(TEMPLATES / "high_risk_as_data.yaml")
    again = SequenceParams.model_validate(params.model_dump(mode="json"))
    assert again == params
    # Only what the file said is stored, not every field's default.
    assert params.model_dump(mode="json")["steps"][0] == {
        "id": "first_email",
        "type": "email",
        "template": "concern_outreach",
        "fallback": "sms",
    }


EMAIL = {"id": "first", "type": "email", "template": "hello"}


@pytest.mark.parametrize(
    ("steps", "extra", "expected"),
    [
        ([{"id": "x", "type": "fax"}], {}, "step 'x': type: unknown type 'fax'"),
        ([{**EMAIL, "colour": "red"}], {}, "step 'first': colour: unknown field for a email step"),
        ([{**EMAIL, "duration": "3d"}], {}, "step 'first': duration: does not apply to a email"),
        (
            [EMAIL, {"id": "w", "type": "wait", "duration": "soon"}],
            {},
            "step 'w': duration: not a duration",
        ),
        (
            [{"id": "s", "type": "sms", "message": "Hi {{ nickname }}"}],
            {},
            "step 's': message: unknown variable(s) nickname",
        ),
        (
            [
                {
                    "id": "c",
                    "type": "condition",
                    "if": {"field": "x", "operator": "~"},
                    "then": "end",
                }
            ],
            {},
            "step 'c': if.op:",
        ),
        ([{"id": "h", "type": "webhook", "url": "ftp://x"}], {}, "step 'h': url: not an http(s)"),
        (
            [{"id": "h", "type": "webhook", "url": "https://itsm.example/t", "compensate": True}],
            {},
            "step 'h': compensate: a webhook is undone by its `undo` call",
        ),
        (
            [EMAIL],
            {
                "trigger": {
                    "type": "schedule",
                    "schedule": {"cron": "0 9 * * 1", "timezone": "Mars/Base"},
                }
            },
            "unknown time zone 'Mars/Base'",
        ),
        ([{"type": "end"}], {}, "step #1: id: every step needs an id"),
    ],
)
def test_mistakes_are_named_by_step_and_field(tmp_path, steps, extra, expected):
    assert expected in problem(tmp_path, steps, **extra)
