"""A simulated month of a 10% rollout under time skipping, then `stats --compare` on it.

100 families enrol over 25 days; the template's v2 takes 10% of starts. Families answer by a
synthetic rule that favours v2 (80% against 40%), each after a known number of days, so the
comparison has exact numbers to be checked against.
"""

from __future__ import annotations

import hashlib
from datetime import timedelta

from temporalio.testing import WorkflowEnvironment

from contracts import Channel, InterventionStatus, Response, State
from followthrough.platform.settings import Settings
from followthrough.reporting.compare import compare
from followthrough.triggers.governance import bucket
from followthrough.triggers.start import start_sequence
from store import Store

FAMILIES = [f"R{i:03d}" for i in range(100)]
ANSWER_RATE = {1: 40, 2: 80}  # percent of families who answer, by version


def _draw(family: str, what: str) -> int:
    return int.from_bytes(hashlib.sha256(f"{what}:{family}".encode()).digest()[:4], "big") % 100


def answers_after(family: str, version: int) -> int | None:
    """Days after the start at which the family answers, or None when it never does."""
    if _draw(family, "answers") >= ANSWER_RATE[version]:
        return None
    return 1 + _draw(family, "delay") % 5


async def test_a_month_of_a_ten_percent_rollout_compares_the_versions(
    time_env: WorkflowEnvironment, store: Store, settings: Settings, ts_worker
) -> None:
    for family in FAMILIES:
        await store.families.upsert(family, "Family", email=f"{family}@example.org", timezone="UTC")
    base = await store.templates.active("medium_risk_intervention")
    assert base is not None
    # Quiet hours and caps off: the synthetic answers then fall on exact days.
    probe = base.model_copy(update={"name": "rollout_probe", "quiet_hours": None, "caps": {}})
    v1, _ = await store.templates.save(probe)
    v2, _ = await store.templates.save(probe.model_copy(update={"description": "warmer email"}))
    assert (v1.version, v2.version) == (1, 2)
    await store.rollouts.set("rollout_probe", 2, 10)

    handles = {}
    replies: dict[int, list[str]] = {}  # day -> families answering that day
    for day in range(30):
        for family in FAMILIES[day * 4 : day * 4 + 4]:
            outcome = await start_sequence(
                time_env.client, v2, family, task_queue=settings.task_queue, store=store
            )
            assert outcome.started and outcome.handle is not None
            handles[family] = outcome.handle
            version = 2 if bucket(family, "rollout_probe") < 10 else 1
            after = answers_after(family, version)
            if after is not None:
                replies.setdefault(day + after, []).append(family)
        for family in replies.pop(day, []):
            await handles[family].signal("record_response", Response(channel=Channel.EMAIL))
        await time_env.sleep(timedelta(days=1))
    for handle in handles.values():
        assert (await handle.result()).state == State.COMPLETED

    # Every family landed on its side, and the sequence says which and why.
    expected = {f: 2 if bucket(f, "rollout_probe") < 10 else 1 for f in FAMILIES}
    for family, handle in handles.items():
        status = await handle.query("status", result_type=InterventionStatus)
        assert status.template_version == expected[family]
        side = "canary v2" if expected[family] == 2 else "stable v1"
        assert status.rollout is not None and status.rollout.startswith(side)

    report = await compare(time_env.client, store, "rollout_probe")
    assert (report.candidate, report.baseline) == (2, 1)
    for version in (1, 2):
        families = [f for f in FAMILIES if expected[f] == version]
        delays = [d for f in families if (d := answers_after(f, version)) is not None]
        seen = report.versions[version]
        assert (seen.started, seen.completed, seen.running) == (
            len(families),
            len(families),
            0,
        )
        assert seen.failed == 0
        assert seen.responded == len(delays)
        assert sorted(round(s / 86400) for s in seen.first_response_s) == sorted(delays)
    canaries = report.versions[2].started
    assert 5 <= canaries <= 15  # about 10% of 100, exactly the families hashed below 10
    statement = report.statement()
    assert statement.startswith("v2 is ahead of v1 on response rate"), statement
    assert statement.endswith("beyond noise at 95% confidence"), statement
    print("\n".join(report.lines()))
