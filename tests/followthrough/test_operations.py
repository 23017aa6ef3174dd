"""`followthrough.operations`: requests refused with one line before Temporal is asked."""

from __future__ import annotations

from typing import Any

import pytest

from followthrough import operations


class Untouchable:
    """A client every refusal below must be decided without."""

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"the client was used: {name}")


async def test_refusals_name_the_field():
    client: Any = Untouchable()
    with pytest.raises(operations.OperationError, match="^workflow id: 'not-ours' is not an"):
        await operations.status(client, "not-ours")
    with pytest.raises(operations.OperationError, match="^channel: 'pigeon' is not one of email"):
        await operations.respond(client, "intervention-x-F1", "pigeon")
    with pytest.raises(operations.OperationError, match="^state: 'asleep' is not one of"):
        await operations.list_sequences(client, "asleep")


async def test_load_templates_keeps_an_unchanged_version(store):
    from followthrough.templates import builtin_templates

    first = await operations.load_templates(store, builtin_templates()[:1])
    again = await operations.load_templates(store, builtin_templates()[:1])
    assert [created for *_, created in again] == [False]
    assert [(n, v) for n, v, _ in again] == [(n, v) for n, v, _ in first]
