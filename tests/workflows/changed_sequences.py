"""A deliberately changed HighRiskIntervention (same workflow name) for the replay test.

The SMS now goes out before the email: a history recorded by the real class cannot replay.
Kept in a module because workflows defined in test functions fail sandbox validation.
"""

from __future__ import annotations

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from contracts import Channel, InterventionResult, InterventionStart
    from workflows.intervention import Intervention


@workflow.defn(name="HighRiskIntervention")
class ReorderedHighRisk(Intervention):
    """Same name as the real class, steps in a different order."""

    @workflow.run
    async def run(self, start: InterventionStart) -> InterventionResult:
        return await self.carry_out(self.story)

    async def story(self) -> str:
        await self.send(Channel.SMS, "checkin", step="first_sms")
        await self.send(Channel.EMAIL, "concern_outreach", step="first_email")
        return "reordered"
