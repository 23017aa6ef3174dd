"""Recording outcomes: what happened to each family, from a CSV file or one at a time.

`family_id,outcome,at`: the family must be known, the outcome a short lower-case name
(`retained`, `withdrew`, `paid`), `at` an ISO date or time (UTC unless it names its offset),
not in the future. A bad row is named by its line and nothing else of the file is lost; a
row recorded before (same family, outcome and time) counts as known, not again.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

from followthrough.operations import OperationError
from followthrough.reporting.windows import Window
from followthrough.triggers.imports import RowError, read_csv
from store import Store
from store.outcomes import NewOutcome

__all__ = ["OutcomeError", "OutcomeImport", "import_outcomes", "parse_at", "record_outcome"]

_OUTCOME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")


class OutcomeError(OperationError):
    """A bad outcome: the message names the field and the reason."""


@dataclass
class OutcomeImport:
    """What an import did: rows accepted, new among them, and each rejected row's line."""

    accepted: int = 0
    added: int = 0
    linked: int = 0  # accepted rows inside a start's or holdout decision's window
    problems: list[str] = field(default_factory=list)

    def summary(self) -> str:
        return (
            f"{self.accepted} outcomes accepted ({self.added} new, {self.accepted - self.added} "
            f"recorded before; {self.linked} inside a start's or holdout's window), "
            f"{len(self.problems)} rows rejected"
        )


def parse_at(text: str, *, now: datetime | None = None) -> datetime:
    """An ISO date (midnight UTC) or date and time (UTC when it names no offset)."""
    now = now or datetime.now(UTC)
    try:
        if len(text) == 10:
            at = datetime.combine(date.fromisoformat(text), datetime.min.time(), UTC)
        else:
            at = datetime.fromisoformat(text)
    except ValueError:
        raise OutcomeError(
            f"at: {text!r} is not an ISO date or time, e.g. 2026-10-14 or 2026-10-14T09:30"
        ) from None
    at = at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)
    if at > now:
        raise OutcomeError(f"at: {text!r} is in the future")
    return at


def _outcome(name: str) -> str:
    if not _OUTCOME.match(name):
        raise OutcomeError(
            f"outcome: {name!r} must be a lower-case name (letters, digits, '_'), e.g. withdrew"
        )
    return name


async def import_outcomes(
    store: Store, path: Path, *, now: datetime | None = None
) -> OutcomeImport:
    """Record every valid row of `family_id,outcome,at`; the bad ones named by line."""
    report = OutcomeImport()
    try:
        rows = read_csv(path, ("family_id", "outcome", "at"))
    except RowError as err:
        report.problems.append(str(err).removeprefix(f"{path}: "))
        return report
    known = set(await store.families.contexts(row.get("family_id", "") for _, row in rows))
    accepted: list[NewOutcome] = []
    for line, row in rows:
        family_id = row.get("family_id", "")
        try:
            if family_id not in known:
                raise OutcomeError(f"family_id: no family with id {family_id!r}")
            outcome = _outcome(row.get("outcome", ""))
            at = parse_at(row.get("at", ""), now=now)
        except OutcomeError as err:
            report.problems.append(f"line {line}: {err}")
            continue
        accepted.append(NewOutcome(family_id, outcome, at, source="import"))
    report.accepted = len(accepted)
    report.added = await store.outcomes.add_many(accepted)
    windows: dict[str, list[Window]] = {}
    for d in await store.outcomes.decisions(families=(o.family_id for o in accepted)):
        windows.setdefault(d.family_id, []).append(
            Window.of(d.family_id, d.decided_at, d.window_days)
        )
    report.linked = sum(any(w.holds(o.at) for w in windows.get(o.family_id, [])) for o in accepted)
    return report


async def record_outcome(store: Store, family_id: str, outcome: str, at: str | None = None) -> str:
    """Record one outcome; the line says whether it was new and which decision it joins."""
    if await store.families.get(family_id) is None:
        raise OutcomeError(f"family: no family with id {family_id!r}")
    when = parse_at(at) if at else datetime.now(UTC)
    added = await store.outcomes.add_many([NewOutcome(family_id, _outcome(outcome), when)])
    said = "recorded" if added else "already recorded"
    joins = await _joins(store, family_id, when)
    return f"{outcome} for family {family_id} at {when:%Y-%m-%d %H:%M} UTC {said}; {joins}"


async def _joins(store: Store, family_id: str, at: datetime) -> str:
    """Which decision's window the outcome falls in (the latest such decision)."""
    inside = [
        d
        for d in await store.outcomes.decisions(family_id=family_id)
        if Window.of(family_id, d.decided_at, d.window_days).holds(at)
    ]
    if not inside:
        return "no start or holdout decision's window holds it"
    d = inside[-1]
    what = "held out of" if d.held_out else "started"
    prediction = "" if d.prediction_id is None else f", prediction {d.prediction_id}"
    return f"counts for {d.template} v{d.version} ({what} {d.decided_at:%Y-%m-%d}{prediction})"
