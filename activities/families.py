"""Reading the family's current data: context for the workflow, facts for conditions."""

from __future__ import annotations

from typing import Any

from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.audit import outcome_row
from activities.conditions import evaluate
from contracts import (
    ConditionRequest,
    ConditionResult,
    FamilyContext,
    FamilyContextRequest,
)
from store import Store
from store.audit import step_for
from store.families import context_of
from store.models import Family


class FamilyActivities:
    """Store reads the workflow needs; they return no names or addresses."""

    def __init__(self, store: Store) -> None:
        self._store = store

    async def _family(self, family_id: str) -> Family:
        family = await self._store.families.get(family_id)
        if family is None:
            raise ApplicationError(
                f"unknown family {family_id}", type="UnknownFamily", non_retryable=True
            )
        return family

    @activity.defn
    async def load_family_context(self, request: FamilyContextRequest) -> FamilyContext:
        """Time zone, usable channels and opt-outs of one family."""
        return context_of(await self._family(request.family_id))

    @activity.defn
    async def evaluate_condition(self, request: ConditionRequest) -> ConditionResult:
        """Evaluate a condition on the family's current data plus the sequence's facts."""
        family = await self._family(request.family_id)
        facts: dict[str, Any] = {
            **(family.attributes or {}),
            "engagement_score": family.engagement_score,
            "preferred_channel": family.preferred_channel,
            "opted_out": family.opted_out or [],
            **request.facts,
        }
        try:
            value, why = evaluate(request.condition, facts)
        except ValueError as err:
            raise ApplicationError(str(err), type="BadCondition", non_retryable=True) from err
        ref = request.ref
        # One transaction: the rows the check carries, then its own.
        await self._store.steps.add_many(
            [
                *(outcome_row(row) for row in request.audits),
                step_for(
                    ref,
                    family_id=family.family_id,
                    kind="condition",
                    outcome=f"{value}",
                    attempts=activity.info().attempt,
                ),
            ]
        )
        return ConditionResult(value=value, explanation=why)
