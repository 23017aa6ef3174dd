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

The starters name `CURRENT` in the run's input (`InterventionStart.code_version`), and set
its `InterventionState` to `running` at the start. Such a run needs no marker: the input is
in its history, so a replay takes the same path. It saves the marker, the
`TemporalChangeVersion` upsert and the first state upsert: three history events and two
visibility writes per sequence (BENCHMARKS.md). A run started without it (an older
starter, a test, a stored history) asks the patch as before. When `CURRENT` moves on, the
name here must keep its paths: a later change compares against both names.
"""

from __future__ import annotations

from typing import Protocol

from temporalio import workflow

CURRENT = "current-2026-11"


class _Start(Protocol):
    @property
    def code_version(self) -> str | None: ...


class Versioned(Protocol):
    current_version: bool | None

    @property
    def start(self) -> _Start: ...


def current(flow: Versioned) -> bool:
    """Whether this run started on code with `CURRENT`: named in its input, or else asked
    of the patch (once, at its first use)."""
    if flow.current_version is None:
        flow.current_version = flow.start.code_version == CURRENT or workflow.patched(CURRENT)
    return flow.current_version


def patched(flow: Versioned, patch_id: str) -> bool:
    """`workflow.patched(patch_id)` for runs from before `CURRENT`; True for the others."""
    return current(flow) or workflow.patched(patch_id)
