"""The intervention sequences, one short class each, told with the shared building blocks.

Delays, messages, retries and escalation come from the template's parameters (data that
operators tune without a deploy); the order of things is the code below.
"""

from __future__ import annotations

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from contracts import Channel, Condition, InterventionResult, InterventionStart, TaskKind
    from workflows.intervention import Intervention
    from workflows.payment_and_onboarding import OnboardingSequence, PaymentReminder
    from workflows.scheduled import ScheduledTrigger
    from workflows.template import TemplateIntervention

RESPONDED = Condition(field="response_received", op="==", value=True)


@workflow.defn
class HighRiskIntervention(Intervention):
    """High withdrawal risk: email; up to 3 days for a reply; SMS; 2 days later an approved
    call."""

    call_reason = "High withdrawal risk: no reply to email or SMS"

    @workflow.run
    async def run(self, start: InterventionStart) -> InterventionResult:
        return await self.carry_out(self.story)

    async def story(self) -> str:
        await self.send(Channel.EMAIL, "concern_outreach", step="first_email", fallback=Channel.SMS)
        await self.wait_for_response(self.params.delay("wait_for_reply"))
        if await self.check(RESPONDED, step="answered", summary="Did the family reply?"):
            return "responded to outreach"
        await self.send(Channel.SMS, "checkin", step="first_sms")
        task = await self.open_task(
            TaskKind.CALL,
            step="call",
            reason=self.call_reason,
            delay=self.params.delay("call_after"),
            approval=True,
            compensate=True,
        )
        return "call scheduled" if task is not None else "call not approved"


@workflow.defn
class MediumRiskIntervention(Intervention):
    """Lighter: one email, a week for a reply, then a friendly SMS. No call, no approval."""

    @workflow.run
    async def run(self, start: InterventionStart) -> InterventionResult:
        return await self.carry_out(self.story)

    async def story(self) -> str:
        await self.send(Channel.EMAIL, "gentle_checkin", step="first_email", fallback=Channel.SMS)
        await self.wait_for_response(self.params.delay("wait_for_reply"))
        if await self.check(RESPONDED, step="answered", summary="Did the family reply?"):
            return "responded to check-in"
        await self.send(Channel.SMS, "nudge", step="nudge_sms")
        return "check-in sent"


@workflow.defn
class DemoQuickIntervention(HighRiskIntervention):
    """The high-risk story with waits of seconds, to watch a sequence reach its approval gate.

    Same steps as `HighRiskIntervention` (its template sets the short delays); a workflow
    type of its own so the demo's sequences are easy to tell apart in the Web UI.
    """

    call_reason = "Demo: no reply to email or SMS"

    @workflow.run
    async def run(self, start: InterventionStart) -> InterventionResult:
        return await self.carry_out(self.story)


# The data-defined interpreter runs every template that has `steps`.
SEQUENCES: list[type] = [
    HighRiskIntervention,
    MediumRiskIntervention,
    DemoQuickIntervention,
    PaymentReminder,
    OnboardingSequence,
    TemplateIntervention,
    # Not a sequence: what a schedule template's Temporal Schedule starts.
    ScheduledTrigger,
]
