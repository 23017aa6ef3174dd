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
# The first recordings (before any patch), the same shapes run on `versions.CURRENT` asked
# of its patch, and started with it named in their input (as the starters start them now).
FOLDERS = ["current", "started_current"]
SHAPES = sorted(
    str(p.relative_to(HISTORIES).with_suffix(""))
    for folder in ["", *FOLDERS]
    for p in (HISTORIES / folder).glob("*.json")
)
SHAPE_NAMES = ["high_risk_cancelled", "high_risk_full", "high_risk_responded", "template_full"]


def history(shape: str) -> WorkflowHistory:
    return WorkflowHistory.from_json(
        f"intervention-{shape}", (HISTORIES / f"{shape}.json").read_text()
    )


def test_every_shape_is_stored():
    current = sorted([*SHAPE_NAMES, "high_risk_full_family_given"])
    stored = [f"{folder}/{name}" for folder in FOLDERS for name in current]
    assert sorted([*stored, *SHAPE_NAMES]) == SHAPES


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


def test_runs_started_on_current_record_no_patch():
    """Started with `versions.CURRENT` in their input: no patch marker, no
    `TemporalChangeVersion`, and the state the starter set (`running`) is not upserted again."""
    for name in [*SHAPE_NAMES, "high_risk_full_family_given"]:
        events = history(f"started_current/{name}").events
        started = events[0].workflow_execution_started_event_attributes
        assert b'"code_version":"' + CURRENT.encode() in started.input.payloads[0].data, name
        markers = [
            event.marker_recorded_event_attributes.marker_name
            for event in events
            if event.HasField("marker_recorded_event_attributes")
        ]
        assert "core_patch" not in markers, name
        upserts = [
            event.upsert_workflow_search_attributes_event_attributes.search_attributes
            for event in events
            if event.HasField("upsert_workflow_search_attributes_event_attributes")
        ]
        assert all("TemporalChangeVersion" not in u.indexed_fields for u in upserts), name
        states = [u.indexed_fields["InterventionState"].data for u in upserts]
        assert b'"running"' not in states[:1], name


@pytest.mark.parametrize("shape", SHAPES)
async def test_stored_history_replays(shape):
    replayer = Replayer(workflows=SEQUENCES, data_converter=pydantic_data_converter)
    result = await replayer.replay_workflow(history(shape))
    assert result.replay_failure is None


async def test_a_changed_workflow_fails_replay():
    replayer = Replayer(workflows=[ReorderedHighRisk], data_converter=pydantic_data_converter)
    with pytest.raises(NondeterminismError):
        await replayer.replay_workflow(history("high_risk_full"))
