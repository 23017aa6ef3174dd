"""Conditions: a test on the family's current data, the prediction and the responses so far.

Kept apart from the activity contracts so templates (steps, schedule filters) can use them
without an import cycle.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

Op = Literal["==", "!=", ">", ">=", "<", "<=", "in", "exists"]


class Condition(BaseModel):
    """A test on the family's current data, the prediction and the responses so far."""

    field: str | None = None
    op: Op = "=="
    value: Any = None
    all: list[Condition] | None = None
    any: list[Condition] | None = None
    not_: Condition | None = Field(default=None, alias="not")

    model_config = {"populate_by_name": True, "extra": "forbid", "serialize_by_alias": True}


Condition.model_rebuild()
