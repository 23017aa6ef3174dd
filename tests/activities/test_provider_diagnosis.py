"""A provider's failure message keeps its status and error code, never its free text."""

from __future__ import annotations

import httpx
import pytest
from temporalio.exceptions import ApplicationError

from activities.providers import classify

URL = "https://api.example/send"


def answer(status: int, body: dict) -> httpx.Response:
    return httpx.Response(status, json=body, request=httpx.Request("POST", URL))


@pytest.mark.parametrize(
    ("status", "body", "message", "kind"),
    [
        (
            422,
            {"ErrorCode": 406, "Message": "martinez@example.org is inactive"},
            "provider refused (422, ErrorCode 406)",
            "HardBounce",
        ),
        (
            400,
            {"code": 21211, "message": "The 'To' number +15550100001 is not valid"},
            "provider refused (400, code 21211)",
            "InvalidRecipient",
        ),
        (
            400,
            {"error": "Recipient martinez@example.org unknown"},
            "provider refused (400)",
            "InvalidRecipient",
        ),
        (503, {"error": "upstream_down"}, "provider error 503, error upstream_down", None),
        (429, {"message": "slow down, Martinez"}, "provider throttled (429)", None),
    ],
)
def test_failure_text_is_trimmed_to_status_and_code(status, body, message, kind):
    with pytest.raises(ApplicationError) as raised:
        classify(answer(status, body))
    assert raised.value.message == message
    if kind is not None:
        assert raised.value.type == kind
