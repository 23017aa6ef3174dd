"""Templates: a changed body is a new version; active, latest and exact versions."""

import asyncio
from datetime import timedelta

import pytest

from contracts import SequenceParams
from store import Store


def _params(name: str = "payment_reminder", **changes: object) -> SequenceParams:
    base: dict[str, object] = {
        "name": name,
        "workflow": "InterventionWorkflow",
        "delays": {"follow_up": "2d"},
        "messages": {"first": {"subject": "Hello", "body": "Dear {{ name }}"}},
    }
    return SequenceParams.model_validate({**base, **changes})


async def test_save_makes_a_version_only_when_the_body_changes(store: Store) -> None:
    first, created_first = await store.templates.save(_params())
    same, created_same = await store.templates.save(_params(version=7))
    second, created_second = await store.templates.save(_params(priority=9))
    again, created_again = await store.templates.save(_params(priority=9))

    assert (first.version, created_first) == (1, True)
    assert (same.version, created_same) == (1, False)
    assert (second.version, created_second) == (2, True)
    assert (again.version, created_again) == (2, False)
    assert await store.templates.get("payment_reminder", 3) is None


async def test_stored_params_read_back_equal(store: Store) -> None:
    saved, _ = await store.templates.save(_params())

    loaded = await store.templates.get("payment_reminder", 1)

    assert loaded == saved
    assert loaded is not None
    assert loaded.delay("follow_up") == timedelta(days=2)


async def test_concurrent_identical_saves_make_one_version(store: Store) -> None:
    results = await asyncio.gather(*(store.templates.save(_params()) for _ in range(3)))

    assert sorted(created for _, created in results) == [False, False, True]
    assert {params.version for params, _ in results} == {1}


async def test_active_latest_and_set_active(store: Store) -> None:
    await store.templates.save(_params())
    await store.templates.save(_params(priority=9))

    await store.templates.set_active("payment_reminder", False)

    latest = await store.templates.latest("payment_reminder")
    active = await store.templates.active("payment_reminder")
    assert latest is not None and (latest.version, latest.active) == (2, False)
    assert active is not None and active.version == 1

    await store.templates.set_active("payment_reminder", False, version=1)
    assert await store.templates.active("payment_reminder") is None

    await store.templates.set_active("payment_reminder", True, version=2)
    active = await store.templates.active("payment_reminder")
    assert active is not None and (active.version, active.active) == (2, True)


async def test_set_active_on_a_missing_template_raises(store: Store) -> None:
    with pytest.raises(LookupError, match="nope"):
        await store.templates.set_active("nope", True)
    await store.templates.save(_params())
    with pytest.raises(LookupError, match="version 5"):
        await store.templates.set_active("payment_reminder", True, version=5)


async def test_list_latest_gives_the_newest_of_each_name(store: Store) -> None:
    await store.templates.save(_params("welcome"))
    await store.templates.save(_params("payment_reminder"))
    await store.templates.save(_params("payment_reminder", priority=1))

    latest = await store.templates.list_latest()

    assert [(params.name, params.version) for params in latest] == [
        ("payment_reminder", 2),
        ("welcome", 1),
    ]
    assert await store.templates.latest("missing") is None
