"""A webhook call's contract: which HTTP statuses count as success, retry or refusal."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from contracts import StepRef
from contracts.webhooks import WebhookRequest, status_matches

REF = StepRef(
    workflow_id="intervention-t-F1", run_id="r1", step_id="ticket", template="t", template_version=2
)


def test_status_patterns() -> None:
    assert status_matches(204, ["2xx"]) and status_matches(502, ["500-504"])
    assert status_matches(404, ["404"])
    assert not status_matches(404, ["2xx", "500-599"])
    with pytest.raises(ValidationError, match="success"):
        WebhookRequest(ref=REF, family_id="F1", url="http://x", success=["ok"])
