"""Everything a running sequence keeps is bounded: however much people and providers send,
its lists keep their newest entries and count the rest, and an oversized input never lands
in its state."""

from __future__ import annotations

from contracts import Channel, Decision, Event, Response, SequenceParams, StepStatus
from contracts.bounds import KEPT, UNDOS_MAX
from store.families import context_of
from tests.workflows.record_histories import Shape, nothing, start_carrying_undos
from tests.workflows.test_inputs import GATE
from tests.workflows.test_sequences import COORDINATOR, start, status

EXTRA = 7


async def test_a_flood_of_signals_keeps_the_newest_and_counts_the_rest(
    time_env, store, settings, ts_worker
):
    handle = await start(time_env, store, settings)
    await time_env.sleep(GATE)  # waiting at the call's approval gate
    for n in range(KEPT["events"] + EXTRA):
        await handle.signal("record_event", Event(name=f"visit_{n}", data={"n": n}))
    for n in range(3):
        await handle.signal("record_event", Event(name="visit_0", data={"n": 100 + n}))
    for n in range(KEPT["decisions"] + EXTRA):
        await handle.signal("approve", Decision(approver=f"p{n}", role="parent"))
    for n in range(KEPT["responses"] + EXTRA):
        await handle.signal("record_response", Response(channel=Channel.SMS, note=f"reply {n}"))
    # Sent as plain JSON, past the client-side checks: a reply of 100,000 characters.
    await handle.signal("record_response", {"channel": "sms", "note": "x" * 100_000})

    st = await status(handle)
    assert [e.name for e in st.events][-2:] == [f"visit_{KEPT['events'] + EXTRA - 1}", "visit_0"]
    assert len(st.events) == KEPT["events"]
    assert next(e.data for e in st.events if e.name == "visit_0") == {"n": 102}
    assert len(st.decisions) == KEPT["decisions"]
    assert st.decisions[-1]["approver"] == f"p{KEPT['decisions'] + EXTRA - 1}"
    assert [r.note for r in st.responses][-1] == f"reply {KEPT['responses'] + EXTRA - 1}"
    assert len(st.responses) == KEPT["responses"]
    assert st.dropped == {
        # 57 names + 3 repeats of one: 50 names kept, 7 older names and 3 repeats let go
        "events": EXTRA + 3,
        "decisions": EXTRA,
        "responses": EXTRA,
    }
    assert len(st.model_dump_json()) < 64_000
    # The oversized reply is refused as a wrong input, in the status, not a failed task.
    rejected = st.rejected_signals[-1]
    assert rejected.signal == "record_response"
    assert rejected.reason.startswith("note: String should have at most 2000 characters")

    await handle.signal("approve", COORDINATOR)
    result = await handle.result()
    assert result.outcome == "call scheduled"


async def test_at_the_compensation_cap_a_step_that_needs_one_more_is_not_taken(
    time_env, store, settings, ts_worker
):
    # One compensation short of the cap, as many passes of a loop would leave it.
    params = SequenceParams.model_validate(
        {
            "name": "two_calls",
            "quiet_hours": None,
            "caps": {},
            "steps": [
                {"id": "call_1", "type": "call", "reason": "First call", "compensate": True},
                {"id": "call_2", "type": "call", "reason": "Second call", "compensate": True},
                {"id": "thanks", "type": "email", "message": "Thank you."},
            ],
        }
    )
    row = await store.families.get("F1")
    assert row is not None
    shape = Shape("template", {}, nothing, undos_kept=UNDOS_MAX - 1)
    handle = await start_carrying_undos(time_env, settings, params, context_of(row), shape)
    result = await handle.result()

    steps = {s.step_id: s for s in result.steps}
    assert steps["call_1"].status == StepStatus.DONE
    assert steps["call_2"].status == StepStatus.SKIPPED
    assert f"already keeps {UNDOS_MAX} compensations" in (steps["call_2"].result or "")
    assert steps["thanks"].status == StepStatus.DONE
    assert len(await store.tasks.for_workflow(handle.id)) == 1
