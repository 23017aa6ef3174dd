"""`followthrough stats`: how the sequences are doing, from Temporal visibility and the store.

Counts come from visibility (`count_workflows`, grouped by `ExecutionStatus`, and one count per
state, template and version); durations from the closed executions' start and close times;
response rates, time to response, first contact and failures from the store's audit trail;
step lateness (started − due) from the timing the audit rows keep; no sequence's result is
fetched. Each template gets a red/amber/green line against the SLOs below.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from temporalio.client import Client

from contracts import State, channels
from store import StepExecution, Store
from workflows.search_attributes import TEMPLATE_NAME, TEMPLATE_VERSION

BASE = "WorkflowId STARTS_WITH 'intervention-'"
# Audit rows whose kind is a channel of the registry contacted the family.
CONTACT_KINDS = tuple(channels.names())
MESSAGE_KINDS = tuple(entry.channel.value for entry in channels.message_channels())
# The check a sequence runs after a wait for a reply; its result says whether they answered.
RESPONSE_CHECKS = ("answered",)


@dataclass(frozen=True)
class Slo:
    """The service levels each template is held to."""

    first_contact_business_days: int = 1
    p95_lateness: timedelta = timedelta(minutes=5)
    green_share: float = 0.95  # share of sequences meeting the first-contact SLO for green
    amber_share: float = 0.80


@dataclass
class TemplateStats:
    template: str
    sequences: int = 0
    durations_s: list[float] = field(default_factory=list)
    first_contact_ok: int = 0
    first_contact_total: int = 0
    lateness_s: list[float] = field(default_factory=list)

    def summary(self, slo: Slo) -> dict[str, Any]:
        share = (
            self.first_contact_ok / self.first_contact_total if self.first_contact_total else None
        )
        p95_late = percentile(self.lateness_s, 95)
        rating = rate(share, p95_late, slo)
        return {
            "template": self.template,
            "sequences": self.sequences,
            "duration_p50_s": percentile(self.durations_s, 50),
            "duration_p95_s": percentile(self.durations_s, 95),
            "first_contact_within_slo": share,
            "lateness_p95_s": p95_late,
            "rating": rating,
        }


def percentile(values: list[float], pct: float) -> float | None:
    """Nearest-rank percentile; None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(pct / 100 * len(ordered)))
    return ordered[rank - 1]


def add_business_days(start: datetime, days: int) -> datetime:
    """`start` plus `days` working days (Saturday and Sunday do not count)."""
    moment = start
    while days > 0:
        moment += timedelta(days=1)
        if moment.weekday() < 5:
            days -= 1
    # A trigger on a weekend starts its clock on Monday's same time of day.
    while moment.weekday() >= 5:
        moment += timedelta(days=1)
    return moment


def rate(first_contact_share: float | None, p95_lateness_s: float | None, slo: Slo) -> str:
    """green, amber or red: the worse of the two SLOs decides; no data is green."""
    ratings = ["green"]
    if first_contact_share is not None:
        if first_contact_share < slo.amber_share:
            ratings.append("red")
        elif first_contact_share < slo.green_share:
            ratings.append("amber")
    if p95_lateness_s is not None:
        limit = slo.p95_lateness.total_seconds()
        if p95_lateness_s > 2 * limit:
            ratings.append("red")
        elif p95_lateness_s > limit:
            ratings.append("amber")
    return max(ratings, key=["green", "amber", "red"].index)


async def _count(client: Client, query: str) -> int:
    return (await client.count_workflows(query)).count


@dataclass
class _Scan:
    """What one pass over visibility gathers: per template, versions and start times."""

    per_template: dict[str, TemplateStats] = field(default_factory=dict)
    versions: dict[str, set[int]] = field(default_factory=lambda: defaultdict(set))
    started: dict[str, datetime] = field(default_factory=dict)  # by run id
    workflow_ids: set[str] = field(default_factory=set)


async def collect(
    client: Client,
    store: Store,
    *,
    slo: Slo | None = None,
    limit: int = 1000,
    scope: str | None = None,
) -> dict[str, Any]:
    """Every number `stats` prints, as one JSON-ready mapping.

    `scope` narrows every visibility query (e.g. `TaskQueue = 'x'`); `limit` caps how many
    executions are read one by one for durations and lateness.
    """
    slo = slo or Slo()
    base = f"{BASE} AND {scope}" if scope else BASE
    by_status, by_state = await _status_counts(client, base)
    scan = await _scan(client, base, limit)
    # The scan reads at most `limit` runs, newest first: older templates and versions come
    # from the store, so every one with a sequence is counted.
    for params in await store.templates.list_latest():
        for known in await store.templates.versions(params.name):
            scan.versions[known.name].add(known.version)
    by_version = await _version_counts(client, base, scan.versions)

    rows = await _audit(store, sorted(scan.workflow_ids))
    responses, failures = _responses_and_failures(rows)
    _count_first_contacts(rows, scan, slo)
    _lateness(rows, scan)

    per_template = scan.per_template
    return {
        "by_execution_status": by_status,
        "by_state": by_state,
        "by_template_version": by_version,
        # Families a holdout kept from a sequence: no run in Temporal, a decision in the store.
        "held_out_by_template_version": await store.outcomes.held_out_counts(),
        "templates": [per_template[name].summary(slo) for name in sorted(per_template)],
        "responses": responses,
        "failures_by_error_type": failures,
        "slo": {
            "first_contact_business_days": slo.first_contact_business_days,
            "p95_lateness_s": slo.p95_lateness.total_seconds(),
        },
    }


async def _status_counts(client: Client, base: str) -> tuple[dict[str, int], dict[str, int]]:
    """Sequences by execution status (one grouped count) and by state (one count each)."""
    grouped = await client.count_workflows(f"{base} GROUP BY ExecutionStatus")
    by_status = {
        str(group.group_values[0]): group.count for group in grouped.groups if group.group_values
    }
    by_state = {}
    for state in State:
        count = await _count(client, f"{base} AND InterventionState = '{state.value}'")
        if count:
            by_state[state.value] = count
    return by_status, by_state


async def _scan(client: Client, base: str, limit: int) -> _Scan:
    """One pass over visibility for template, version, start and close times."""
    scan = _Scan()
    async for execution in client.list_workflows(base, limit=limit):
        attrs = execution.typed_search_attributes
        name = attrs.get(TEMPLATE_NAME) or "unknown"
        stats = scan.per_template.setdefault(name, TemplateStats(name))
        stats.sequences += 1
        version = attrs.get(TEMPLATE_VERSION)
        if version is not None:
            scan.versions[name].add(version)
        # By run: a family's second sequence under the same id is a sequence of its own.
        scan.started[execution.run_id] = execution.start_time
        scan.workflow_ids.add(execution.id)
        if execution.close_time is not None:
            stats.durations_s.append((execution.close_time - execution.start_time).total_seconds())
    return scan


async def _version_counts(
    client: Client, base: str, versions: dict[str, set[int]]
) -> dict[str, int]:
    by_version = {}
    for name in sorted(versions):
        for version in sorted(versions[name]):
            count = await _count(
                client, f"{base} AND TemplateName = '{name}' AND TemplateVersion = {version}"
            )
            if count:
                by_version[f"{name} v{version}"] = count
    return by_version


def _count_first_contacts(rows: list[StepExecution], scan: _Scan, slo: Slo) -> None:
    """Per template: how many sequences made first contact within the SLO's business days."""
    for run_id, first in _first_contacts(rows).items():
        template, at = first
        started = scan.started.get(run_id)
        if started is None:  # a run visibility did not list (past the limit)
            continue
        stats = scan.per_template.setdefault(template, TemplateStats(template))
        stats.first_contact_total += 1
        due = add_business_days(started, slo.first_contact_business_days)
        stats.first_contact_ok += at <= due


async def _audit(store: Store, workflow_ids: list[str]) -> list[StepExecution]:
    if not workflow_ids:
        return []
    query = (
        select(StepExecution)
        .where(StepExecution.workflow_id.in_(workflow_ids))
        .order_by(StepExecution.workflow_id, StepExecution.created_at, StepExecution.id)
    )
    async with store.sessions() as session:
        return list(await session.scalars(query))


def _first_contacts(rows: list[StepExecution]) -> dict[str, tuple[str, datetime]]:
    """Each run's first contact: its template and when."""
    first: dict[str, tuple[str, datetime]] = {}
    for row in rows:
        if row.kind in CONTACT_KINDS and row.outcome != "failed" and row.run_id not in first:
            first[row.run_id] = (row.template, row.created_at)
    return first


def _responses_and_failures(
    rows: list[StepExecution],
) -> tuple[dict[str, dict[str, Any]], dict[str, int]]:
    """Per contact step: how often the family answered before the next check, and how fast.

    A wait for a reply wakes the moment the reply arrives and the check runs at once, so the
    check's time is the reply's time to within a workflow task.
    """
    sent: dict[str, int] = defaultdict(int)
    answered: dict[str, list[float]] = defaultdict(list)
    failures: dict[str, int] = defaultdict(int)
    last_contact: dict[str, StepExecution] = {}
    for row in rows:
        if row.error_type:
            failures[row.error_type] += 1
        if row.kind in MESSAGE_KINDS and not row.error_type:
            sent[f"{row.template}:{row.step_id}"] += 1
            last_contact[row.workflow_id] = row
        elif row.kind == "condition" and row.step_id in RESPONSE_CHECKS:
            contact = last_contact.pop(row.workflow_id, None)
            if contact is not None and row.outcome.lower().startswith("true"):
                delay = (row.created_at - contact.created_at).total_seconds()
                answered[f"{contact.template}:{contact.step_id}"].append(delay)
    responses = {
        step: {
            "sent": count,
            "answered": len(answered[step]),
            "response_rate": len(answered[step]) / count,
            "time_to_response_p50_s": percentile(answered[step], 50),
            "time_to_response_p95_s": percentile(answered[step], 95),
        }
        for step, count in sorted(sent.items())
    }
    return responses, dict(failures)


def _lateness(rows: list[StepExecution], scan: _Scan) -> None:
    """Started − due for every step whose audit row kept its timing: how late timers fired.

    From the store, so no sequence's result is fetched; rows recorded before the timing was
    kept count for nothing."""
    for row in rows:
        if row.due_at is not None and row.started_at is not None:
            stats = scan.per_template.setdefault(row.template, TemplateStats(row.template))
            stats.lateness_s.append(max(0.0, (row.started_at - row.due_at).total_seconds()))


def slo_lines(report: dict[str, Any]) -> list[dict[str, str]]:
    """One red/amber/green line per template, for the terminal and the inbox page."""
    lines = []
    for t in report["templates"]:
        share = t["first_contact_within_slo"]
        late = t["lateness_p95_s"]
        contact = "no contacts yet" if share is None else f"first contact in SLO {share:.0%}"
        lateness = "no lateness data" if late is None else f"p95 lateness {late:.0f}s"
        lines.append(
            {
                "rating": t["rating"],
                "text": f"{t['rating'].upper():<5} {t['template']}: {contact}, {lateness}",
            }
        )
    return lines


def render(report: dict[str, Any]) -> str:
    """The report as text for a person."""
    out = ["Sequences by execution status:"]
    out += [f"  {k:<18} {v}" for k, v in sorted(report["by_execution_status"].items())]
    out.append("By state:")
    out += [f"  {k:<18} {v}" for k, v in report["by_state"].items()]
    out.append("By template and version:")
    out += [f"  {k:<40} {v}" for k, v in report["by_template_version"].items()]
    held_out = report.get("held_out_by_template_version") or {}
    if held_out:
        out.append("Held out (no sequence; `followthrough impact NAME` compares them):")
        out += [f"  {k:<40} {v}" for k, v in held_out.items()]
    out.append("Durations (closed sequences):")
    for t in report["templates"]:
        p50, p95 = t["duration_p50_s"], t["duration_p95_s"]
        if p50 is not None:
            out.append(f"  {t['template']:<40} p50 {_secs(p50)}  p95 {_secs(p95)}")
    out.append("Responses per step:")
    for step, r in report["responses"].items():
        ttr = r["time_to_response_p50_s"]
        out.append(
            f"  {step:<40} {r['answered']}/{r['sent']} ({r['response_rate']:.0%})"
            + (f"  time to response p50 {_secs(ttr)}" if ttr is not None else "")
        )
    out.append("Failures by error type:")
    out += [f"  {k:<30} {v}" for k, v in sorted(report["failures_by_error_type"].items())]
    if not report["failures_by_error_type"]:
        out.append("  none")
    slo = report["slo"]
    out.append(
        f"SLOs: first contact within {slo['first_contact_business_days']} business day(s); "
        f"p95 step lateness under {slo['p95_lateness_s'] / 60:.0f} minutes"
    )
    out += [f"  {line['text']}" for line in slo_lines(report)]
    return "\n".join(out)


def _secs(value: float | None) -> str:
    if value is None:
        return "-"
    return str(timedelta(seconds=round(value)))
