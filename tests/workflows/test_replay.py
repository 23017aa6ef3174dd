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

HISTORIES = Path(__file__).parent / "histories"
SHAPES = sorted(p.stem for p in HISTORIES.glob("*.json"))


def history(shape: str) -> WorkflowHistory:
    return WorkflowHistory.from_json(
        f"intervention-{shape}", (HISTORIES / f"{shape}.json").read_text()
    )


def test_every_shape_is_stored():
    assert SHAPES == [
        "high_risk_cancelled",
        "high_risk_full",
        "high_risk_responded",
        "template_full",
    ]


@pytest.mark.parametrize("shape", SHAPES)
async def test_stored_history_replays(shape):
    replayer = Replayer(workflows=SEQUENCES, data_converter=pydantic_data_converter)
    result = await replayer.replay_workflow(history(shape))
    assert result.replay_failure is None


async def test_a_changed_workflow_fails_replay():
    replayer = Replayer(workflows=[ReorderedHighRisk], data_converter=pydantic_data_converter)
    with pytest.raises(NondeterminismError):
        await replayer.replay_workflow(history("high_risk_full"))
