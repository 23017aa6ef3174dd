"""Two code-defined sequences an outside event can end: payment reminder and onboarding.

Both are short stories on the shared building blocks. What makes them different from the
risk sequences is that an outside event can end them at any point: a payment ends a payment
reminder, a withdrawal ends onboarding. The template names those events in `stop_when`;
`StopsOnEvent` makes every durable wait of the blocks (due times, replies, approval gates,
frequency caps) wake the moment one of them arrives through the `record_event` signal.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from contracts import (
        Channel,
        InterventionResult,
        InterventionStart,
        State,
        StepStatus,
        TaskKind,
    )
    from workflows.intervention import Intervention, describe


class EventArrived(Exception):
    """Raised inside the story when one of the template's `stop_when` events arrives."""

    def __init__(self, event: str) -> None:
        super().__init__(event)
        self.event = event


class StopsOnEvent(Intervention):
    """An intervention that ends the moment a `stop_when` event (or reply) arrives.

    What it opened is undone (a call task nobody needs any more is cancelled) and the
    sequence completes with the outcome `stopped: <event>`; it is not a cancellation.
    """

    def check_cancelled(self) -> None:
        """Also ends the story once a `stop_when` event has arrived: every block asks this
        before it acts and after every wait."""
        super().check_cancelled()
        event = self.stop_event()
        if event is not None:
            raise EventArrived(event)

    async def wait(self, until: Callable[[], bool], timeout: timedelta, summary: str) -> bool:
        """Also wakes when a `stop_when` event arrives."""
        return await super().wait(
            lambda: until() or self.stop_event() is not None, timeout, summary
        )

    async def tell(self, story: Callable[[], Awaitable[str]]) -> str:
        """Run `story` until it ends or a stop event arrives; undo what it opened if so."""
        try:
            return await story()
        except EventArrived as arrived:
            await self.compensate()
            return f"stopped: {arrived.event}"

    async def hold(
        self,
        duration: timedelta,
        *,
        step: str,
        waiting_for: str,
        until: Callable[[], bool] = lambda: False,
    ) -> bool:
        """A visible wait step: up to `duration`, ended early by `until()` (returns True)
        or by a stop event (raises `EventArrived`)."""
        self.check_cancelled()
        summary = f"Wait up to {describe(duration)} for {waiting_for}"
        record = self.step(step, "wait", summary)
        record.status = StepStatus.RUNNING
        record.started_at = workflow.now()
        self.progress.next_action_at = workflow.now() + duration
        self.set_state(State.SCHEDULED)
        try:
            happened = await self.wait(until, duration, summary)
        except EventArrived as arrived:
            self.finish_step(record, StepStatus.DONE, f"'{arrived.event}' received")
            raise
        finally:
            self.progress.next_action_at = None
        self.finish_step(
            record, StepStatus.DONE, f"{waiting_for}: yes" if happened else "time passed"
        )
        return happened


@workflow.defn
class PaymentReminder(StopsOnEvent):
    """An overdue balance, escalating: friendly email, firmer SMS, a coordinator call,
    then a payment-plan offer a person approves. A payment event ends it at once."""

    @workflow.run
    async def run(self, start: InterventionStart) -> InterventionResult:
        return await self.carry_out(lambda: self.tell(self.story))

    async def story(self) -> str:
        delay = self.params.delay
        await self.send(
            Channel.EMAIL, "friendly_reminder", step="friendly_email", fallback=Channel.SMS
        )
        await self.hold(delay("wait_after_email"), step="wait_after_email", waiting_for="payment")
        await self.send(Channel.SMS, "firm_reminder", step="firm_sms")
        await self.hold(delay("wait_after_sms"), step="wait_after_sms", waiting_for="payment")
        # Compensated: if the payment arrives before anyone calls, the call is cancelled.
        await self.open_task(
            TaskKind.CALL,
            step="call",
            reason="Overdue balance: no payment after a reminder email and SMS",
            compensate=True,
        )
        await self.hold(delay("wait_after_call"), step="wait_after_call", waiting_for="payment")
        record = self.step("payment_plan_approval", "approval", "Approval: offer a payment plan")
        answer = await self.approval_gate(
            "payment_plan_approval", "Still unpaid after the call: offer a payment plan?"
        )
        self.finish_step(record, StepStatus.DONE, answer.value)
        if not answer.passed:
            return "payment plan not approved"
        await self.send(
            Channel.EMAIL, "payment_plan_offer", step="payment_plan", fallback=Channel.SMS
        )
        return "payment plan offered"


@workflow.defn
class OnboardingSequence(StopsOnEvent):
    """A new family's first four weeks in eight steps, each at its day from enrolment:
    welcome, orientation, first check-in, welcome call, week-two tips, feedback survey,
    a survey reminder (only without a reply), and the coordinator's one-month review."""

    @workflow.run
    async def run(self, start: InterventionStart) -> InterventionResult:
        return await self.carry_out(lambda: self.tell(self.story))

    def day(self, key: str) -> timedelta:
        """The wait until the step's offset from enrolment (`delays` hold offsets, not gaps),
        so a step moved out of quiet hours does not push every later step."""
        enrolled_at = self.progress.began_at
        assert enrolled_at is not None
        return max(timedelta(0), enrolled_at + self.params.delay(key) - workflow.now())

    async def story(self) -> str:
        self.progress.began_at = workflow.now()
        day = self.day
        email, sms = Channel.EMAIL, Channel.SMS
        await self.send(email, "welcome", step="welcome", fallback=sms)
        await self.send(
            email, "orientation", step="orientation", delay=day("orientation"), fallback=sms
        )
        await self.send(sms, "first_checkin", step="first_checkin", delay=day("first_checkin"))
        await self.open_task(
            TaskKind.CALL,
            step="welcome_call",
            reason="New family: a welcome call at the end of the first week",
            delay=day("welcome_call"),
            compensate=True,
        )
        await self.send(email, "week_two_tips", step="week_two_tips", delay=day("week_two_tips"))
        await self.send(
            email,
            "feedback_survey",
            step="feedback_survey",
            delay=day("feedback_survey"),
            fallback=sms,
        )
        survey_sent = workflow.now()
        answered = await self.hold(
            day("survey_reminder"),
            step="survey_wait",
            waiting_for="a reply to the survey",
            until=lambda: any(r.at >= survey_sent for r in self.progress.responses),
        )
        if answered:
            reminder = self.step("survey_reminder", "sms", "Send sms 'survey_reminder'")
            self.finish_step(reminder, StepStatus.SKIPPED, "the family answered the survey")
        else:
            await self.send(sms, "survey_reminder", step="survey_reminder")
        await self.open_task(
            TaskKind.TASK,
            step="one_month_review",
            reason="Onboarding: review the family's first month",
            delay=day("one_month_review"),
        )
        return "onboarding complete"
