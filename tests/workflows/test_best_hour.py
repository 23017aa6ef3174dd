"""Best-hour placement: the pure choice, then under the time-skipping server and in simulate."""

from __future__ import annotations

from datetime import UTC, datetime, time
from zoneinfo import ZoneInfo

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from contracts import Channel, FamilyContext, QuietHours, SequenceParams, State
from contracts.windows import SendWindow, open_minutes
from followthrough.simulate import simulate
from followthrough.triggers.start import start_sequence
from store import StepExecution, Store
from workflows.best_hour import hour_window, pick_hour

EVENING = SendWindow(start=time(16), end=time(19))
MORNING = SendWindow(start=time(8), end=time(11))
NEW_YORK = ZoneInfo("America/New_York")

histories = st.dictionaries(st.integers(0, 23), st.integers(0, 9), max_size=24)
windows = st.tuples(st.integers(0, 23), st.integers(0, 59), st.integers(1, 600)).map(
    lambda t: SendWindow(
        start=time(t[0], t[1]), end=time(((t[0] * 60 + t[1] + t[2]) // 60) % 24, (t[1] + t[2]) % 60)
    )
)


NIGHT = QuietHours(start=time(20), end=time(8), weekends=True)


@settings(max_examples=200, deadline=None)
@given(histories, st.one_of(st.none(), windows), st.sampled_from([None, NIGHT]))
def test_the_pick_is_an_open_hour_inside_the_window_and_the_most_frequent_there(
    hours: dict[int, int], window: SendWindow | None, quiet: QuietHours | None
) -> None:
    assume(window is None or quiet is None or open_minutes(window, quiet.start, quiet.end))
    chosen, reason = pick_hour(hours, window, quiet)
    if chosen is None:
        assert window is None
        assert reason in (
            "best hour: no past answers",
            "best hour: no past answers out of quiet hours",
        )
        return
    # Within one local hour, inside the channel's window, and not all quiet.
    assert chosen.start.hour == ((chosen.end.hour - (chosen.end.minute == 0)) % 24)
    for minute in range(60):
        clock = time(chosen.start.hour, minute)
        if chosen.contains(clock) and window is not None:
            assert window.contains(clock)
    assert quiet is None or open_minutes(chosen, quiet.start, quiet.end) > 0
    if reason.startswith("best hour: "):  # a fallback: nothing usable in the history
        assert window is not None
        return
    usable = [
        count
        for hour, count in hours.items()
        if (hw := hour_window(hour, window)) is not None
        and (quiet is None or open_minutes(hw, quiet.start, quiet.end))
    ]
    assert hours[chosen.start.hour] == max(usable) > 0


def test_examples() -> None:
    assert pick_hour({17: 3, 9: 1}, EVENING) == (
        SendWindow(start=time(17), end=time(18)),
        "best hour 17:00 (3 of 4 past answers)",
    )
    assert pick_hour({17: 3, 9: 1}, MORNING)[1] == "best hour 09:00 (1 of 4 past answers)"
    assert pick_hour({}, EVENING) == (
        SendWindow(start=time(16), end=time(17)),
        "best hour: no past answers, window start 16:00",
    )
    assert pick_hour({12: 2}, EVENING)[1] == (
        "best hour: no past answers in the window, window start 16:00"
    )
    assert pick_hour({16: 2}, SendWindow(start=time(16, 30), end=time(18)))[0] == SendWindow(
        start=time(16, 30), end=time(17)
    )
    assert pick_hour({}, None) == (None, "best hour: no past answers")
    assert pick_hour({10: 2, 14: 2}, None)[0] == SendWindow(start=time(10), end=time(11))
    # An answer at 07:00 is inside quiet hours: the 09:00 one wins, though rarer.
    assert pick_hour({7: 5, 9: 1}, None, NIGHT)[1] == "best hour 09:00 (1 of 6 past answers)"
    # A window opening in quiet hours falls back to its first open hour.
    early = SendWindow(start=time(7), end=time(10))
    assert pick_hour({}, early, NIGHT)[1] == "best hour: no past answers, window start 08:00"


async def add_replies(store: Store, family: str, local_hours: list[int]) -> None:
    async with store.sessions.begin() as session:
        for i, hour in enumerate(local_hours):
            at = datetime(2026, 10, 5 + i, hour, 20, tzinfo=NEW_YORK).astimezone(UTC)
            session.add(
                StepExecution(
                    idempotency_key=f"history-{family}-{i}",
                    workflow_id=f"intervention-old_{i}-{family}",
                    run_id="r",
                    step_id="wait_reply",
                    family_id=family,
                    template="old",
                    template_version=1,
                    prediction_id=None,
                    kind="wait" if i % 2 else "callback",
                    channel="sms",
                    provider_message_id=None,
                    attempts=1,
                    outcome="reply received" if i % 2 else "replied",
                    error_type=None,
                    created_at=at,
                )
            )


async def best_hour_params(store: Store) -> SequenceParams:
    params = await store.templates.active("medium_risk_intervention")
    assert params is not None
    return params.model_copy(
        update={
            "quiet_hours": None,
            "best_hour": True,
            "send_windows": {Channel.EMAIL: MORNING, Channel.SMS: EVENING},
        }
    )


async def test_sends_go_at_the_familys_best_hour(time_env, store, settings, ts_worker):
    await add_replies(store, "F2", [17, 17, 9, 17])
    params = await best_hour_params(store)
    outcome = await start_sequence(time_env.client, params, "F2", task_queue=settings.task_queue)
    assert outcome.handle is not None
    result = await outcome.handle.result()
    assert result.state == State.COMPLETED
    steps = {s.step_id: s for s in result.steps}
    email, sms = steps["first_email"], steps["nudge_sms"]
    assert email.due_at is not None and sms.due_at is not None
    # In that local hour: at its start when it had to wait for it, else at once.
    assert email.due_at.astimezone(NEW_YORK).hour == 9
    assert sms.due_at.astimezone(NEW_YORK).hour == 17
    assert sms.started_at is not None and (sms.started_at - sms.due_at).total_seconds() < 60
    assert email.due_reason is not None and email.due_reason.startswith(
        "best hour 09:00 (1 of 4 past answers)"
    )
    assert sms.due_reason is not None and sms.due_reason.startswith(
        "best hour 17:00 (3 of 4 past answers)"
    )


async def test_without_history_the_window_start_is_used(time_env, store, settings, ts_worker):
    params = await best_hour_params(store)
    outcome = await start_sequence(time_env.client, params, "F1", task_queue=settings.task_queue)
    assert outcome.handle is not None
    result = await outcome.handle.result()
    email = next(s for s in result.steps if s.step_id == "first_email")
    assert email.due_at is not None and email.due_at.hour == 8  # F1 is in UTC
    assert email.due_reason is not None
    assert email.due_reason.startswith("best hour: no past answers, window start 08:00")


async def test_simulate_shows_the_choice_and_its_reason(store):
    params = await best_hour_params(store)
    family = FamilyContext(
        family_id="F2", timezone="America/New_York", channels=[Channel.EMAIL, Channel.SMS]
    )
    run = await simulate(params, family, answer_hours={17: 3, 9: 1})
    text = "\n".join(run.lines())
    assert "best hour 09:00 (1 of 4 past answers)" in text
    assert "best hour 17:00 (3 of 4 past answers)" in text
