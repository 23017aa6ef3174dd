"""Every stored history replays through the current workflow code; a changed sequence fails.

The histories are recorded by `tests/workflows/record_histories.py`, one or more per shape
(one per run for a sequence that continues as new).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer
from temporalio.workflow import NondeterminismError

from tests.workflows.changed_sequences import ReorderedHighRisk
from tests.workflows.record_histories import SHAPES
from workflows.changes import CHANGES
from workflows.sequences import SEQUENCES

HISTORIES = Path(__file__).parent / "histories"
STORED = sorted(str(p.relative_to(HISTORIES).with_suffix("")) for p in HISTORIES.rglob("*.json"))


def history(name: str) -> WorkflowHistory:
    return WorkflowHistory.from_json(
        f"intervention-{name}", (HISTORIES / f"{name}.json").read_text()
    )


def test_every_shape_is_stored() -> None:
    for name, shape in SHAPES.items():
        runs = [s for s in STORED if s == f"{shape.folder}/{name}"]
        runs += [s for s in STORED if s.startswith(f"{shape.folder}/{name}_run")]
        assert runs, f"no stored history of {name}: run tests/workflows/record_histories.py"


def test_each_history_takes_only_its_shapes_patches() -> None:
    """Histories of the 1.0 baseline take no `workflow.patched` branch (no patch marker and no
    `TemporalChangeVersion` upsert); a later shape takes exactly the patches it names."""
    for name, shape in SHAPES.items():
        runs = [s for s in STORED if s == f"{shape.folder}/{name}"]
        runs += [s for s in STORED if s.startswith(f"{shape.folder}/{name}_run")]
        taken: set[str] = set()
        for run in runs:
            for event in history(run).events:
                if event.HasField("marker_recorded_event_attributes"):
                    taken |= _patch_ids(event.marker_recorded_event_attributes)
                if event.HasField("upsert_workflow_search_attributes_event_attributes"):
                    fields = event.upsert_workflow_search_attributes_event_attributes
                    versions = fields.search_attributes.indexed_fields.get("TemporalChangeVersion")
                    if versions is not None:  # the SDK lists the patches a run took
                        assert set(json.loads(versions.data)) <= set(shape.patches), name
        assert taken == set(shape.patches), name


def test_a_run_started_with_a_level_takes_its_changes_without_markers() -> None:
    """A shape's runs carry the level it names in their input (a loop's next runs too); a
    change within that level records no patch marker and no `TemporalChangeVersion` upsert."""
    for name, shape in SHAPES.items():
        runs = [s for s in STORED if s == f"{shape.folder}/{name}"]
        runs += [s for s in STORED if s.startswith(f"{shape.folder}/{name}_run")]
        assert all(CHANGES.index(patch) >= shape.changes for patch in shape.patches), name
        for run in runs:
            events = history(run).events
            started = events[0].workflow_execution_started_event_attributes
            assert json.loads(started.input.payloads[0].data).get("changes", 0) == shape.changes
            if shape.changes and not shape.patches:
                assert not any(_patch_ids(e.marker_recorded_event_attributes) for e in events)
                assert not any(_change_versions(e) for e in events), run


def _change_versions(event: Any) -> bool:
    fields = event.upsert_workflow_search_attributes_event_attributes
    return "TemporalChangeVersion" in fields.search_attributes.indexed_fields


def _patch_ids(marker: Any) -> set[str]:
    if marker.marker_name != "core_patch":
        return set()
    payload = marker.details["patch-data"].payloads[0]
    return {json.loads(payload.data)["id"]}


@pytest.mark.parametrize("name", STORED)
async def test_stored_history_replays(name: str) -> None:
    replayer = Replayer(workflows=SEQUENCES, data_converter=pydantic_data_converter)
    result = await replayer.replay_workflow(history(name))
    assert result.replay_failure is None


async def test_a_changed_workflow_fails_replay() -> None:
    replayer = Replayer(workflows=[ReorderedHighRisk], data_converter=pydantic_data_converter)
    with pytest.raises(NondeterminismError):
        await replayer.replay_workflow(history("high_risk/high_risk_full"))
