"""Which behaviour a run follows: one patch marks a run started on today's code.

Every change to a sequence's commands since the first stored histories went in behind its
own `workflow.patched` id, so that older histories replay. Each of those calls costs a new
run a marker event and an upsert of the `TemporalChangeVersion` search attribute, that is
a visibility write on the server (measured in BENCHMARKS.md: four of each per sequence).

`CURRENT` stands for all of them. A run that records it takes every patched path without
asking again, and only such a run does what came after it: the `InterventionState`
search attribute says `running` between steps instead of flipping at every step, and the
audit rows of waits and skips travel with the next activity instead of a local activity
of their own (`workflows.audit`). A run without it, a history from before, asks each
patch where it always did and behaves exactly as it did.
"""

from __future__ import annotations

from typing import Protocol

from temporalio import workflow

CURRENT = "current-2026-11"


class Versioned(Protocol):
    current_version: bool | None


def current(flow: Versioned) -> bool:
    """Whether this run started on code with `CURRENT` (asked once, at its first use)."""
    if flow.current_version is None:
        flow.current_version = workflow.patched(CURRENT)
    return flow.current_version


def patched(flow: Versioned, patch_id: str) -> bool:
    """`workflow.patched(patch_id)` for runs from before `CURRENT`; True for the others."""
    return current(flow) or workflow.patched(patch_id)
