"""The family's past answers per local hour, read in an ActivityEnvironment."""

from __future__ import annotations

from datetime import UTC, datetime

from temporalio.testing import ActivityEnvironment

from activities.best_hour import ResponseHistoryActivities
from contracts import StepRef
from contracts.windows import AnswerHoursRequest
from store.audit import step_for


async def answered(store, workflow_id: str, at: datetime) -> None:
    ref = StepRef(
        workflow_id=workflow_id,
        run_id="r1",
        step_id="wait_reply",
        template="t",
        template_version=1,
    )
    row = step_for(ref, family_id="F2", kind="wait", outcome="reply received", attempts=1)
    row.created_at = at
    await store.steps.add(row)


async def test_answers_count_once_per_sequence_in_the_local_hour(store):
    # F2 lives in New York: 21:30 UTC in November is 16:30 there.
    await answered(store, "intervention-a-F2", datetime(2026, 11, 2, 21, 30, tzinfo=UTC))
    await answered(store, "intervention-b-F2", datetime(2026, 11, 3, 21, 5, tzinfo=UTC))
    await answered(store, "intervention-c-F2", datetime(2026, 11, 4, 14, 0, tzinfo=UTC))
    history = ResponseHistoryActivities(store)
    hours = await ActivityEnvironment().run(
        history.answer_hours, AnswerHoursRequest(family_id="F2")
    )
    assert hours.hours == {16: 2, 9: 1}


async def test_an_unknown_family_has_no_history(store):
    history = ResponseHistoryActivities(store)
    hours = await ActivityEnvironment().run(
        history.answer_hours, AnswerHoursRequest(family_id="F9")
    )
    assert hours.hours == {}
