"""A dry run of a template: the real workflow under the time-skipping test server.

Nothing is sent and nothing is written: every activity is replaced by an in-memory stand-in
registered under the real activity name, so the workflow code (code- or data-defined) runs
unchanged and its timers are skipped. A 30-day sequence takes about a second.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from temporalio import activity
from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest
from temporalio.client import Client, WorkflowFailureError, WorkflowHandle
from temporalio.common import RawValue
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities.conditions import evaluate
from contracts import (
    CancelTaskRequest,
    CancelTaskResult,
    Channel,
    ConditionRequest,
    ConditionResult,
    Decision,
    FamilyContext,
    FamilyContextRequest,
    InterventionResult,
    InterventionStatus,
    Response,
    SendRequest,
    SendResult,
    SequenceParams,
    State,
    StepRecord,
    TaskRequest,
    TaskResult,
    channels,
)
from contracts.webhooks import WebhookRequest, WebhookResult
from contracts.windows import AnswerHours, AnswerHoursRequest
from followthrough.platform.devserver import SEARCH_ATTRIBUTES, find_binary
from followthrough.platform.send_queues import Workers, send_workers
from followthrough.triggers.holdout import held_out
from followthrough.triggers.pipeline import StartRequest, start_intervention
from workflows.sequences import SEQUENCES

_INDEXED = {
    "Keyword": IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD,
    "Int": IndexedValueType.INDEXED_VALUE_TYPE_INT,
    "Double": IndexedValueType.INDEXED_VALUE_TYPE_DOUBLE,
}


class RecordingActivities:
    """Stand-ins for every activity: they record what would have happened, and succeed."""

    def __init__(
        self,
        family: FamilyContext,
        facts: dict[str, Any],
        answer_hours: dict[int, int] | None = None,
    ) -> None:
        self.family = family
        self.facts = facts
        self.answer_hours_seen = answer_hours or {}
        self.calls: list[tuple[str, str]] = []
        self._tasks = 0

    @activity.defn(name="load_family_context")
    async def load_family_context(self, request: FamilyContextRequest) -> FamilyContext:
        """The family as read from the store before the run."""
        return self.family

    @activity.defn(name="open_task")
    async def open_task(self, request: TaskRequest) -> TaskResult:
        """Record a coordinator task instead of opening it."""
        self._tasks += 1
        self.calls.append((request.ref.step_id, f"{request.kind.value} task: {request.reason}"))
        return TaskResult(task_id=self._tasks)

    @activity.defn(name="cancel_task")
    async def cancel_task(self, request: CancelTaskRequest) -> CancelTaskResult:
        """Record the undo of a task."""
        self.calls.append((request.ref.step_id, f"cancel task {request.task_id}"))
        return CancelTaskResult(task_id=request.task_id, status="cancelled")

    @activity.defn(name="evaluate_condition")
    async def evaluate_condition(self, request: ConditionRequest) -> ConditionResult:
        """The real evaluator, on the family's current data and the run's facts."""
        value, why = evaluate(request.condition, {**self.facts, **request.facts})
        return ConditionResult(value=value, explanation=why)

    @activity.defn(name="call_webhook")
    async def call_webhook(self, request: WebhookRequest) -> WebhookResult:
        """Record a webhook call instead of making it."""
        self.calls.append((request.ref.step_id, f"{request.method} {request.url}"))
        return WebhookResult(status_code=200)

    @activity.defn(name="next_send_slot")
    async def next_send_slot(self, request: dict[str, Any]) -> dict[str, Any]:
        """Frequency caps: in a dry run every channel is free at once."""
        return {"at": None, "sent_in_window": 0}

    @activity.defn(name="answer_hours")
    async def answer_hours(self, request: AnswerHoursRequest) -> AnswerHours:
        """Best-hour placement: the family's real answer history, read before the run."""
        return AnswerHours(hours=self.answer_hours_seen)

    @activity.defn(dynamic=True)
    async def record_anything(self, args: Sequence[RawValue]) -> None:
        """Every other activity (audit rows and the like): nothing to do in a dry run."""
        self.calls.append(("-", activity.info().activity_type))

    def all(self) -> list[Any]:
        """Every stand-in, for the worker."""
        return [
            self.record_anything,
            self.answer_hours,
            self.next_send_slot,
            self.load_family_context,
            *self.sends(),
            self.open_task,
            self.cancel_task,
            self.evaluate_condition,
            self.call_webhook,
        ]

    def sends(self) -> list[Any]:
        """A stand-in for the send activity of every message channel of the registry."""
        return list(self.by_channel().values())

    def by_channel(self) -> dict[Channel, Any]:
        """Each message channel's stand-in send, for the worker of its send queue."""

        def stand_in(name: str) -> Any:
            async def send(request: SendRequest) -> SendResult:
                return self._sent(request)

            return activity.defn(name=name)(send)

        return {e.channel: stand_in(e.activity or "") for e in channels.message_channels()}

    def _sent(self, request: SendRequest) -> SendResult:
        self.calls.append(
            (request.ref.step_id, f"{request.channel.value} '{request.template_name}'")
        )
        return SendResult(message_id=f"sim-{len(self.calls)}", provider="simulation")


@dataclass
class Simulation:
    """What a dry run found: the steps with their times, the outcome and the wall time."""

    params: SequenceParams
    family: FamilyContext
    started: datetime
    result: InterventionResult
    calls: list[tuple[str, str]]
    seconds: float
    events: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        """The timeline as a person reads it: local and UTC time, and why a step moved."""
        zone = ZoneInfo(self.family.timezone)
        out = [
            f"{self.params.name} v{self.params.version} for family {self.family.family_id} "
            f"({self.family.timezone}), starting {_local(self.started, zone)}"
        ]
        out += [f"  {event}" for event in self.events]
        for step in self.result.steps:
            out.append(self._line(step, zone))
        elapsed = self._span()
        out.append(
            f"outcome: {self.result.state.value} - {self.result.outcome} "
            f"(simulated {_span(elapsed)} in {self.seconds:.1f}s)"
        )
        return out

    def _line(self, step: StepRecord, zone: ZoneInfo) -> str:
        at = step.started_at or step.finished_at or step.due_at
        when = "-" if at is None else f"{_local(at, zone)} ({at:%Y-%m-%d %H:%M} UTC)"
        offset = "" if at is None else f"+{_span(at - self.started)}"
        line = f"  {offset:>10}  {when:<48} {step.step_id:<24} {step.kind:<10}"
        line += f" {step.status.value:<11} {step.result or ''}"
        if step.due_reason:
            line += f"  [moved: {step.due_reason}]"
        if step.error:
            line += f"  error: {step.error}"
        return line.rstrip()

    def _span(self) -> timedelta:
        ends = [e for s in self.result.steps if (e := s.finished_at or s.started_at)]
        return (max(ends) - self.started) if ends else timedelta(0)


async def simulate(
    params: SequenceParams,
    family: FamilyContext,
    facts: dict[str, Any] | None = None,
    *,
    respond_after: timedelta | None = None,
    respond_on: Channel = Channel.EMAIL,
    decision: str = "approve",
    answer_hours: dict[int, int] | None = None,
    on_phase: Callable[[str], None] | None = None,
) -> Simulation:
    """Run `params` for `family` under time skipping; `decision` is approve, reject or none.

    `answer_hours` is the family's answer history for best-hour placement (local hour → count).
    The start goes through the start pipeline as a dry run: alone on its own server, with no
    store, so only the rules about the template and the family (consent) apply; a refusal is
    raised (`TriggerError`). `on_phase` hears each phase as it begins (for a progress line).
    """
    say = on_phase or (lambda _: None)
    say("starting a time-skipping server")
    env = await WorkflowEnvironment.start_time_skipping(
        data_converter=pydantic_data_converter,
        test_server_existing_path=find_binary("temporal-test-server"),
    )
    async with env:
        await _register_search_attributes(env.client)
        recorder = RecordingActivities(family, facts or {}, answer_hours)
        queue = f"simulate-{uuid.uuid4()}"
        clock = time.monotonic()
        main = Worker(env.client, task_queue=queue, workflows=SEQUENCES, activities=recorder.all())
        async with Workers(main, send_workers(env.client, queue, recorder.by_channel(), {})):
            started = await env.get_current_time()
            request = StartRequest(
                params, family.family_id, "simulation", family=family, dry_run=True
            )
            outcome = await start_intervention(env.client, request, task_queue=queue)
            outcome.raise_refusal()
            assert outcome.handle is not None, outcome.message
            say(f"running {params.name} v{params.version} for {family.family_id}, time skipped")
            result, events = await _play(
                env, outcome.handle, params, decision, respond_after, respond_on
            )
        if held_out(params, family.family_id):
            # A dry run is never held out; say what a real start would do instead.
            events.insert(
                0,
                f"held out: family {family.family_id} is in the {params.holdout_percent}% "
                "holdout, so a real start gives it no sequence; below is what it would get",
            )
        return Simulation(
            params=params,
            family=family,
            started=started,
            result=result,
            calls=recorder.calls,
            seconds=time.monotonic() - clock,
            events=events,
        )


async def _play(
    env: WorkflowEnvironment,
    handle: WorkflowHandle[Any, Any],
    params: SequenceParams,
    decision: str,
    respond_after: timedelta | None,
    respond_on: Channel,
) -> tuple[InterventionResult, list[str]]:
    """Play the people's part (the approval, the family's reply) and wait for the result."""
    events = []
    if decision != "none":
        role = params.approver_roles[0]
        await handle.signal(decision, Decision(approver="simulation", role=role))
        events.append(f"a {role} will {decision} at the first approval gate")
    if respond_after is not None:
        await env.sleep(respond_after)
        try:
            await handle.signal("record_response", Response(channel=respond_on))
            events.append(f"the family replies by {respond_on.value} at +{_span(respond_after)}")
        except RPCError:
            events.append(f"the sequence had ended before +{_span(respond_after)}")
    try:
        result: InterventionResult = await handle.result()
    except WorkflowFailureError as err:
        status = await handle.query("status", result_type=InterventionStatus)
        cause: BaseException | None = err.cause
        while cause is not None and cause.__cause__ is not None:
            cause = cause.__cause__
        result = InterventionResult(
            state=State.FAILED, outcome=f"failed: {cause}", steps=status.steps
        )
    return result, events


async def _register_search_attributes(client: Client) -> None:
    await client.operator_service.add_search_attributes(
        AddSearchAttributesRequest(
            namespace=client.namespace,
            search_attributes={name: _INDEXED[kind] for name, kind in SEARCH_ATTRIBUTES.items()},
        )
    )


def _local(at: datetime, zone: ZoneInfo) -> str:
    return at.astimezone(zone).strftime("%a %Y-%m-%d %H:%M %Z")


def _span(delta: timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    days, rest = divmod(minutes, 24 * 60)
    return f"{days}d {rest // 60:02d}:{rest % 60:02d}"
