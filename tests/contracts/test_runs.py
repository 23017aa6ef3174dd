"""What crosses the workflow boundary: the start input and the one state a sequence keeps."""

from __future__ import annotations

from datetime import UTC, datetime

from temporalio.contrib.pydantic import pydantic_data_converter

from contracts import (
    Bounce,
    Channel,
    Decision,
    EscalationAnswer,
    FamilyContext,
    InterventionStart,
    InterventionStatus,
    PendingApproval,
    ReceivedResponse,
    SequenceParams,
    State,
    StepRecord,
    StepRef,
    TemplateStart,
    Undo,
)

PARAMS = SequenceParams(name="check_in", workflow="MediumRiskIntervention")
AT = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)


def state() -> InterventionStatus:
    ref = StepRef(
        workflow_id="intervention-check_in-F1",
        run_id="r1",
        step_id="call",
        template="check_in",
        template_version=1,
    )
    return InterventionStatus(
        workflow_id="intervention-check_in-F1",
        family_id="F1",
        template="check_in",
        template_version=1,
        state=State.SCHEDULED,
        steps=[StepRecord(step_id="call", kind="call", summary="Open a call task", run=2)],
        responses=[ReceivedResponse(channel=Channel.SMS, note="fine", at=AT)],
        queued_decisions=[("approve", Decision(approver="sarah", role="coordinator"))],
        escalation_answer=("skip", EscalationAnswer(by="sarah")),
        undos=[Undo(step_id="call", run=2, kind="cancel_task", ref=ref, task_id=7)],
        run=3,
        resume_at="remind",
        ran=["remind"],
    )


def test_the_state_crosses_the_boundary_unchanged() -> None:
    """The `status` query returns it and continue-as-new carries it, both as JSON."""
    start = TemplateStart(family_id="F1", params=PARAMS, carried=state())
    [payload] = pydantic_data_converter.payload_converter.to_payloads([start])
    [again] = pydantic_data_converter.payload_converter.from_payloads([payload], [TemplateStart])
    assert again == start
    assert again.carried is not None and again.carried.undos[0].task_id == 7


def test_a_usual_start_is_a_template_start_without_state() -> None:
    start = InterventionStart(family_id="F1", params=PARAMS, triggered_by="prediction")
    [payload] = pydantic_data_converter.payload_converter.to_payloads([start])
    [read] = pydantic_data_converter.payload_converter.from_payloads([payload], [TemplateStart])
    assert read.carried is None and read.triggered_by == "prediction"


def test_a_status_reader_sees_the_fields_it_always_read() -> None:
    fields = set(InterventionStatus.model_fields)
    assert {
        "workflow_id",
        "family_id",
        "template",
        "template_version",
        "state",
        "current_step",
        "next_action_at",
        "steps",
        "responses",
        "pending_approval",
        "outcome",
        "decisions",
        "rollout",
    } <= fields
    assert StepRecord(step_id="x", kind="sms", summary="s").run == 1


def test_the_next_run_starts_its_own_part_afresh_and_keeps_the_rest() -> None:
    now = state().model_copy(
        update={
            "state": State.AWAITING_APPROVAL,
            "current_step": "pause",
            "steps": [
                StepRecord(step_id="call", kind="call", summary="Open a call task", run=2),
                *[StepRecord(step_id=f"s{i}", kind="sms", summary="s", run=3) for i in range(5)],
            ],
            "decisions": [{"verdict": "approve", "n": n} for n in range(4)],
        }
    )
    after = now.next_run("remind", steps_kept=2, decisions_kept=3)
    assert (after.state, after.current_step, after.family) == (State.SCHEDULED, None, None)
    assert (after.run, after.resume_at, after.ran) == (4, "remind", [])
    # The newest two records, and the one an undo marks when the sequence is called off.
    assert [(r.step_id, r.run) for r in after.steps] == [("call", 2), ("s3", 3), ("s4", 3)]
    assert [d["n"] for d in after.decisions] == [1, 2, 3]
    assert after.responses == now.responses and after.undos == now.undos
    assert after.queued_decisions == now.queued_decisions


def test_the_next_run_forgets_everything_that_belongs_to_one_run() -> None:
    now = state().model_copy(
        update={
            "next_action_at": AT,
            "pending_approval": PendingApproval(
                step_id="ok", reason="r", roles=["coordinator"], since=AT, decide_by=None
            ),
            "family": FamilyContext(family_id="F1", timezone="UTC", channels=[Channel.SMS]),
            "bounces": {"hello": Bounce(channel=Channel.EMAIL, step_id="hello")},
            "bounce_fallbacks": {"hello": (Channel.SMS, "hello_sms")},
            "handling_bounce": True,
            "published_state": State.RUNNING,
            "dropped": {"steps": 2, "events": 1},
        }
    )
    after = now.next_run("check_again", steps_kept=200, decisions_kept=50)
    fresh = InterventionStatus(
        workflow_id=now.workflow_id,
        family_id=now.family_id,
        template=now.template,
        template_version=now.template_version,
        state=State.SCHEDULED,
    )
    for name in (
        "current_step",
        "next_action_at",
        "pending_approval",
        "family",
        "escalation_answer",
        "bounces",
        "bounce_fallbacks",
        "handling_bounce",
        "published_state",
        "ran",
    ):
        assert getattr(after, name) == getattr(fresh, name), name
    # Nothing was cut this time: the counts stay as they were.
    assert after.dropped == {"steps": 2, "events": 1}
    assert after.resume_at == "check_again"


def test_the_next_run_counts_the_records_it_lets_go_on_top_of_earlier_ones() -> None:
    records = [StepRecord(step_id=f"s{i}", kind="sms", summary="s") for i in range(6)]
    kept_for_undo = StepRecord(step_id="call", kind="call", summary="c", run=2)
    now = state().model_copy(
        update={
            "steps": [kept_for_undo, *records],
            "decisions": [{"n": n} for n in range(5)],
            "dropped": {"steps": 10},
        }
    )
    after = now.next_run("remind", steps_kept=2, decisions_kept=1)
    # 7 records, 2 kept as the newest, 1 kept for its undo: 4 let go; 4 of 5 decisions.
    assert after.dropped == {"steps": 14, "decisions": 4}
    assert len(after.steps) == 3


def test_letting_go_of_nothing_counts_nothing() -> None:
    now = state()
    now.let_go("events", 0)
    now.keep("responses", ReceivedResponse(channel=Channel.SMS, note="hi", at=AT))
    assert now.dropped == {}
