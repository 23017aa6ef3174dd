"""How the audit row of a step that wrote none of its own names its failure."""

from __future__ import annotations

import pytest

from workflows.audit import error_type


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (None, None),
        ("", None),
        ("HardBounce: 550 no such mailbox", "HardBounce"),
        ("InvalidRecipient: provider refused (400)", "InvalidRecipient"),
        ("family has no usable sms channel", "NoUsableChannel"),
        ("something else went wrong", "StepFailed"),
    ],
)
def test_the_error_type_of_a_step(error: str | None, expected: str | None) -> None:
    assert error_type(error) == expected
