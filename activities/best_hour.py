"""The hours at which a family has answered before, read from the audit trail.

A reply shows up as a wait that woke with "reply received" (the sequence's own record) or as a
provider callback "replied" (the receiver's). Both may record the same reply, so a reply is
counted once per sequence and local hour.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo

from sqlalchemy import and_, or_, select
from temporalio import activity

from contracts.windows import AnswerHours, AnswerHoursRequest
from store import StepExecution, Store

REPLY_ROWS = or_(
    and_(StepExecution.kind == "wait", StepExecution.outcome == "reply received"),
    and_(StepExecution.kind == "callback", StepExecution.outcome == "replied"),
)


class ResponseHistoryActivities:
    """Reads of what families did before; no names or addresses leave the store."""

    def __init__(self, store: Store) -> None:
        self._store = store

    @activity.defn
    async def answer_hours(self, request: AnswerHoursRequest) -> AnswerHours:
        """Count the family's past answers per local hour of its time zone."""
        family = await self._store.families.get(request.family_id)
        if family is None:
            return AnswerHours()
        zone = ZoneInfo(family.timezone)
        query = select(StepExecution.workflow_id, StepExecution.created_at).where(
            StepExecution.family_id == request.family_id, REPLY_ROWS
        )
        async with self._store.sessions() as session:
            rows = (await session.execute(query)).all()
        seen = {(workflow_id, at.astimezone(zone).hour) for workflow_id, at in rows}
        hours: dict[int, int] = {}
        for _, hour in seen:
            hours[hour] = hours.get(hour, 0) + 1
        return AnswerHours(hours=hours)
