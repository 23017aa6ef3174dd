"""The generic JSON webhook: an HTTP action on an external system (e.g. an ITSM ticket)."""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, Field, field_validator

from contracts.activities import StepRef

_STATUS = re.compile(r"^([1-5]xx|[1-5]\d\d(-[1-5]\d\d)?)$")


def status_matches(status: int, patterns: list[str]) -> bool:
    """Whether an HTTP status matches any of `2xx`, `404` or `500-504`."""
    for pattern in patterns:
        if pattern.endswith("xx"):
            if status // 100 == int(pattern[0]):
                return True
        elif "-" in pattern:
            low, high = (int(part) for part in pattern.split("-"))
            if low <= status <= high:
                return True
        elif status == int(pattern):
            return True
    return False


class WebhookRequest(BaseModel):
    """One call of a webhook step.

    `url` and every string inside `body` are sandboxed, strict templates (variables:
    `family_id`, `family_name`, `workflow_id`, `step_id`, `template`, `prediction_id`, the
    family's attributes and `context`); the URL's host is written out and must be allowed
    (`contracts.webhook_rules`). A header value `env:WEBHOOK_SECRET_NAME` is read from the
    worker's `WEBHOOK_SECRET_*` variables at call time, so secrets stay out of templates and
    workflow histories. Statuses are matched in order success, transient, permanent;
    anything else is permanent. Of the answer, only the top-level fields named in `keep`
    are returned (and so kept in the history).
    """

    ref: StepRef
    family_id: str
    url: str = Field(min_length=1)
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE"] = "POST"
    headers: dict[str, str] = {}
    body: Any = None
    context: dict[str, Any] = {}
    success: list[str] = ["2xx"]
    transient: list[str] = ["408", "429", "5xx"]
    permanent: list[str] = ["4xx"]
    # Top-level field of the JSON answer that names the created object (kept in the audit).
    id_field: str | None = "id"
    # Top-level fields of the JSON answer returned to the workflow; nothing else is kept.
    keep: list[str] = []

    @field_validator("success", "transient", "permanent")
    @classmethod
    def _statuses(cls, value: list[str]) -> list[str]:
        for pattern in value:
            if not _STATUS.match(pattern):
                raise ValueError(f"{pattern!r} is not a status, e.g. 2xx, 404 or 500-504")
        return value


class WebhookResult(BaseModel):
    """What the external system answered (the JSON body, when there is one)."""

    status_code: int
    external_id: str | None = None
    response: Any = None
    duplicate: bool = False


# Stable error type names of the webhook activity.
WEBHOOK_REJECTED = "WebhookRejected"
WEBHOOK_UNAVAILABLE = "WebhookUnavailable"
WEBHOOK_CONFIG = "WebhookConfigError"
WEBHOOK_DESTINATION = "WebhookDestinationRefused"
