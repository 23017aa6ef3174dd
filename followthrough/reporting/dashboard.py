"""The dashboard's numbers per template and version, from the store alone.

Starts come from `sequence_starts`; how far sequences got, replies, contacts and step timing
from the audit trail (`step_executions`), with each family's time zone for local hours. No
workflow is queried or its result fetched: a page over 10,000 sequences is a few reads.
How sequences ended (completed / failed / cancelled) comes from visibility counts
(`end_counts`), one count per state.

A reply is what `stats` counts as one: a check among `RESPONSE_CHECKS` that came out true,
credited to the last message sent before it (a wait for a reply wakes when it arrives, so
the check's time is the reply's time).
"""

from __future__ import annotations

import asyncio
import functools
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy.orm import Session
from temporalio.client import Client

from followthrough.reporting import dashboard_sql as queries
from followthrough.reporting.stats import BASE, CONTACT_KINDS, Slo, percentile, rate
from store import Store
from store.db import reading

ENDS = ("completed", "failed", "cancelled")
# Time to first response, in buckets a coordinator reads at a glance.
RESPONSE_BUCKETS = (
    (3600, "under 1 h"),
    (6 * 3600, "1-6 h"),
    (86400, "6-24 h"),
    (3 * 86400, "1-3 days"),
)


@dataclass
class FunnelStep:
    """How many sequences reached a step, and at how many of them a reply was noticed."""

    step_id: str
    kind: str
    reached: int
    replied: int = 0


@dataclass
class Rate:
    """Messages sent and how many of them were answered, for one channel or local hour."""

    label: str
    sent: int = 0
    answered: int = 0

    @property
    def share(self) -> float | None:
        return self.answered / self.sent if self.sent else None


@dataclass
class Week:
    """One ISO week: sequences started, messages sent and answered."""

    week: str
    started: int = 0
    sent: int = 0
    answered: int = 0


@dataclass
class VersionReport:
    """Every number the dashboard shows for one template version."""

    template: str
    version: int
    started: int = 0
    steps: list[FunnelStep] = field(default_factory=list)
    by_channel: dict[str, Rate] = field(default_factory=dict)
    by_hour: dict[int, Rate] = field(default_factory=dict)
    first_response_s: list[float] = field(default_factory=list)
    weeks: dict[str, Week] = field(default_factory=dict)
    first_contact_ok: int = 0
    first_contact_total: int = 0
    lateness_s: list[float] = field(default_factory=list)
    ends: dict[str, int | None] = field(default_factory=dict)

    @property
    def key(self) -> tuple[str, int]:
        return self.template, self.version

    def week(self, name: str) -> Week:
        found = self.weeks.get(name)
        if found is None:
            found = self.weeks[name] = Week(name)
        return found

    def slo(self, slo: Slo) -> dict[str, Any]:
        """The red/amber/green line, rated as `stats` rates it."""
        share = (
            self.first_contact_ok / self.first_contact_total if self.first_contact_total else None
        )
        late = percentile(self.lateness_s, 95)
        return {
            "rating": rate(share, late, slo),
            "first_contact_share": share,
            "p95_lateness_s": late,
        }

    def response_buckets(self) -> list[tuple[str, int]]:
        """Time to first response, counted per bucket (the last one open-ended)."""
        counts = [0] * (len(RESPONSE_BUCKETS) + 1)
        for seconds in self.first_response_s:
            index = next((i for i, (top, _) in enumerate(RESPONSE_BUCKETS) if seconds < top), -1)
            counts[index] += 1
        labels = [label for _, label in RESPONSE_BUCKETS] + ["over 3 days"]
        return list(zip(labels, counts, strict=True))


@functools.lru_cache(maxsize=4096)
def _week_of_day(ordinal: int) -> str:
    year, week, _ = date.fromordinal(ordinal).isocalendar()
    return f"{year}-W{week:02d}"


def week_of(moment: datetime) -> str:
    """`2026-W48`: the ISO week a moment (its UTC date) falls in."""
    return _week_of_day(moment.toordinal())


async def version_reports(
    store: Store, slo: Slo | None = None, details: tuple[str, int] | None = None
) -> list[VersionReport]:
    """One report per template version that has a start or an audit row, by name and version.

    Every report has its starts, funnel and SLO line. Replies by channel, local hour and week
    and times to first response are filled in for every version, or, given `details`, for
    that version only, the one a page shows (the first by name and version when there is
    no such version, as the dashboard shows the first when none is asked for)."""
    slo = slo or Slo()
    return await reading(store.sessions, lambda session: _reports(session, slo, details))


async def end_counts(client: Client, template: str, version: int) -> dict[str, int]:
    """Sequences of one version that ended each way, and those still running (visibility)."""
    scope = f"{BASE} AND TemplateName = '{template}' AND TemplateVersion = {version}"
    queries = {end: f"{scope} AND InterventionState = '{end}'" for end in ENDS}
    queries["running"] = f"{scope} AND ExecutionStatus = 'Running'"
    counts = await asyncio.gather(*(client.count_workflows(query) for query in queries.values()))
    return {name: found.count for name, found in zip(queries, counts, strict=True)}


def _reports(session: Session, slo: Slo, details: tuple[str, int] | None) -> list[VersionReport]:
    reports: dict[tuple[str, int], VersionReport] = {}

    def report(template: str, version: int) -> VersionReport:
        found = reports.get((template, version))
        if found is None:
            found = reports[template, version] = VersionReport(template, version)
        return found

    sql = queries.Sql(session)
    run = session.connection().execute  # Core rows: no ORM work per row
    for template, version, day, count in run(queries.started(sql)):
        found = report(template, version)
        found.started += count
        found.week(_week_of_day(date.fromisoformat(day).toordinal())).started += count
    first: datetime | None = None
    last: datetime | None = None
    for template, version, step_id, kind, reached, since, until in run(queries.funnel()):
        report(template, version).steps.append(FunnelStep(step_id, kind, reached))
        first, last = min(first or since, since), max(last or until, until)
    for template, version, total, ok in run(queries.first_contact(sql, slo)):
        found = report(template, version)
        found.first_contact_total, found.first_contact_ok = total, ok
    if first is not None and last is not None:
        zones = {name: queries.offset_spans(name, first, last) for name in queries.zones(session)}
        key = None if details is None else details if details in reports else min(reports)
        for row in run(queries.details(sql, zones, key)):
            _add(report(row[1], row[2]), row[0], row[3], row[4], row[5])
    late: dict[tuple[str, int], list[float]] = {}
    for template, version, seconds in run(queries.lateness(sql)):
        late.setdefault((template, version), []).append(seconds)
    for (template, version), values in late.items():
        report(template, version).lateness_s = [max(0.0, round(float(s), 3)) for s in values]
    for found in reports.values():
        order = sorted(found.by_channel, key=_channel_order)
        found.by_channel = {label: found.by_channel[label] for label in order}
    return [reports[key] for key in sorted(reports)]


def _channel_order(label: str) -> tuple[int, str]:
    known = CONTACT_KINDS.index(label) if label in CONTACT_KINDS else len(CONTACT_KINDS)
    return known, label


def _add(found: VersionReport, what: str, key: str, a: float, b: float | None) -> None:
    """One row of `queries.details` into its version's report."""
    if what == "first":
        found.first_response_s.append(a)
    elif what == "reply":
        step = next((s for s in found.steps if s.step_id == key), None)
        if step is not None:
            step.replied += int(a)
    elif what == "day":
        week = found.week(_week_of_day(date.fromisoformat(key).toordinal()))
        week.sent, week.answered = week.sent + int(a), week.answered + int(b or 0)
    else:
        if what == "channel":
            rate = found.by_channel.setdefault(key, Rate(key))
        else:
            rate = found.by_hour.setdefault(int(key), Rate(f"{int(key):02d}:00"))
        rate.sent, rate.answered = rate.sent + int(a), rate.answered + int(b or 0)
