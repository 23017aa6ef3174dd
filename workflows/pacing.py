"""Frequency caps in the durable flow: a capped send waits for the next allowed slot.

Since `workflow.patched("caps-in-send")` the send activity checks its own cap: an uncapped
send (the common case) runs nothing before it, a capped one fails with `FrequencyCapped` and
the next slot, and `wait_for_slot` waits for it before the send is tried again. Histories
from before that patch (behind `workflow.patched("frequency-caps")`) read the count of
messages already sent by a local activity before every send. Either way the wait is a
durable timer, re-placed out of quiet hours, after which the cap is checked again, since
another sequence may have used the new slot first.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.consent import ConsentActivities
    from contracts import Channel, State, StepRecord
    from contracts.consent import SlotRequest
    from workflows import timing

from workflows.audit import with_pending_audits

if TYPE_CHECKING:
    from workflows.blocks import Intervention

SLOT_CHECK_TIMEOUT = timedelta(seconds=10)


async def wait_for_frequency_cap(flow: Intervention, record: StepRecord, channel: Channel) -> None:
    """Sleep until the family's cap on `channel` leaves room; return at once when it does."""
    cap = flow.params.caps.get(channel)
    if cap is None or flow.family is None:
        return
    label = channel.value.upper() if channel == Channel.SMS else channel.value
    while True:
        now = workflow.now()
        # Beside the audit write of the wait that came before, not after it.
        slot = await with_pending_audits(
            flow,
            workflow.start_local_activity_method(
                ConsentActivities.next_send_slot,
                SlotRequest(
                    family_id=flow.start.family_id,
                    channel=channel,
                    now=now,
                    timezone=flow.family.timezone,
                    cap=cap,
                ),
                start_to_close_timeout=SLOT_CHECK_TIMEOUT,
                summary=f"Check the {label} cap ({cap.describe()})",
            ),
        )
        if slot.at is None or slot.at <= now:
            return
        await wait_for_slot(flow, record, channel, slot.at)


async def wait_for_slot(
    flow: Intervention, record: StepRecord, channel: Channel, slot: datetime
) -> None:
    """Sleep until `slot` (the start of the cap's next window), moved out of quiet hours.

    Also where a send refused by its cap (`FrequencyCapped`, patch caps-in-send) waits."""
    cap = flow.params.caps[channel]
    assert flow.family is not None
    label = channel.value.upper() if channel == Channel.SMS else channel.value
    now = workflow.now()
    placement = timing.next_allowed_time(
        slot,
        flow.family.timezone,
        flow.params.quiet_hours,
        urgent=flow.params.urgent,
        window=flow.params.send_windows.get(channel),
    )
    reason = f"frequency cap: {cap.describe()} by {channel.value}"
    record.due_at = placement.at
    record.due_reason = f"{reason}; {placement.reason}" if placement.reason else reason
    flow.next_action_at = placement.at
    flow._set_state(State.SCHEDULED)
    await flow._wait(
        lambda: False,
        placement.at - now,
        f"Wait for the {label} cap ({cap.describe()}) until {placement.local:%a %d %b %H:%M} local",
    )
    flow.next_action_at = None
