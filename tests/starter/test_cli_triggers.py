"""`followthrough predict|trigger|event`: bad input is refused with a line naming it."""

from __future__ import annotations

import pytest

from followthrough.platform.devserver import DevServer
from tests.starter.runner import invoke


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--probability", "1.7", "--confidence", "80"],
            "probability: must be between 0 and 1, got 1.7",
        ),
        (
            ["--probability", "0.9", "--confidence", "180"],
            "confidence: must be between 0 and 100, got 180.0",
        ),
        (["--probability", "nan", "--confidence", "80"], "probability: must be between 0"),
        (["--probability", "0.9", "--confidence", "1e309"], "confidence: must be between 0"),
        (
            ["--probability", "0.9", "--confidence", "80", "--window-days", "9" * 20],
            "window-days: must be between 0 and 3650",
        ),
    ],
)
def test_predict_rejects_out_of_range(env, args, message):
    # Checked before anything connects: no server is needed to refuse these.
    code, output = invoke("predict", "--family", "F1", *args)
    assert code == 1 and output.startswith(f"error: {message}")


def test_event_data_must_be_a_json_object(env):
    code, output = invoke("event", "payment_missed", "--family", "F1", "--data", "[1]")
    assert (code, output) == (1, "error: data: must be a JSON object, e.g. '{\"amount\": 40}'")
    code, output = invoke("event", "payment_missed", "--family", "F1", "--data", "{oops")
    assert code == 1 and output.startswith("error: data: not JSON:")


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ('{"probability": NaN}', "error: data: probability: not a finite number"),
        ('{"scores": {"confidence": 1e309}}', "error: data: scores.confidence: not a finite"),
        ('{"memo": "' + "x" * 5000 + '"}', "error: data: is 5012 bytes as JSON; at most 4096"),
    ],
)
def test_event_data_with_absurd_numbers_or_size_is_refused(env, data, message):
    code, output = invoke("event", "payment_missed", "--family", "F1", "--data", data)
    assert code == 1 and output.startswith(message)


def test_unknown_family_and_template(env, dev_server: DevServer, monkeypatch):
    monkeypatch.setenv("TEMPORAL_ADDRESS", dev_server.address)
    code, output = invoke(
        "predict", "--family", "NOPE", "--probability", "0.9", "--confidence", "90"
    )
    assert (code, output) == (1, "error: family: no family with id 'NOPE'")
    code, output = invoke("trigger", "no_such_template", "--family", "F1")
    assert (code, output) == (1, "error: template: no active template named 'no_such_template'")
