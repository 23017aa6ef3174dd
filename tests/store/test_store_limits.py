"""Send intents, start reservations, shared circuits and health-row cleanup, on SQLite and
PostgreSQL; the races run on stores of their own (separate connections and pools)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from store import Family, Message, Store
from store.outbox import FAILED, SENDING, Claim

NOW = datetime(2026, 11, 27, 9, tzinfo=UTC)
DAY = (datetime(2026, 11, 27, tzinfo=UTC), datetime(2026, 11, 28, tzinfo=UTC))


def intent(key: str, family_id: str) -> Message:
    return Message(
        idempotency_key=key,
        family_id=family_id,
        workflow_id=f"wf-{key}",
        step_id="sms",
        channel="sms",
        provider="http-sms",
        provider_message_id="",
        recipient="+15550100001",
        subject=None,
        body="Hi",
        created_at=NOW,
    )


async def claim(store: Store, key: str, family_id: str, limit: int = 1) -> Claim:
    def build(family: Family | None, counted: int) -> Message:
        assert family is not None
        if counted >= limit:
            raise LookupError(f"cap: {counted} of {limit}")
        return intent(key, family.family_id)

    return await store.messages.claim(
        key, family_id, channel="sms", cap_window=lambda _: DAY, build=build
    )


async def test_an_intent_holds_the_cap_until_it_is_released(store: Store, family_id: str):
    first = await claim(store, "k1", family_id)
    assert first.state == "new" and first.message is not None
    assert first.message.status == SENDING
    refused = await claim(store, "k2", family_id)  # the intent counts: the cap is full
    assert refused.state == "refused" and isinstance(refused.refusal, LookupError)
    again = await claim(store, "k1", family_id)  # a retry of the same step
    assert again.state == "uncertain"
    await store.messages.release("k1")  # the provider definitely refused it
    assert (await store.messages.get_by_key("k1")).status == FAILED  # type: ignore[union-attr]
    assert (await claim(store, "k2", family_id)).state == "new"  # the place is free again
    await store.messages.record(
        idempotency_key="k2",
        family_id=family_id,
        workflow_id="wf-k2",
        step_id="sms",
        channel="sms",
        provider="http-sms",
        provider_message_id="SM1",
        recipient="+15550100001",
        subject=None,
        body="Hi",
    )
    sent = await claim(store, "k2", family_id)
    assert sent.state == "sent" and sent.message is not None
    assert (sent.message.status, sent.message.provider_message_id) == ("sent", "SM1")


async def test_racing_claims_take_one_place(db_url: str, store: Store, family_id: str):
    stores = [Store.from_url(db_url) for _ in range(4)]
    try:
        claims = await asyncio.gather(
            *(claim(stores[n % 4], f"race-{n}", family_id) for n in range(12))
        )
    finally:
        for other in stores:
            await other.close()
    assert sorted(c.state for c in claims).count("new") == 1


async def test_reservations_count_family_and_template(store: Store):
    reserve = store.reservations.reserve
    got = await reserve("wf-a", "F1", "t1", family_limit=1, template_limit=2)
    assert got.full is None and got.created
    again = await reserve("wf-a", "F1", "t1", family_limit=1, template_limit=2)
    assert again.full is None and not again.created  # never counts against itself
    full = await reserve("wf-b", "F1", "t2", family_limit=1, template_limit=None)
    assert full.full == "family" and [w for w, _ in full.holders] == ["wf-a"]
    upgrade = await reserve(
        "wf-b", "F1", "t2", family_limit=1, template_limit=None, replacing=["wf-a"]
    )
    assert upgrade.full is None
    assert (await reserve("wf-c", "F2", "t1", family_limit=None, template_limit=2)).full is None
    quota = await reserve("wf-d", "F3", "t1", family_limit=None, template_limit=2)
    assert quota.full == "template"
    await store.reservations.release(["wf-a"])
    assert (await reserve("wf-d", "F3", "t1", family_limit=None, template_limit=2)).full is None


async def test_racing_reservations_take_one_place(db_url: str, store: Store):
    stores = [Store.from_url(db_url) for _ in range(4)]
    try:
        got = await asyncio.gather(
            *(
                stores[n % 4].reservations.reserve(
                    f"wf-{n}", "F1", f"t{n}", family_limit=1, template_limit=None
                )
                for n in range(12)
            )
        )
    finally:
        for other in stores:
            await other.close()
    assert [g.full for g in got].count(None) == 1
    assert len(await store.reservations.held(family_id="F1")) == 1


async def test_a_shared_circuit_opens_probes_once_and_closes(store: Store):
    circuits = store.circuits
    for _ in range(2):
        row = await circuits.failed("p", "503", threshold=3, open_for=timedelta(0))
        assert row.state == "closed"
    row = await circuits.failed("p", "503", threshold=3, open_for=timedelta(0))
    assert row.state == "open" and row.failures == 3
    probe = await circuits.claim_probe("p", timedelta(minutes=1))
    assert probe is not None and probe.state == "half_open"
    assert await circuits.claim_probe("p", timedelta(minutes=1)) is None  # one probe at a time
    closed = await circuits.succeeded("p")
    assert (closed.state, closed.failures) == ("closed", 0)


async def test_stale_health_rows_are_cleaned(store: Store):
    for worker in ("host:1", "host:2"):
        await store.health.record(
            provider="http-sms",
            worker=worker,
            state="closed",
            consecutive_failures=0,
            open_until=None,
            last_error=None,
            transitions=1,
        )
    assert await store.health.clean(older_than=timedelta(days=1)) == 0
    assert await store.health.clean(older_than=timedelta(0)) == 2
    assert await store.health.list() == []


@pytest.fixture
async def family_id(store: Store) -> str:
    family = await store.families.upsert("F1001", "Rivera", phone="+15550100001")
    return family.family_id
