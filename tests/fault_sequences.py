"""A sequence used only by the fault tests: a compensable call task with a wait after it,
so a cancel can arrive while the task is open."""

from __future__ import annotations

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from contracts import InterventionResult, InterventionStart, TaskKind
    from workflows.intervention import Intervention


@workflow.defn
class CallThenWaitIntervention(Intervention):
    """Open a call task (undone on cancel), then wait for a reply."""

    @workflow.run
    async def run(self, start: InterventionStart) -> InterventionResult:
        return await self.carry_out(self.story)

    async def story(self) -> str:
        await self.open_task(TaskKind.CALL, step="call", reason="Please call", compensate=True)
        await self.wait_for_response(self.params.delay("wait_for_reply"))
        return "replied" if self.responded else "no reply"
