"""`max_active_per_family` on the real dev server: counted through visibility."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from temporalio.client import Client

from contracts import CancelRequest, SequenceParams
from followthrough.triggers.limits import TooManyActive, active_query
from followthrough.triggers.start import TriggerError, trigger
from store import Store


def _template(name: str, limit: int | None = None) -> SequenceParams:
    return SequenceParams.model_validate(
        {
            "name": name,
            "quiet_hours": None,
            "max_active_per_family": limit,
            "steps": [{"id": "hold", "type": "wait", "duration": "1d"}],
        }
    )


async def _running(client: Client, family: str, expected: int) -> None:
    # Visibility trails the start by a moment.
    for _ in range(100):
        if (await client.count_workflows(active_query(family))).count == expected:
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"{family} never had {expected} running sequences")


async def test_a_start_beyond_the_limit_is_refused(dev_client, dev_worker, store: Store, settings):
    family = f"L{uuid.uuid4().hex[:8]}"
    await store.families.upsert(family, "Limit", email="l@example.org", timezone="UTC")
    tag = uuid.uuid4().hex[:6]
    first, second, limited = f"hold_a_{tag}", f"hold_b_{tag}", f"limited_{tag}"
    for params in (_template(first), _template(second), _template(limited, limit=2)):
        await store.templates.save(params)
    queue = settings.task_queue

    a = await trigger(dev_client, store, first, family, task_queue=queue)
    b = await trigger(dev_client, store, second, family, task_queue=queue)
    assert a.started and b.started
    await _running(dev_client, family, 2)

    with pytest.raises(TooManyActive) as refused:
        await trigger(dev_client, store, limited, family, task_queue=queue)
    assert str(refused.value) == (
        f"max_active_per_family: family {family} already has 2 active sequences; "
        f"{limited} allows at most 2"
    )
    await _running(dev_client, family, 2)  # nothing was started

    assert b.handle is not None
    await b.handle.signal("cancel", CancelRequest(reason="room for another"))
    await b.handle.result()
    await _running(dev_client, family, 1)
    c = await trigger(dev_client, store, limited, family, task_queue=queue)
    assert c.started
    # Its own run does not count against it: a second trigger is "already running".
    await _running(dev_client, family, 2)
    again = await trigger(dev_client, store, limited, family, task_queue=queue)
    assert not again.started and again.message.endswith("is already running")

    for outcome in (a, c):
        assert outcome.handle is not None
        await outcome.handle.signal("cancel", CancelRequest(reason="test over"))
        await outcome.handle.result()


def test_the_limit_must_be_positive():
    with pytest.raises(ValueError, match="max_active_per_family"):
        _template("bad", limit=0)


def test_a_family_id_that_cannot_be_queried_is_one_clear_error():
    with pytest.raises(TriggerError, match='^family: "O\'Brien" cannot be used'):
        active_query("O'Brien")
