"""Consent and pacing: the next instant a capped channel may be used again."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel

from contracts.caps import FrequencyCap
from contracts.policies import Channel


class SlotRequest(BaseModel):
    """May the family be contacted on `channel` at `now` (workflow time) under `cap`?"""

    family_id: str
    channel: Channel
    now: datetime
    timezone: str
    cap: FrequencyCap


class SlotResult(BaseModel):
    """`at` is None when the channel is free now, else the start of the next window."""

    at: datetime | None
    sent_in_window: int
