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

import bisect
import functools
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session
from temporalio.client import Client

from followthrough.reporting.stats import (
    BASE,
    CONTACT_KINDS,
    MESSAGE_KINDS,
    RESPONSE_CHECKS,
    Slo,
    add_business_days,
    percentile,
    rate,
)
from store import Store
from store.db import reading
from store.models import Family, StepExecution
from store.starts import SequenceStart

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


async def version_reports(store: Store, slo: Slo | None = None) -> list[VersionReport]:
    """One report per template version that has a start or an audit row, by name and version."""
    slo = slo or Slo()
    return await reading(store.sessions, lambda session: _reports(session, slo))


async def end_counts(client: Client, template: str, version: int) -> dict[str, int]:
    """Sequences of one version that ended each way, and those still running (visibility)."""
    scope = f"{BASE} AND TemplateName = '{template}' AND TemplateVersion = {version}"
    counts = {
        end: (await client.count_workflows(f"{scope} AND InterventionState = '{end}'")).count
        for end in ENDS
    }
    running = await client.count_workflows(f"{scope} AND ExecutionStatus = 'Running'")
    counts["running"] = running.count
    return counts


def _reports(session: Session, slo: Slo) -> list[VersionReport]:
    reports: dict[tuple[str, int], VersionReport] = {}

    def report(template: str, version: int) -> VersionReport:
        found = reports.get((template, version))
        if found is None:
            found = reports[template, version] = VersionReport(template, version)
        return found

    starts: dict[str, list[datetime]] = defaultdict(list)
    started = select(SequenceStart.template, SequenceStart.version, SequenceStart.workflow_id,
                     SequenceStart.started_at)  # fmt: skip
    for template, version, workflow_id, at in session.execute(started):
        if version is None:
            continue
        found = report(template, version)
        found.started += 1
        found.weeks.setdefault(week_of(at), Week(week_of(at))).started += 1
        starts[workflow_id].append(at)
    for times in starts.values():
        times.sort()
    _funnel(session, report)
    _contacts(session, report, starts, slo)
    return [reports[key] for key in sorted(reports)]


def _funnel(session: Session, report: Any) -> None:
    """Sequences (runs) that reached each step, steps in the order they first appeared."""
    query = (
        select(
            StepExecution.template,
            StepExecution.template_version,
            StepExecution.step_id,
            func.min(StepExecution.kind),
            func.count(func.distinct(StepExecution.run_id)),
            func.min(StepExecution.id),
        )
        .group_by(StepExecution.template, StepExecution.template_version, StepExecution.step_id)
        .order_by(func.min(StepExecution.id))
    )
    for template, version, step_id, kind, reached, _ in session.execute(query):
        report(template, version).steps.append(FunnelStep(step_id, kind, reached))


@dataclass
class _Run:
    """What one pass over a run's rows remembers."""

    last_contact: tuple[str, int, str] | None = None  # channel, local hour, ISO week
    first_contact: datetime | None = None
    answered: bool = False


def _contacts(session: Session, report: Any, starts: dict[str, list[datetime]], slo: Slo) -> None:
    """Replies by channel, local hour and week; first contact and lateness against the SLO."""
    late = _seconds(session, StepExecution.due_at, StepExecution.started_at)
    query = (
        select(
            StepExecution.template,
            StepExecution.template_version,
            StepExecution.workflow_id,
            StepExecution.run_id,
            StepExecution.step_id,
            StepExecution.kind,
            StepExecution.channel,
            StepExecution.outcome,
            StepExecution.error_type,
            StepExecution.created_at,
            late,
            Family.timezone,
        )
        .join(Family, Family.family_id == StepExecution.family_id)
        .order_by(StepExecution.run_id, StepExecution.created_at, StepExecution.id)
    )
    runs: dict[str, _Run] = defaultdict(_Run)
    zones: dict[str, ZoneInfo] = {}
    found: VersionReport | None = None
    for row in session.execute(query).tuples():
        template, version, workflow_id, run_id, step_id, kind, channel, outcome = row[:8]
        error_type, at, lateness, zone_name = row[8:]
        if found is None or found.key != (template, version):
            found = report(template, version)
        if lateness is not None:
            found.lateness_s.append(max(0.0, round(float(lateness), 3)))
        if kind in CONTACT_KINDS and outcome != "failed" and not error_type:
            run = runs[run_id]
            if run.first_contact is None:
                run.first_contact = at
                _first_contact(found, starts.get(workflow_id, []), at, slo)
            if kind in MESSAGE_KINDS:
                zone = zones.get(zone_name) or zones.setdefault(zone_name, ZoneInfo(zone_name))
                run.last_contact = (channel or kind, at.astimezone(zone).hour, week_of(at))
                _count(found, run.last_contact, answered=False)
        elif kind == "condition" and step_id in RESPONSE_CHECKS:
            _check(found, runs[run_id], step_id, at, str(outcome).lower())


def _seconds(session: Session, due: Any, started: Any) -> Any:
    """`started − due` in seconds, computed by the database (NULL when either is)."""
    if session.get_bind().dialect.name == "sqlite":
        return (func.julianday(started) - func.julianday(due)) * 86400.0
    return func.extract("epoch", started - due)


def _count(found: VersionReport, contact: tuple[str, int, str], *, answered: bool) -> None:
    channel, hour, week_name = contact
    week = found.weeks.get(week_name) or found.weeks.setdefault(week_name, Week(week_name))
    by_channel = found.by_channel.get(channel) or found.by_channel.setdefault(
        channel, Rate(channel)
    )
    by_hour = found.by_hour.get(hour) or found.by_hour.setdefault(hour, Rate(f"{hour:02d}:00"))
    for counted in (week, by_channel, by_hour):
        if answered:
            counted.answered += 1
        else:
            counted.sent += 1


def _check(found: VersionReport, run: _Run, step_id: str, at: datetime, outcome: str) -> None:
    contact, run.last_contact = run.last_contact, None
    if contact is None or not outcome.startswith("true"):
        return
    _count(found, contact, answered=True)
    step = next((s for s in found.steps if s.step_id == step_id), None)
    if step is not None:
        step.replied += 1
    if not run.answered and run.first_contact is not None:
        run.answered = True
        found.first_response_s.append((at - run.first_contact).total_seconds())


def _first_contact(found: VersionReport, starts: list[datetime], at: datetime, slo: Slo) -> None:
    # The start this contact belongs to: the latest one at or before it.
    index = bisect.bisect_right(starts, at)
    if index == 0:
        return
    found.first_contact_total += 1
    due = add_business_days(starts[index - 1], slo.first_contact_business_days)
    found.first_contact_ok += at <= due
