"""Consent at the start: a family is not started on a sequence it has opted out of entirely.

What the store records of consent is the family's opt-outs, per channel (`families opt-out`,
the `opted_out` column of an import, a STOP reply). The sequences themselves skip an
opted-out channel at each send; this check refuses the start when every channel the
template could contact the family on is opted out, since such a sequence could only fail.

A data-defined template (`steps`) contacts the family on the channels of its channel steps
(messages and calls) and their fallback chains; a code-defined one may use any channel.
"""

from __future__ import annotations

from contracts import Channel, FamilyContext, SequenceParams, channels
from followthrough.triggers.errors import NoConsent


def channels_of(params: SequenceParams) -> frozenset[Channel]:
    """The channels a sequence of `params` may contact the family on."""
    if params.steps is None:
        return frozenset(channels.CHANNELS)
    return frozenset(params.step_channels())


def check_consent(params: SequenceParams, family: FamilyContext) -> None:
    """Refuse (`NoConsent`) a start for a family opted out of every channel it would use; a
    channel that asks for an opt-in the family never gave counts as opted out."""
    used = channels_of(params)
    never_in = {c for c in used if channels.spec(c).opt_in is not None and c not in family.channels}
    if used and used <= set(family.opted_out) | never_in:
        names = ", ".join(
            f"{c.value}: no opt-in" if c in never_in - set(family.opted_out) else c.value
            for c in sorted(used)
        )
        raise NoConsent(
            f"consent: family {family.family_id} opted out of every channel "
            f"{params.name} uses ({names}); start refused"
        )
