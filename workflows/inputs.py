"""What people send a running sequence: replies, decisions, events, cancels; and what they ask.

Signals work from scripts and `temporal workflow signal` with JSON input; the `decide` update
gives the caller an answer at once; the `status` query reads everything a person needs.

Every signal takes its input as it arrives (a raw payload) and checks it here against its
contract: a malformed one is refused with one line (`rejected approve from sarah: role is
required`) in the status and the audit trail, and whatever waited goes on waiting. The SDK
would otherwise drop it with only a worker log line, and the sender would never know.
"""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel
from temporalio import workflow
from temporalio.api.common.v1 import Payload
from temporalio.common import RawValue
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from contracts import (
        Bounce,
        CancelRequest,
        DecideRequest,
        Decision,
        DecisionReceipt,
        EscalationAnswer,
        Event,
        InterventionStatus,
        PendingApproval,
        ReceivedResponse,
        RejectedSignal,
        Response,
        StepOutcome,
        StepStatus,
        check_signal,
        sender_of,
    )
    from contracts.bounds import KEPT

from workflows.changes import GATES, REJECTIONS
from workflows.one_input import SeveralInputs
from workflows.waiting import Waiting

M = TypeVar("M", bound=BaseModel)

# What a handler gets when the signal came without input (`temporal workflow signal` with no
# `--input`): an empty payload, refused like any other wrong input.
NO_INPUT = RawValue(Payload())
REJECTIONS_KEPT = 20  # the newest refusals in the status; `signals_rejected` counts them all
SIGNAL_KIND = "signal"  # the audit rows of refused signals
FINISHED = (StepStatus.DONE, StepStatus.SKIPPED, StepStatus.FAILED, StepStatus.COMPENSATED)


class HumanInputs(Waiting):
    """Signals, the `decide` update and the `status` query of every sequence."""

    # ----------------------------------------------------------------- signals and query

    @workflow.signal
    def record_response(self, payload: RawValue = NO_INPUT) -> None:
        """The family answered; a wait for a reply wakes up at once."""
        response = self.accept("record_response", Response, payload)
        if response is not None:
            self.progress.keep(
                "responses",
                ReceivedResponse(channel=response.channel, note=response.note, at=workflow.now()),
            )

    @workflow.signal
    def record_bounce(self, payload: RawValue = NO_INPUT) -> None:
        """A sent message bounced: the step's fallback goes out at the sequence's next wait."""
        bounce = self.accept("record_bounce", Bounce, payload)
        if bounce is None:
            return
        bounces = self.progress.bounces
        if bounce.step_id not in bounces and len(bounces) >= KEPT["bounces"]:
            self.progress.let_go("bounces", 1)  # the first ones are the ones acted on
            return
        bounces.setdefault(bounce.step_id, bounce)

    @workflow.signal
    def approve(self, payload: RawValue = NO_INPUT) -> None:
        """Approve the pending (or the next, or the named) approval gate."""
        decision = self.accept("approve", Decision, payload)
        if decision is not None:
            self.take_decision("approve", decision)

    @workflow.signal
    def reject(self, payload: RawValue = NO_INPUT) -> None:
        """Reject the pending (or the next, or the named) gate; the gated step is skipped."""
        decision = self.accept("reject", Decision, payload)
        if decision is not None:
            self.take_decision("reject", decision)

    @workflow.update
    def decide(self, request: DecideRequest) -> DecisionReceipt:
        """Approve or reject the pending gate, with an answer for the caller at once.

        The validator refuses before anything is written to history, so a refused decision
        leaves no trace in the workflow and the caller learns why straight away.
        """
        pending = self.progress.pending_approval
        assert pending is not None  # the validator guarantees it
        self.take_decision(request.verdict.value, request.decision)
        return DecisionReceipt(
            verdict=request.verdict,
            step_id=pending.step_id,
            approver=request.decision.approver,
        )

    @decide.validator
    def _validate_decide(self, request: DecideRequest) -> None:
        pending = self.progress.pending_approval
        if pending is None:
            raise ApplicationError(
                f"state: the sequence is {self.progress.state.value}, not awaiting approval",
                type="DecisionRefused",
            )
        refusal = gate_refusal(request.decision, pending)
        if refusal is not None:
            raise ApplicationError(refusal, type="DecisionRefused")
        if self.has_answer(pending):
            # A decision is already queued for this gate; a second one would be lost.
            raise ApplicationError(
                "state: this approval has already been decided", type="DecisionRefused"
            )

    @workflow.signal
    def record_event(self, payload: RawValue = NO_INPUT) -> None:
        """Something happened outside (an event trigger); a wait `until` it wakes up."""
        event = self.accept("record_event", Event, payload)
        if event is not None:
            self.progress.keep("events", event)

    @workflow.signal
    def cancel(self, payload: RawValue = NO_INPUT) -> None:
        """Call the sequence off: compensations run, then it ends `cancelled`."""
        request = self.accept("cancel", CancelRequest, payload)
        if request is not None and self.progress.cancel_request is None:
            self.progress.cancel_request = request

    @workflow.signal
    def resume(self, payload: RawValue = NO_INPUT) -> None:
        """After an escalation: try the failed step again."""
        answer = self.accept("resume", EscalationAnswer, payload)
        if answer is not None:
            self.progress.escalation_answer = ("resume", answer)

    @workflow.signal
    def skip(self, payload: RawValue = NO_INPUT) -> None:
        """After an escalation: leave the failed step and go on."""
        answer = self.accept("skip", EscalationAnswer, payload)
        if answer is not None:
            self.progress.escalation_answer = ("skip", answer)

    @workflow.query
    def status(self) -> InterventionStatus:
        """State, current step, next action time, every step so far, responses, approvals."""
        return self.progress

    # ----------------------------------------------------------------- checking inputs

    def accept(self, signal: str, model: type[M], payload: RawValue | SeveralInputs) -> M | None:
        """The signal's input as its contract, or None once its refusal is recorded."""
        if isinstance(payload, SeveralInputs):
            sent = len(payload.values)
            sender = next(filter(None, map(sender_of, payload.values)), None)
            self.reject_signal(signal, sender, f"input: one JSON object expected, {sent} were sent")
            return None
        value: Any = None
        try:
            if payload.payload.metadata:
                value = workflow.payload_converter().from_payload(payload.payload)
        except Exception:  # not JSON at all: refused below like any other wrong input
            self.reject_signal(signal, None, "input: is not JSON")
            return None
        found, why = check_signal(model, value)
        if found is None:
            self.reject_signal(signal, sender_of(value), why or "input: not accepted")
        return found

    def reject_signal(self, signal: str, sender: str | None, reason: str) -> None:
        """Keep a refused signal in the status (the newest few) and the audit trail."""
        progress = self.progress
        rejected = RejectedSignal(signal=signal, sender=sender, reason=reason, at=workflow.now())
        progress.signals_rejected += 1
        progress.rejected_signals = [*progress.rejected_signals, rejected][-REJECTIONS_KEPT:]
        line = rejected.describe()
        workflow.logger.warning("%s", line)
        if self.changed(REJECTIONS):
            progress.carried_audits.append(
                StepOutcome(
                    ref=self.ref(f"rejected_signal_{progress.signals_rejected}"),
                    family_id=self.start.family_id,
                    kind=SIGNAL_KIND,
                    outcome=line,
                    error_type="SignalRejected",
                )
            )

    def audit_due(self) -> bool:
        """A refused signal waits to be written to the audit trail."""
        return any(row.kind == SIGNAL_KIND for row in self.progress.carried_audits)

    # ----------------------------------------------------------------- decisions

    def take_decision(self, verdict: str, decision: Decision) -> None:
        """Queue a decision for the gate it answers, or refuse it (in the log and status).

        At a pending gate it is checked against that gate's roles at once. One that comes
        early waits for its gate (the named one, else the next) and is checked there."""
        entry = {"verdict": verdict, **decision.model_dump(), "at": workflow.now().isoformat()}
        pending = self.progress.pending_approval
        refusal = self.decision_refusal(decision, pending)
        if refusal is not None:
            entry["refused"] = refusal
            self.progress.keep("decisions", entry)
            self.reject_signal(verdict, decision.approver, refusal)
            return
        if pending is not None and decision.gate is None:
            decision = decision.model_copy(update={"gate": pending.step_id})
        if pending is not None and decision.gate == pending.step_id:
            entry["outcome"] = f"answers gate {pending.step_id!r}"
        elif decision.gate is not None:
            entry["outcome"] = f"kept for gate {decision.gate!r}"
        else:
            entry["outcome"] = "kept for the next gate"
        self.progress.keep("decisions", entry)
        self.progress.keep("queued_decisions", (verdict, decision))

    def decision_refusal(self, decision: Decision, pending: PendingApproval | None) -> str | None:
        """Why a decision may not be queued, or None."""
        template_refusal = None  # what older code checked: the template's roles only
        if decision.role not in self.params.approver_roles:
            allowed = ", ".join(self.params.approver_roles)
            template_refusal = (
                f"role: {decision.role!r} may not decide on {self.params.name} (allowed: {allowed})"
            )
        if pending is None or decision.gate not in (None, pending.step_id):
            return template_refusal or self.passed_gate(decision.gate)
        refusal = gate_refusal(decision, pending)
        if (refusal is None) == (template_refusal is None):
            return refusal
        return refusal if self.changed(GATES) else template_refusal

    def passed_gate(self, gate: str | None) -> str | None:
        """A refusal when `gate` names a gate this run has already passed."""
        record = None if gate is None else self.find_step(gate)
        if record is not None and record.status in FINISHED:
            return f"gate: {gate!r} has already been decided"
        return None

    def refuse_early(self, gate: PendingApproval) -> None:
        """At a gate that opens: refuse the decisions queued for it from roles it does not
        allow, rather than keep them for a later, different gate."""
        queued = self.progress.queued_decisions
        for verdict, decision in list(queued):
            if decision.gate in (None, gate.step_id) and decision.role not in gate.roles:
                if not self.changed(GATES):
                    return  # older code kept it for a later gate
                queued.remove((verdict, decision))
                refusal = gate_refusal(decision, gate) or "not for this gate"
                self.reject_signal(verdict, decision.approver, refusal)

    def answer_for(self, gate: PendingApproval) -> str | None:
        """Take the first queued decision that answers `gate`: its verdict, or None."""
        queued = self.progress.queued_decisions
        for index, (verdict, decision) in enumerate(queued):
            if decision.gate in (None, gate.step_id) and decision.role in gate.roles:
                del queued[index]
                return verdict
        return None

    def has_answer(self, gate: PendingApproval) -> bool:
        """Whether a queued decision answers `gate`."""
        return any(
            d.gate in (None, gate.step_id) and d.role in gate.roles
            for _, d in self.progress.queued_decisions
        )


def gate_refusal(decision: Decision, gate: PendingApproval) -> str | None:
    """Why a decision cannot answer the pending `gate`, or None when it can."""
    if decision.gate is not None and decision.gate != gate.step_id:
        return f"gate: {decision.gate!r} is not the pending gate ({gate.step_id!r})"
    if decision.role not in gate.roles:
        allowed = ", ".join(gate.roles)
        return (
            f"role: {decision.role!r} may not decide on gate {gate.step_id!r} (allowed: {allowed})"
        )
    return None
