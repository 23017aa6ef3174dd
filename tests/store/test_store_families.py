"""Families: upsert, opt-outs, timestamps."""

import asyncio
from datetime import timedelta

import pytest

from contracts import Channel
from store import Store


async def test_upsert_inserts_with_defaults(store: Store) -> None:
    family = await store.families.upsert("F1", "Ann", email="ann@example.org")

    assert family.timezone == "America/New_York"
    assert family.opted_out == []
    assert family.attributes == {}
    assert family.phone is None
    assert family.created_at.tzinfo is not None
    assert family.created_at.utcoffset() == timedelta(0)


async def test_upsert_updates_the_given_fields_and_keeps_the_rest(store: Store) -> None:
    await store.families.upsert(
        "F1",
        "Ann",
        email="ann@example.org",
        phone="+15550100",
        preferred_channel=Channel.SMS,
        attributes={"balance_overdue": True},
        engagement_score=0.4,
    )
    await store.families.opt_out("F1", Channel.SMS)

    updated = await store.families.upsert("F1", "Ann Lee", email=None, timezone="America/Chicago")

    stored = await store.families.get("F1")
    assert stored is not None
    assert (stored.name, stored.email, stored.timezone) == ("Ann Lee", None, "America/Chicago")
    assert stored.phone == "+15550100"
    assert stored.preferred_channel == "sms"
    assert stored.attributes == {"balance_overdue": True}
    assert stored.engagement_score == 0.4
    assert stored.opted_out == ["sms"]  # a re-import never re-subscribes anyone
    assert updated.updated_at >= updated.created_at


async def test_concurrent_upserts_of_a_new_family_leave_one_row(store: Store) -> None:
    await asyncio.gather(
        store.families.upsert("F2", "Ben", phone="+15550101"),
        store.families.upsert("F2", "Ben", phone="+15550101"),
    )

    assert [family.family_id for family in await store.families.list()] == ["F2"]


async def test_opt_out_is_recorded_once_per_channel(store: Store, family_id: str) -> None:
    await store.families.opt_out(family_id, "sms")
    await store.families.opt_out(family_id, Channel.SMS)
    await store.families.opt_out(family_id, Channel.EMAIL)

    family = await store.families.get(family_id)
    assert family is not None
    assert family.opted_out == ["sms", "email"]


async def test_concurrent_opt_outs_are_both_kept(store: Store, family_id: str) -> None:
    await asyncio.gather(
        store.families.opt_out(family_id, "sms"), store.families.opt_out(family_id, "email")
    )

    family = await store.families.get(family_id)
    assert family is not None
    assert sorted(family.opted_out) == ["email", "sms"]


async def test_opt_out_of_an_unknown_family_raises(store: Store) -> None:
    with pytest.raises(LookupError, match="F404"):
        await store.families.opt_out("F404", "sms")


async def test_get_and_list(store: Store) -> None:
    await store.families.upsert("F2", "Ben")
    await store.families.upsert("F1", "Ann")

    assert await store.families.get("F3") is None
    assert [family.name for family in await store.families.list()] == ["Ann", "Ben"]


async def test_page_reads_families_in_id_order_after_a_cursor(store: Store) -> None:
    for family_id in ("F3", "F1", "F4", "F2"):
        await store.families.upsert(family_id, family_id.lower())

    first = await store.families.page(None, 3)
    assert [f.family_id for f in first] == ["F1", "F2", "F3"]
    assert [f.family_id for f in await store.families.page("F3", 3)] == ["F4"]
    assert await store.families.page("F4", 3) == []
