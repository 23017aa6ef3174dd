"""Stored histories of every sequence shape replay through the current workflow code."""

from __future__ import annotations

from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer
from temporalio.workflow import NondeterminismError

from tests.workflows.changed_sequences import ReorderedHighRisk
from workflows.sequences import SEQUENCES
from workflows.versions import CURRENT

HISTORIES = Path(__file__).parent / "histories"
# The first recordings (before any patch), and the same shapes run on `versions.CURRENT`.
SHAPES = sorted(
    str(p.relative_to(HISTORIES).with_suffix(""))
    for p in [*HISTORIES.glob("*.json"), *HISTORIES.glob("current/*.json")]
)
SHAPE_NAMES = ["high_risk_cancelled", "high_risk_full", "high_risk_responded", "template_full"]


def history(shape: str) -> WorkflowHistory:
    return WorkflowHistory.from_json(
        f"intervention-{shape}", (HISTORIES / f"{shape}.json").read_text()
    )


def test_every_shape_is_stored():
    current = sorted([*SHAPE_NAMES, "high_risk_full_family_given"])
    assert [*(f"current/{name}" for name in current), *SHAPE_NAMES] == SHAPES


def test_current_histories_take_the_one_patch():
    """Runs on today's code record `versions.CURRENT` and no older patch id."""
    for name in [*SHAPE_NAMES, "high_risk_full_family_given"]:
        markers = [
            event.marker_recorded_event_attributes
            for event in history(f"current/{name}").events
            if event.HasField("marker_recorded_event_attributes")
        ]
        patches = [m.details["patch-data"] for m in markers if m.marker_name == "core_patch"]
        assert len(patches) == 1, name
        assert CURRENT.encode() in patches[0].payloads[0].data, name


@pytest.mark.parametrize("shape", SHAPES)
async def test_stored_history_replays(shape):
    replayer = Replayer(workflows=SEQUENCES, data_converter=pydantic_data_converter)
    result = await replayer.replay_workflow(history(shape))
    assert result.replay_failure is None


async def test_a_changed_workflow_fails_replay():
    replayer = Replayer(workflows=[ReorderedHighRisk], data_converter=pydantic_data_converter)
    with pytest.raises(NondeterminismError):
        await replayer.replay_workflow(history("high_risk_full"))
