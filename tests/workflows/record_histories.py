"""Record the histories the replay tests guard: `python -m tests.workflows.record_histories
[SHAPE ...]` (every shape when none is named).

Runs each sequence shape under the time-skipping server with the real activities, started as
the triggers start them, and saves `history.to_json()` under `histories/<folder>/<shape>.json`
(one file per run, `<shape>_run<n>.json`, for a sequence that continues as new).

Record a shape again only on purpose: after a change to a sequence's commands that went in
behind `self.changed(<id>)` (`workflows/changes.py`), record the new path under a new shape
name and keep the old file, so that the replay tests cover both. The triggers start every run
with the change level of the code that records it (`changes` below).
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Any

import httpx
from temporalio.client import WorkflowHandle, WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from activities.breaker import BreakerPolicy
from contracts import (
    Bounce,
    CancelRequest,
    Channel,
    Decision,
    EscalationAnswer,
    Event,
    FamilyContext,
    InterventionResult,
    InterventionStatus,
    Response,
    SequenceParams,
    State,
    StepRef,
    TemplateStart,
    Undo,
    workflow_id_for,
)
from contracts.bounds import UNDOS_MAX
from followthrough.platform.devserver import find_binary
from followthrough.platform.settings import Settings
from followthrough.templates import builtin_templates
from followthrough.triggers.start import start_sequence
from store import Store, migrate
from store.families import context_of
from tests.conftest import FAMILIES, register_search_attributes
from tests.fake_provider import FakeProvider
from worker import build_worker

HISTORIES = Path(__file__).parent / "histories"
LOCAL_STEPS = "store-steps-as-local-activities"
Handle = WorkflowHandle[Any, Any]
Act = Callable[[WorkflowEnvironment, Handle], Awaitable[None]]

# A data template that loops: each pass through `remind` is a new run (continue-as-new).
LOOP: dict[str, Any] = {
    "name": "weekly_reminder",
    "quiet_hours": None,
    "caps": {},
    "steps": [
        {"id": "open_call", "type": "call", "reason": "Follow up by phone", "compensate": True},
        {"id": "remind", "type": "sms", "message": "Hi {{ first_name }}, a reminder."},
        {"id": "pause", "type": "wait", "duration": "7d", "until": "response_received"},
        {
            "id": "answered",
            "type": "condition",
            "if": {"field": "response_received", "op": "==", "value": True},
            "then": "sign_off",
            "else": "remind",
        },
        {"id": "sign_off", "type": "approval", "roles": ["coordinator"], "timeout": "1d"},
        {"id": "thanks", "type": "email", "message": "Thank you, {{ first_name }}."},
    ],
}
# A call that is undone if the sequence is called off, then a thank-you.
CALL_THEN_THANKS: dict[str, Any] = {
    "name": "call_then_thanks",
    "quiet_hours": None,
    "caps": {},
    "steps": [
        {"id": "open_call", "type": "call", "reason": "Follow up by phone", "compensate": True},
        {"id": "thanks", "type": "email", "message": "Thank you, {{ first_name }}."},
    ],
}
# The medium-risk sequence with a short wait and an SMS the provider refuses once.
ESCALATING: dict[str, Any] = {
    "caps": {},
    "delays": {"wait_for_reply": timedelta(seconds=1)},
}

SARAH = Decision(approver="sarah", role="coordinator")
DANA = Decision(approver="dana", role="billing")
DIRECTOR = Decision(approver="dan", role="director")
# Two gates for different roles: a decision answers only the gate it is for.
TWO_GATES: dict[str, Any] = {
    "name": "two_gates",
    "quiet_hours": None,
    "caps": {},
    "approver_roles": ["billing", "director"],
    "steps": [
        {"id": "pause", "type": "wait", "duration": "1h"},
        {"id": "billing_ok", "type": "approval", "roles": ["billing"], "timeout": "1d"},
        {"id": "director_ok", "type": "approval", "roles": ["director"], "timeout": "1d"},
        {"id": "thanks", "type": "email", "message": "Thank you, {{ first_name }}."},
    ],
}


async def nothing(env: WorkflowEnvironment, handle: Handle) -> None:
    return None


async def approve(env: WorkflowEnvironment, handle: Handle) -> None:
    await env.sleep(timedelta(days=6))  # at the call's approval gate
    await handle.signal("approve", SARAH)


async def approve_early(env: WorkflowEnvironment, handle: Handle) -> None:
    await handle.signal("approve", SARAH)  # before the gate exists: kept until it does


async def reply(env: WorkflowEnvironment, handle: Handle) -> None:
    await handle.signal("record_response", Response(channel=Channel.EMAIL))


async def cancel(env: WorkflowEnvironment, handle: Handle) -> None:
    await env.sleep(timedelta(days=1))
    await handle.signal("cancel", CancelRequest(reason="family withdrew"))


async def bounce(env: WorkflowEnvironment, handle: Handle) -> None:
    await env.sleep(timedelta(hours=1))  # the email is out; the wait for a reply runs
    await handle.signal("record_bounce", Bounce(channel=Channel.EMAIL, step_id="first_email"))
    await handle.signal("approve", SARAH)


async def billing_approves(env: WorkflowEnvironment, handle: Handle) -> None:
    await handle.signal("approve", DANA)


async def paid_after_the_call(env: WorkflowEnvironment, handle: Handle) -> None:
    await env.sleep(timedelta(days=18))  # weekends and send windows: the call is open
    await handle.signal("record_event", Event(name="payment_received"))


async def loop_then_reply(env: WorkflowEnvironment, handle: Handle) -> None:
    await handle.signal("approve", SARAH)
    await env.sleep(timedelta(days=15))  # three reminders, a week apart
    await handle.signal("record_response", Response(channel=Channel.SMS, note="we are fine"))


async def cancel_in_second_run(env: WorkflowEnvironment, handle: Handle) -> None:
    await env.sleep(timedelta(days=8))
    await handle.signal("cancel", CancelRequest(reason="family withdrew"))


async def wrong_approval_first(env: WorkflowEnvironment, handle: Handle) -> None:
    await env.sleep(timedelta(hours=1))  # the wait for a reply runs
    await handle.signal("approve", {"approver": "sarah"})  # no role: refused and audited
    await handle.signal("approve", SARAH)  # kept for the gate


async def director_too_early(env: WorkflowEnvironment, handle: Handle) -> None:
    await handle.signal("approve", DIRECTOR)  # refused at the billing gate, not kept
    await env.sleep(timedelta(hours=2))
    await handle.signal("approve", DANA)
    await env.sleep(timedelta(hours=1))
    await handle.signal("approve", DIRECTOR)


async def until_paused(handle: Handle) -> None:
    for _ in range(150):
        status = await handle.query("status", result_type=InterventionStatus)
        if status.state == State.PAUSED:
            break
        await asyncio.sleep(0.1)


async def resume_at_night(env: WorkflowEnvironment, handle: Handle) -> None:
    """A person resumes the refused SMS at 21:00, in the family's quiet hours (F1 lives in
    UTC): the send refuses to go out then, and goes at 08:00."""
    await until_paused(handle)
    now = await env.get_current_time()
    night = datetime.combine(now.date(), time(21), UTC)
    await env.sleep((night if night > now else night + timedelta(days=1)) - now)
    await handle.signal("resume", EscalationAnswer(by="sarah", note="resent"))


def answer_when_paused(signal: str) -> Act:
    async def act(env: WorkflowEnvironment, handle: Handle) -> None:
        await until_paused(handle)
        if signal == "cancel":
            await handle.signal("cancel", CancelRequest(reason="not worth it"))
        else:
            await handle.signal(signal, EscalationAnswer(by="sarah", note="checked"))

    return act


@dataclass
class Shape:
    """A run to record: which template (a shipped one's name, or a step list), for which
    family, what people do while it runs, and whether the SMS provider refuses once."""

    folder: str
    template: str | dict[str, Any]
    act: Act
    update: dict[str, Any] = field(default_factory=lambda: {"quiet_hours": None})
    family: str = "F1"
    sms_refused: bool = False
    patches: tuple[str, ...] = ()  # the `workflow.patched` ids its history takes
    sms_answer_lost: bool = False  # the provider takes the SMS, its answer never arrives
    undos_kept: int = 0  # compensations the run starts with, as carried from earlier passes
    changes: int = 0  # the change level its start carried (0: recorded before levels)


SHAPES: dict[str, Shape] = {
    "high_risk_full": Shape("high_risk", "high_risk_intervention", approve),
    "high_risk_responded": Shape("high_risk", "high_risk_intervention", reply),
    "high_risk_cancelled": Shape("high_risk", "high_risk_intervention", cancel),
    "high_risk_approved_early": Shape("high_risk", "high_risk_intervention", approve_early),
    "high_risk_bounce_fallback": Shape("high_risk", "high_risk_intervention", bounce),
    # The fallback SMS covers the story's own SMS: skipped, no second SMS.
    "high_risk_bounce_covered": Shape(
        "high_risk",
        "high_risk_intervention",
        bounce,
        patches=("skip-step-covered-by-fallback",),
    ),
    "medium_risk_no_reply": Shape("medium_risk", "medium_risk_intervention", nothing),
    "payment_reminder_full": Shape(
        "payment_and_onboarding", "payment_reminder", billing_approves, {}, "F2"
    ),
    "payment_reminder_paid_after_call": Shape(
        "payment_and_onboarding", "payment_reminder", paid_after_the_call, {}, "F2"
    ),
    "onboarding_full": Shape("payment_and_onboarding", "onboarding", nothing, {}, "F2"),
    "template_full": Shape("template", "high_risk_as_data", approve),
    "template_loop": Shape("template", LOOP, loop_then_reply, {}),
    "template_loop_cancelled": Shape("template", LOOP, cancel_in_second_run, {}),
    "signal_rejected": Shape(
        "signals",
        "high_risk_intervention",
        wrong_approval_first,
        patches=("signal-rejections",),
    ),
    "gate_refuses_early_decision": Shape(
        "signals",
        TWO_GATES,
        director_too_early,
        {},
        patches=("decisions-per-gate", "signal-rejections"),
    ),
    **{
        f"escalation_{answer}": Shape(
            "escalation",
            "medium_risk_intervention",
            answer_when_paused(answer),
            {"quiet_hours": None, **ESCALATING},
            sms_refused=True,
        )
        for answer in ("resume", "skip", "cancel")
    },
    # The SMS may have gone out (its answer was lost): a person is asked, and says it did.
    "uncertain_send_asks": Shape(
        "escalation",
        "medium_risk_intervention",
        answer_when_paused("skip"),
        {
            "quiet_hours": None,
            **ESCALATING,
            "retry": {
                "max_attempts": 5,
                "initial_interval": 0.2,
                "backoff": 1.0,
                "max_interval": 1,
            },
        },
        sms_answer_lost=True,
        patches=("ask-when-send-uncertain",),
    ),
    # It already keeps the most compensations it may: the call that needs one is not taken.
    "undo_cap_reached": Shape(
        "template",
        CALL_THEN_THANKS,
        nothing,
        {},
        undos_kept=UNDOS_MAX,
        patches=("undo-cap",),
    ),
    # Every send through its channel's task queue (the queue a provider rate limits).
    "sends_through_queues": Shape(
        "send_queues", "high_risk_intervention", approve, patches=("send-on-channel-queue",)
    ),
    # A send that starts outside its allowed hours is refused and placed again.
    "resumed_at_night_sent_in_the_morning": Shape(
        "send_queues",
        "medium_risk_intervention",
        resume_at_night,
        {"quiet_hours": {"start": "20:00", "end": "08:00", "weekends": False}, **ESCALATING},
        sms_refused=True,
        patches=("send-on-channel-queue",),
    ),
    # Steps that only touch the store run as local activities: a condition (carrying the
    # wait's row), a call task opened behind its gate (code-defined and data-defined), an
    # escalation task completed, and one cancelled by the undo of a cancelled sequence.
    "high_risk_full_local_steps": Shape(
        "high_risk", "high_risk_intervention", approve, patches=(LOCAL_STEPS,)
    ),
    "template_full_local_steps": Shape(
        "template", "high_risk_as_data", approve, patches=(LOCAL_STEPS,)
    ),
    **{
        f"escalation_{answer}_local_steps": Shape(
            "escalation",
            "medium_risk_intervention",
            answer_when_paused(answer),
            {"quiet_hours": None, **ESCALATING},
            sms_refused=True,
            patches=(LOCAL_STEPS,),
        )
        for answer in ("resume", "cancel")
    },
    # Started with the eight changes of `workflows.changes` on: no patch marker, no
    # `TemporalChangeVersion` upsert, and a loop's next runs carry the level.
    "high_risk_full_level_8": Shape("high_risk", "high_risk_intervention", approve, changes=8),
    "template_full_level_8": Shape("template", "high_risk_as_data", approve, changes=8),
    "template_loop_level_8": Shape("template", LOOP, loop_then_reply, {}, changes=8),
    "gate_refuses_early_decision_level_8": Shape(
        "signals", TWO_GATES, director_too_early, {}, changes=8
    ),
}


async def run_histories(env: WorkflowEnvironment, handle: Handle) -> list[WorkflowHistory]:
    """The history of every run of the sequence, first to last."""
    histories = []
    run_id = handle.first_execution_run_id or handle.result_run_id
    while run_id:
        history = await env.client.get_workflow_handle(handle.id, run_id=run_id).fetch_history()
        histories.append(history)
        last = history.events[-1]
        run_id = (
            last.workflow_execution_continued_as_new_event_attributes.new_execution_run_id
            if last.HasField("workflow_execution_continued_as_new_event_attributes")
            else None
        )
    return histories


async def record_one(
    env: WorkflowEnvironment,
    store: Store,
    provider: FakeProvider,
    settings: Settings,
    name: str,
    shape: Shape,
) -> None:
    """Run one shape to its end and save the history of each of its runs."""
    if isinstance(shape.template, str):
        params = await store.templates.active(shape.template)
        assert params is not None
    else:
        params = SequenceParams.model_validate(shape.template)
    if shape.sms_refused:
        provider.script("sms", 400)
    if shape.sms_answer_lost:
        provider.drop("sms")
    row = await store.families.get(shape.family)
    assert row is not None
    if shape.undos_kept:
        handle = await start_carrying_undos(env, settings, params, context_of(row), shape)
        await save_histories(env, handle, name, shape)
        return
    outcome = await start_sequence(
        env.client,
        params.model_copy(update=shape.update),
        shape.family,
        task_queue=settings.task_queue,
        family=context_of(row),
    )
    assert outcome.handle is not None, outcome.message
    await save_histories(env, outcome.handle, name, shape)


async def save_histories(env: WorkflowEnvironment, handle: Handle, name: str, shape: Shape) -> None:
    """Act on the running sequence, wait for its end and save each run's history."""
    await shape.act(env, handle)
    result = await handle.result()
    histories = await run_histories(env, handle)
    folder = HISTORIES / shape.folder
    folder.mkdir(parents=True, exist_ok=True)  # noqa: ASYNC240 - a one-off script
    for number, history in enumerate(histories, start=1):
        suffix = f"_run{number}" if len(histories) > 1 else ""
        (folder / f"{name}{suffix}.json").write_text(history.to_json())
    print(f"recorded {name}: {result.state} ({result.outcome}), {len(histories)} run(s)")


async def start_carrying_undos(
    env: WorkflowEnvironment,
    settings: Settings,
    params: SequenceParams,
    family: FamilyContext,
    shape: Shape,
) -> Handle:
    """Start a data-defined sequence as a next run would, carrying `shape.undos_kept`
    compensations of earlier passes (as many passes of a loop would leave them)."""
    workflow_id = workflow_id_for(params.name, shape.family)
    ref = StepRef(
        workflow_id=workflow_id,
        run_id="earlier",
        step_id="open_call",
        template=params.name,
        template_version=params.version,
    )
    carried = InterventionStatus(
        workflow_id=workflow_id,
        family_id=shape.family,
        template=params.name,
        template_version=params.version,
        state=State.SCHEDULED,
        undos=[
            Undo(step_id="open_call", run=n, kind="cancel_task", ref=ref, task_id=n)
            for n in range(1, shape.undos_kept + 1)
        ],
        run=shape.undos_kept + 1,
    )
    start = TemplateStart(
        family_id=shape.family, params=params, triggered_by="manual", family=family, carried=carried
    )
    return await env.client.start_workflow(
        params.workflow,
        start,
        id=workflow_id,
        task_queue=settings.task_queue,
        result_type=InterventionResult,
    )


async def main(*which: str) -> None:
    shapes = {name: SHAPES[name] for name in which} if which else SHAPES
    env = await WorkflowEnvironment.start_time_skipping(
        data_converter=pydantic_data_converter,
        test_server_existing_path=find_binary("temporal-test-server"),
    )
    async with env:
        await register_search_attributes(env.client)
        with tempfile.TemporaryDirectory() as tmp, FakeProvider().running() as provider:
            url = f"sqlite+aiosqlite:///{tmp}/store.db"
            await migrate(url)
            store = Store.from_url(url)
            for family_id, name, email, phone, tz in FAMILIES:
                await store.families.upsert(family_id, name, email=email, phone=phone, timezone=tz)
            for params in builtin_templates():
                await store.templates.save(params)
            settings = provider.settings(Settings(task_queue=f"tq-{uuid.uuid4()}"))
            async with (
                httpx.AsyncClient(timeout=10.0) as http,
                build_worker(env.client, store, http, settings, breaker_policy=BreakerPolicy()),
            ):
                for name, shape in shapes.items():
                    await record_one(env, store, provider, settings, name, shape)
            await store.close()


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:]))
