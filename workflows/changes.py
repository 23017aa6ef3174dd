"""Which workflow changes a run takes: the level its start carried, else patch markers.

Every change to a workflow's commands goes in under an id listed in `CHANGES`, in the order
the changes were made; a new one is appended, none is ever moved or removed while a run
that knows it may still replay. A run's input carries `changes`, how many of them were on
when it was started (`LEVEL` for every start today): those are on from its first task, with
no patch marker and no `TemporalChangeVersion` upsert (two history events each), and the
input, in the start event, makes a replay take the same paths. A change after the run's
level (added since it started), or any change in a run started before levels (`changes` 0),
is asked of `workflow.patched` as before.
"""

from __future__ import annotations

from temporalio import workflow

# A send that may have gone out asks a coordinator, not a fallback.
ASK_WHEN_UNCERTAIN = "ask-when-send-uncertain"
# A refused signal is written to the audit trail at once.
REJECTIONS = "signal-rejections"
# A decision is checked against the gate it answers and never kept for another one.
GATES = "decisions-per-gate"
# A schedule run pages through the families (a cursor and counts, never the list of ids).
PAGES = "scheduled-pages"
# A fallback covers the next planned step on its channel.
SKIP_COVERED_STEP = "skip-step-covered-by-fallback"
# A sequence keeps at most `UNDOS_MAX` compensations: a step that needs one more is skipped.
UNDO_CAP = "undo-cap"
# A send goes through its channel's rate-limited task queue.
SEND_QUEUES = "send-on-channel-queue"
# Steps that only touch the store run as local activities.
LOCAL_STORE_STEPS = "store-steps-as-local-activities"

CHANGES = (
    ASK_WHEN_UNCERTAIN,
    REJECTIONS,
    GATES,
    PAGES,
    SKIP_COVERED_STEP,
    UNDO_CAP,
    SEND_QUEUES,
    LOCAL_STORE_STEPS,
)
# The level new runs start with: every change this code knows.
LEVEL = len(CHANGES)


class UnknownChanges(Exception):
    """A run was started with changes this worker does not have (a newer worker started it).

    Deliberately not an `ApplicationError`: it fails the workflow task, not the workflow, so
    Temporal retries the task until a worker that knows them takes it. Run here, the run
    would take the older paths without a marker, and a newer worker could not replay it."""


def check_level(level: int) -> None:
    """Refuse a run whose level is past what this code knows (see `UnknownChanges`)."""
    if level > LEVEL:
        message = (
            f"run started with {level} workflow changes, this worker knows {LEVEL}: "
            "left for a newer worker"
        )
        workflow.logger.error("%s", message)
        raise UnknownChanges(message)


def changed(level: int, change: str) -> bool:
    """Whether this run takes `change`: on without a marker when its level includes it,
    else `workflow.patched(change)` (which records the marker in a new run)."""
    if CHANGES.index(change) < level:
        return True
    return workflow.patched(change)
