"""Why a trigger refuses: bad input, or a rule that keeps a sequence from starting.

Each refusal is a `TriggerError` whose message names the field or the rule and the reason,
so the CLI prints it as one line. The start pipeline (`followthrough.triggers.pipeline`)
returns these inside its outcome instead of raising them; the single-shot entry points
(`predict`, `trigger`, `send_event`, `start_sequence`) raise them for the CLI.
"""

from __future__ import annotations


class TriggerError(ValueError):
    """Bad input to a trigger; the message names the field and the reason."""


class TemplateSuspended(TriggerError):
    """A start refused because the template is suspended; the message says how to resume it."""


class NoConsent(TriggerError):
    """A start refused because the family cannot be contacted on any channel it would use."""


class QuotaExceeded(TriggerError):
    """A start refused because the template already runs its `max_active` sequences."""


class TooManyActive(TriggerError):
    """A start refused because the family already has its template's maximum of sequences."""
