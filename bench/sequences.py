"""The benchmark's sequence, told with the real building blocks, and its parameters.

Four steps: email, a wait for a reply, SMS, a call task for a coordinator. The wait comes from
the parameters, so one class serves throughput (1 s), reaction latency and scale (days).
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from contracts import (
        Channel,
        InterventionResult,
        InterventionStart,
        MessageTemplate,
        PredictionRule,
        SequenceParams,
        TaskKind,
        TriggerSpec,
    )
    from workflows.intervention import Intervention

BENCH_TEMPLATE = "bench_sequence"


@workflow.defn
class BenchIntervention(Intervention):
    """Email; wait for a reply (or the timeout); SMS; a call task for a coordinator."""

    @workflow.run
    async def run(self, start: InterventionStart) -> InterventionResult:
        return await self.carry_out(self.story)

    async def story(self) -> str:
        await self.send(Channel.EMAIL, "outreach", step="email")
        await self.wait_for_response(self.params.delay("wait_for_reply"))
        await self.send(Channel.SMS, "checkin", step="sms")
        await self.open_task(TaskKind.CALL, step="call", reason="No reply to email")
        return "call task opened"


@workflow.defn
class BenchApproval(Intervention):
    """Email; an approval gate; SMS once approved: the approve → next action path."""

    @workflow.run
    async def run(self, start: InterventionStart) -> InterventionResult:
        return await self.carry_out(self.story)

    async def story(self) -> str:
        await self.send(Channel.EMAIL, "outreach", step="email")
        if not (await self.approval_gate("sms", "Send the check-in")).passed:
            return "not approved"
        await self.send(Channel.SMS, "checkin", step="sms")
        return "approved, SMS sent"


def bench_params(wait: timedelta) -> SequenceParams:
    """Urgent, no quiet hours: the clock of the run, not the family's evening, sets the pace."""
    return SequenceParams(
        name=BENCH_TEMPLATE,
        workflow="BenchIntervention",
        urgent=True,
        quiet_hours=None,
        priority=9,
        trigger=TriggerSpec(
            type="prediction", when=PredictionRule(probability_gt=0.5, confidence_gt=50)
        ),
        delays={"wait_for_reply": wait},
        messages={
            "outreach": MessageTemplate(subject="Hello {{ family_name }}", body="Hi, checking in."),
            "checkin": MessageTemplate(body="Hi {{ family_name }}, can we chat this week?"),
        },
    )


def bench_approval_params() -> SequenceParams:
    """`BenchApproval` with the bench's messages; the gate waits the default 2 days."""
    return bench_params(timedelta(days=7)).model_copy(
        update={"name": "bench_approval", "workflow": "BenchApproval"}
    )


def bench_template_params(wait: timedelta) -> SequenceParams | None:
    """The same four steps as data, run by `TemplateIntervention`; None where it is absent."""
    try:
        from workflows.template import TemplateIntervention  # noqa: F401
    except ImportError:
        return None
    base = bench_params(wait).model_dump(exclude={"workflow", "delays", "steps", "name"})
    return SequenceParams.model_validate(
        {
            **base,
            "name": "bench_template",
            "steps": [
                {"id": "email", "type": "email", "template": "outreach"},
                {
                    "id": "wait_reply",
                    "type": "wait",
                    "duration": f"{int(wait.total_seconds())}s",
                    "until": "response_received",
                },
                {"id": "sms", "type": "sms", "template": "checkin"},
                {"id": "call", "type": "call", "reason": "No reply to email"},
            ],
        }
    )


def template_workflows() -> list[type]:
    try:
        from workflows.template import TemplateIntervention
    except ImportError:
        return []
    return [TemplateIntervention]
