"""What people send a running sequence: replies, decisions, events, cancels; and what they ask.

Signals work from scripts and `temporal workflow signal` with JSON input; the `decide` update
gives the caller an answer at once; the `status` query reads everything a person needs.
"""

from __future__ import annotations

from temporalio import workflow
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
        ReceivedResponse,
        Response,
    )
    from contracts.bounds import KEPT

from workflows.waiting import Waiting


class HumanInputs(Waiting):
    """Signals, the `decide` update and the `status` query of every sequence."""

    # ----------------------------------------------------------------- signals and query

    @workflow.signal
    def record_response(self, response: Response) -> None:
        """The family answered; a wait for a reply wakes up at once."""
        self.progress.keep(
            "responses",
            ReceivedResponse(channel=response.channel, note=response.note, at=workflow.now()),
        )

    @workflow.signal
    def record_bounce(self, bounce: Bounce) -> None:
        """A sent message bounced: the step's fallback goes out at the sequence's next wait."""
        bounces = self.progress.bounces
        if bounce.step_id not in bounces and len(bounces) >= KEPT["bounces"]:
            self.progress.let_go("bounces", 1)  # the first ones are the ones acted on
            return
        bounces.setdefault(bounce.step_id, bounce)

    @workflow.signal
    def approve(self, decision: Decision) -> None:
        """Approve the next (or the pending) approval gate; kept if it arrives early."""
        self.take_decision("approve", decision)

    @workflow.signal
    def reject(self, decision: Decision) -> None:
        """Reject the next (or the pending) approval gate; the gated step is skipped."""
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
        role = request.decision.role
        if role not in self.params.approver_roles:
            allowed = ", ".join(self.params.approver_roles)
            raise ApplicationError(
                f"role: {role!r} may not decide on {self.params.name} (allowed: {allowed})",
                type="DecisionRefused",
            )
        if self.progress.pending_approval is None:
            raise ApplicationError(
                f"state: the sequence is {self.progress.state.value}, not awaiting approval",
                type="DecisionRefused",
            )
        if self.progress.queued_decisions:
            # A decision is already queued for this gate; a second one would be lost.
            raise ApplicationError(
                "state: this approval has already been decided", type="DecisionRefused"
            )

    @workflow.signal
    def record_event(self, event: Event) -> None:
        """Something happened outside (an event trigger); a wait `until` it wakes up."""
        self.progress.keep("events", event)

    @workflow.signal
    def cancel(self, request: CancelRequest) -> None:
        """Call the sequence off: compensations run, then it ends `cancelled`."""
        if self.progress.cancel_request is None:
            self.progress.cancel_request = request

    @workflow.signal
    def resume(self, answer: EscalationAnswer) -> None:
        """After an escalation: try the failed step again."""
        self.progress.escalation_answer = ("resume", answer)

    @workflow.signal
    def skip(self, answer: EscalationAnswer) -> None:
        """After an escalation: leave the failed step and go on."""
        self.progress.escalation_answer = ("skip", answer)

    @workflow.query
    def status(self) -> InterventionStatus:
        """State, current step, next action time, every step so far, responses, approvals."""
        return self.progress

    def take_decision(self, verdict: str, decision: Decision) -> None:
        """Queue a decision for the next gate, or log its refusal."""
        entry = {"verdict": verdict, **decision.model_dump(), "at": workflow.now().isoformat()}
        if decision.role not in self.params.approver_roles:
            # Refused, not queued: a decision from a role the template does not allow
            # must never open a gate. It stays in the log so the refusal is auditable.
            entry["refused"] = f"role {decision.role!r} may not decide"
            self.progress.keep("decisions", entry)
            workflow.logger.warning("Refused %s from role %s", verdict, decision.role)
            return
        self.progress.keep("decisions", entry)
        self.progress.keep("queued_decisions", (verdict, decision))
