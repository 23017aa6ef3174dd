"""Holdout groups: the families a template leaves alone, so that its effect can be measured.

A template with `holdout_percent: P` holds out P% of the families a start would reach. Which
ones is a stable hash of the template's name, the family id and the template's
`holdout_salt`, read to 1/10,000: the same family gets the same answer on every call, in
every process, for as long as the percentage and the salt stay. The rollout buckets
(`governance.bucket`) hash the name and family without the salt and under another prefix, so
the held-out families are spread evenly over a canary and its stable version alike.
"""

from __future__ import annotations

import hashlib

from contracts import SequenceParams

__all__ = ["held_out", "holdout_place", "holdout_reason"]

_SCALE = 10_000


def holdout_place(template: str, family_id: str, salt: str) -> int:
    """The family's place, 0-9999, in the template's holdout order."""
    digest = hashlib.sha256(f"holdout\x1f{template}\x1f{family_id}\x1f{salt}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % _SCALE


def held_out(params: SequenceParams, family_id: str) -> bool:
    """Whether the family is in `params`' held-out group (never, at `holdout_percent: 0`)."""
    if params.holdout_percent <= 0:
        return False
    place = holdout_place(params.name, family_id, params.holdout_salt)
    return place < params.holdout_percent * _SCALE // 100


def holdout_reason(params: SequenceParams, family_id: str) -> str:
    """The one line that says a family is held out, and what it would have got."""
    return (
        f"held out: family {family_id} is in the {params.holdout_percent}% holdout of "
        f"{params.name} (would have got v{params.version}); no sequence started"
    )
