"""The floor: the same steps as minimal hand-written workflows with no-op activities."""

from __future__ import annotations

import contextlib
from datetime import timedelta

from temporalio import activity, workflow

with workflow.unsafe.imports_passed_through():
    from bench.marks import MARKS

TIMEOUT = timedelta(seconds=30)


@activity.defn
async def floor_email(family_id: str) -> str:
    MARKS.hit("email", activity.info().workflow_id)
    return family_id


@activity.defn
async def floor_sms(family_id: str) -> str:
    MARKS.hit("reaction", activity.info().workflow_id)
    return family_id


@activity.defn
async def floor_task(family_id: str) -> str:
    return family_id


FLOOR_ACTIVITIES = [floor_email, floor_sms, floor_task]


@workflow.defn
class FloorSequence:
    """Email, wait up to `wait_seconds` for a reply, SMS, call task: nothing else."""

    def __init__(self) -> None:
        self.replied = False

    @workflow.signal
    def record_response(self, note: str) -> None:
        self.replied = True

    @workflow.run
    async def run(self, family_id: str, wait_seconds: float) -> str:
        await workflow.execute_activity(floor_email, family_id, start_to_close_timeout=TIMEOUT)
        with contextlib.suppress(TimeoutError):
            await workflow.wait_condition(
                lambda: self.replied, timeout=timedelta(seconds=wait_seconds)
            )
        await workflow.execute_activity(floor_sms, family_id, start_to_close_timeout=TIMEOUT)
        await workflow.execute_activity(floor_task, family_id, start_to_close_timeout=TIMEOUT)
        return "done"


@workflow.defn
class FloorApproval:
    """Email, wait up to `wait_seconds` for an `approve` signal, SMS: nothing else."""

    def __init__(self) -> None:
        self.approved = False

    @workflow.signal
    def approve(self, approver: str) -> None:
        self.approved = True

    @workflow.run
    async def run(self, family_id: str, wait_seconds: float) -> str:
        await workflow.execute_activity(floor_email, family_id, start_to_close_timeout=TIMEOUT)
        with contextlib.suppress(TimeoutError):
            await workflow.wait_condition(
                lambda: self.approved, timeout=timedelta(seconds=wait_seconds)
            )
        await workflow.execute_activity(floor_sms, family_id, start_to_close_timeout=TIMEOUT)
        return "done"
