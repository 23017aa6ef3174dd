"""What the CLI does, as plain async functions the tests call on the same code path."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel
from temporalio.client import Client, WorkflowHandle, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from contracts import (
    CancelRequest,
    Channel,
    DecideRequest,
    Decision,
    DecisionReceipt,
    EscalationAnswer,
    InterventionStatus,
    Response,
    SequenceParams,
    State,
    Verdict,
)
from followthrough.platform import runs
from followthrough.triggers.imports import import_families as checked_import_families
from store import Store
from workflows.search_attributes import FAMILY_ID, STATE, TEMPLATE_NAME


class OperationError(ValueError):
    """A request that cannot be carried out; the message says why in one line."""


class NoSequence(OperationError):
    """Temporal knows no run under the workflow id."""


async def _handle(client: Client, workflow_id: str) -> WorkflowHandle[Any, Any]:
    """The sequence's current run, named by its run id: what this command reads or tells
    is what that run gets, even if a newer run of the same id starts meanwhile."""
    if not workflow_id.startswith("intervention-"):
        raise OperationError(f"workflow id: {workflow_id!r} is not an intervention id")
    handle = await runs.current_run(client, workflow_id)
    if handle is None:
        raise NoSequence(f"workflow id: no sequence {workflow_id!r}")
    return handle


async def signal(client: Client, workflow_id: str, name: str, payload: BaseModel) -> str:
    """Send one of the sequence's signals to its current run (or the run that one continued
    as); the run id signalled. A closed sequence is reported, not ignored."""
    handle = await _handle(client, workflow_id)
    assert handle.run_id is not None
    signalled = await runs.signal_run(client, workflow_id, handle.run_id, name, payload)
    if signalled is None:
        raise OperationError(f"workflow id: {workflow_id!r} has already finished")
    return signalled


async def respond(client: Client, workflow_id: str, channel: str, note: str = "") -> None:
    try:
        payload = Response(channel=Channel(channel), note=note)
    except ValueError as err:
        choices = ", ".join(c.value for c in Channel)
        raise OperationError(f"channel: {channel!r} is not one of {choices}") from err
    await signal(client, workflow_id, "record_response", payload)


async def decide(
    client: Client, workflow_id: str, verdict: str, by: str, role: str, note: str = ""
) -> str:
    """Send the plain `approve`/`reject` signal, then read what the run did with it.

    A signal gets no answer of its own; the run's decision log says whether the decision
    answers the pending gate, waits for a later one, or was refused (then OperationError)."""
    decision = Decision(approver=by, role=role, note=note)
    run_id = await signal(client, workflow_id, verdict, decision)
    handle = client.get_workflow_handle(workflow_id, run_id=run_id)
    st: InterventionStatus = await handle.query("status", result_type=InterventionStatus)
    taken = [
        d
        for d in st.decisions
        if (d.get("verdict"), d.get("approver"), d.get("role")) == (verdict, by, role)
    ]
    if not taken:
        return "sent"
    if "refused" in taken[-1]:
        raise OperationError(f"refused: {taken[-1]['refused']}")
    return str(taken[-1].get("outcome") or "sent")


async def decide_now(
    client: Client,
    workflow_id: str,
    verdict: str,
    by: str,
    role: str,
    note: str = "",
    *,
    signed_in: bool = False,
) -> DecisionReceipt:
    """Decide through the `decide` update: accepted or refused at once, with the reason.

    The signals `approve`/`reject` stay for scripts and the Temporal CLI; this path is for
    people, who should hear "your role may not approve this" now, not find it in a log.
    `signed_in`: the inbox read `by` and `role` from a signed-in account; otherwise the
    decision is recorded as declared by the caller.
    """
    identity: Literal["signed_in", "declared"] = "signed_in" if signed_in else "declared"
    try:
        decision = Decision(approver=by, role=role, note=note, identity=identity)
        request = DecideRequest(verdict=Verdict(verdict), decision=decision)
    except ValueError as err:
        raise OperationError(f"verdict: {verdict!r} is not approve or reject") from err
    handle = await _handle(client, workflow_id)
    try:
        receipt: DecisionReceipt = await handle.execute_update(
            "decide", request, result_type=DecisionReceipt
        )
    except WorkflowUpdateFailedError as err:
        cause = err.cause
        message = cause.message if isinstance(cause, ApplicationError) else str(cause or err)
        raise OperationError(f"refused: {message}") from err
    except RPCError as err:
        if err.status == RPCStatusCode.NOT_FOUND:
            raise OperationError(f"workflow id: {workflow_id!r} has already finished") from err
        raise
    return receipt


async def cancel(client: Client, workflow_id: str, reason: str, by: str = "operator") -> None:
    await signal(client, workflow_id, "cancel", CancelRequest(reason=reason, by=by))


async def answer_escalation(
    client: Client, workflow_id: str, verdict: str, by: str, note: str = ""
) -> None:
    await signal(client, workflow_id, verdict, EscalationAnswer(by=by, note=note))


async def status(
    client: Client,
    workflow_id: str,
    run_id: str | None = None,
    *,
    timeout: timedelta | None = None,
) -> InterventionStatus:
    """The `status` query of run `run_id`, or of the current run. A query is answered by a
    worker: with none polling the run's task queue this says so at once instead of waiting;
    with `timeout`, a worker that does not answer is an RPCError after that long."""
    if not workflow_id.startswith("intervention-"):
        raise OperationError(f"workflow id: {workflow_id!r} is not an intervention id")
    description = await runs.describe(client, workflow_id, run_id)
    if description is None:
        raise NoSequence(f"workflow id: no sequence {workflow_id!r}")
    if not await runs.worker_polls(client, description.task_queue):
        raise OperationError(
            f"status: no worker is polling task queue {description.task_queue!r}, so the"
            " sequence cannot answer (start one: `followthrough worker`)"
        )
    result: InterventionStatus = await runs.pinned(client, description).query(
        "status", result_type=InterventionStatus, rpc_timeout=timeout
    )
    return result


async def list_sequences(client: Client, state: str | None = None) -> list[dict[str, Any]]:
    """Sequences from Temporal visibility, optionally only those in one state."""
    query = "WorkflowId STARTS_WITH 'intervention-'"
    if state is not None:
        if state not in State._value2member_map_:
            choices = ", ".join(s.value for s in State)
            raise OperationError(f"state: {state!r} is not one of {choices}")
        query += f" AND InterventionState = '{state}'"
    rows = []
    async for execution in client.list_workflows(query):
        attrs = execution.typed_search_attributes
        rows.append(
            {
                "workflow_id": execution.id,
                "state": attrs.get(STATE),
                "template": attrs.get(TEMPLATE_NAME),
                "family_id": attrs.get(FAMILY_ID),
                "status": execution.status.name if execution.status else None,
                "started": execution.start_time,
            }
        )
    return rows


async def load_templates(
    store: Store, templates: list[SequenceParams]
) -> list[tuple[str, int, bool]]:
    """Store each template; an unchanged one keeps its version. Returns (name, version, new)."""
    loaded = []
    for params in templates:
        stored, created = await store.templates.save(params)
        loaded.append((stored.name, stored.version, created))
    return loaded


async def import_families(store: Store, path: Path) -> tuple[int, list[str]]:
    """Upsert families from CSV; bad rows are reported with their line numbers, good rows kept.

    The `families import` checks (time zone, contacts, channels), for the old spelling too.
    """
    report = await checked_import_families(store, path)
    return report.imported, report.problems
