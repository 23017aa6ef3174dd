"""Frequency caps: how often one family may be contacted on one channel, across sequences."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class FrequencyCap(BaseModel):
    """At most `limit` messages per local calendar `per` (a day, or a week from Monday)."""

    model_config = ConfigDict(extra="forbid")

    limit: int = Field(ge=1, le=1000)
    per: Literal["day", "week"] = "day"

    def describe(self) -> str:
        """`1 a day`, `3 a week`: for summaries and the status query."""
        return f"{self.limit} a {self.per}"
