"""Reads of the family's current data in an ActivityEnvironment: context and conditions."""

from __future__ import annotations

import pytest
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.families import FamilyActivities
from contracts import (
    Channel,
    Condition,
    ConditionRequest,
    FamilyContextRequest,
    StepOutcome,
    StepRef,
)

REF = StepRef(
    workflow_id="intervention-t-F3",
    run_id="r1",
    step_id="answered",
    template="t",
    template_version=1,
)


@pytest.fixture
def families(store) -> FamilyActivities:
    return FamilyActivities(store)


async def test_the_context_names_no_one_and_lists_usable_channels(families):
    context = await ActivityEnvironment().run(
        families.load_family_context, FamilyContextRequest(family_id="F3")
    )
    assert context.family_id == "F3" and context.timezone == "UTC"
    assert Channel.EMAIL not in context.channels and Channel.SMS in context.channels
    assert "Haddad" not in context.model_dump_json()


async def test_an_unknown_family_is_a_business_error(families):
    with pytest.raises(ApplicationError) as caught:
        await ActivityEnvironment().run(
            families.load_family_context, FamilyContextRequest(family_id="F9")
        )
    assert caught.value.type == "UnknownFamily" and caught.value.non_retryable


async def test_a_condition_reads_the_sequence_facts_and_writes_its_row(store, families):
    request = ConditionRequest(
        ref=REF,
        family_id="F3",
        condition=Condition(field="response_received", op="==", value=True),
        facts={"response_received": False},
    )
    result = await ActivityEnvironment().run(families.evaluate_condition, request)
    assert result.value is False and "response_received" in result.explanation
    [row] = await store.steps.for_workflow(REF.workflow_id)
    assert (row.step_id, row.kind, row.outcome) == ("answered", "condition", "False")


async def test_a_condition_writes_the_rows_it_carries_before_its_own(store, families):
    wait = StepOutcome(
        ref=REF.model_copy(update={"step_id": "wait_reply"}),
        family_id="F3",
        kind="wait",
        outcome="no reply",
    )
    request = ConditionRequest(
        ref=REF,
        family_id="F3",
        condition=Condition(field="response_received", op="==", value=True),
        facts={"response_received": False},
        audits=[wait],
    )
    await ActivityEnvironment().run(families.evaluate_condition, request)
    rows = await store.steps.for_workflow(REF.workflow_id)
    assert [(r.step_id, r.outcome) for r in rows] == [
        ("wait_reply", "no reply"),
        ("answered", "False"),
    ]


async def test_a_condition_without_a_field_is_refused(families):
    request = ConditionRequest(ref=REF, family_id="F3", condition=Condition())
    with pytest.raises(ApplicationError) as caught:
        await ActivityEnvironment().run(families.evaluate_condition, request)
    assert caught.value.type == "BadCondition"
