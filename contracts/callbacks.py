"""Provider callbacks the receiver accepts: delivery receipts, bounces, replies, STOP."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class ProviderCallback(BaseModel):
    """One event about a message we sent, named by the provider's message id."""

    model_config = ConfigDict(extra="ignore")

    event: Literal["delivered", "bounced", "replied", "stop"]
    message_id: str = Field(min_length=1, max_length=200)
    # The reply's text (for `replied`; a reply that is only a STOP word counts as `stop`),
    # or the provider's reason (for `bounced`).
    text: str = Field(default="", max_length=1600)


class CallbackAnswer(BaseModel):
    """What the receiver did with a callback."""

    ok: bool = True
    action: str
