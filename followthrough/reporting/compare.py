"""`followthrough stats --compare NAME`: a template's versions side by side.

Per version: sequences started, completed, failed (ended failed, or a step that failed), how
many families answered, the time to their first answer, and the sample sizes. Then one
statement: which version is ahead on response rate and whether the difference is beyond noise,
by a pooled two-proportion z-test (statsmodels, through `reporting.proportions`) between the
rollout's version (else the newest) and the busiest other one.

Sequences come from Temporal visibility (`TemplateName = 'x'`); where visibility cannot list
(the time-skipping test server) they come from the store's audit trail. Each one's answers
come from its `status` query, in workflow time, so a simulated month reads like a real one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from temporalio.client import Client, WorkflowExecutionStatus, WorkflowQueryFailedError
from temporalio.service import RPCError, RPCStatusCode

from contracts import InterventionStatus, State
from followthrough.reporting.proportions import CONFIDENCE, pooled_z
from store import StepExecution, Store
from workflows.search_attributes import TEMPLATE_VERSION

QUERY_TIMEOUT = timedelta(seconds=5)


@dataclass
class VersionOutcome:
    """What one version's sequences did."""

    version: int
    started: int = 0
    running: int = 0
    completed: int = 0
    failed: int = 0
    responded: int = 0
    first_response_s: list[float] = field(default_factory=list)

    @property
    def response_rate(self) -> float | None:
        return self.responded / self.started if self.started else None

    def median_first_response_s(self) -> float | None:
        values = sorted(self.first_response_s)
        if not values:
            return None
        middle = len(values) // 2
        return values[middle] if len(values) % 2 else (values[middle - 1] + values[middle]) / 2


@dataclass(frozen=True)
class ZTest:
    """A two-proportion z-test of `b` against `a` (pooled standard error, two-sided)."""

    z: float
    p_value: float

    @property
    def beyond_noise(self) -> bool:
        return self.p_value < 1 - CONFIDENCE


def two_proportion_z(hits_a: int, n_a: int, hits_b: int, n_b: int) -> ZTest | None:
    """The z-test of rate b against rate a; None when a side is empty or nothing varies."""
    result = pooled_z(hits_a, n_a, hits_b, n_b)
    return None if result is None else ZTest(z=result[0], p_value=result[1])


@dataclass
class Comparison:
    """The versions of one template side by side, and the verdict between two of them."""

    template: str
    versions: dict[int, VersionOutcome]
    candidate: int | None
    baseline: int | None
    rollout: str | None = None
    # Sequences whose status no worker answered: left out of the numbers above.
    unread: list[str] = field(default_factory=list)

    def test(self) -> ZTest | None:
        if self.candidate is None or self.baseline is None:
            return None
        a, b = self.versions[self.baseline], self.versions[self.candidate]
        return two_proportion_z(a.responded, a.started, b.responded, b.started)

    def statement(self) -> str:
        """Which version is ahead on response rate, and whether that is beyond noise."""
        if self.candidate is None or self.baseline is None:
            return "only one version has sequences: nothing to compare yet"
        a, b = self.versions[self.baseline], self.versions[self.candidate]
        rate_a, rate_b = a.response_rate or 0.0, b.response_rate or 0.0
        result = self.test()
        if result is None:
            return (
                f"v{self.candidate} and v{self.baseline} cannot be told apart yet "
                f"(response rates {rate_b:.0%} and {rate_a:.0%}, n={b.started} and {a.started})"
            )
        if rate_a == rate_b:
            leader = f"v{self.candidate} and v{self.baseline} are level"
        else:
            ahead, behind = (
                (self.candidate, self.baseline)
                if rate_b > rate_a
                else (self.baseline, self.candidate)
            )
            leader = (
                f"v{ahead} is ahead of v{behind} on response rate by "
                f"{abs(rate_b - rate_a) * 100:.1f} points"
            )
        verdict = (
            f"beyond noise at {CONFIDENCE:.0%} confidence"
            if result.beyond_noise
            else f"within noise (not significant at {CONFIDENCE:.0%}; keep collecting)"
        )
        return (
            f"{leader} ({rate_b:.0%} of {b.started} vs {rate_a:.0%} of {a.started}; "
            f"z={result.z:+.2f}, p={result.p_value:.3f}): {verdict}"
        )

    def as_dict(self) -> dict[str, Any]:
        result = self.test()
        return {
            "template": self.template,
            "rollout": self.rollout,
            "candidate": self.candidate,
            "baseline": self.baseline,
            "versions": [
                {
                    "version": v.version,
                    "started": v.started,
                    "running": v.running,
                    "completed": v.completed,
                    "failed": v.failed,
                    "responded": v.responded,
                    "response_rate": v.response_rate,
                    "first_response_median_s": v.median_first_response_s(),
                    "first_response_samples": len(v.first_response_s),
                }
                for v in sorted(self.versions.values(), key=lambda o: o.version)
            ],
            "z": None if result is None else result.z,
            "p_value": None if result is None else result.p_value,
            "statement": self.statement(),
            "unread": self.unread,
        }

    def lines(self) -> list[str]:
        """The table and the statement, for the terminal."""
        out = [
            f"{self.template}: versions side by side"
            + (f" ({self.rollout})" if self.rollout else "")
        ]
        out.append(
            f"  {'version':<8} {'started':>7} {'running':>7} {'completed':>9} {'failed':>6} "
            f"{'answered':>8} {'rate':>6} {'first answer (median, n)':>26}"
        )
        for v in sorted(self.versions.values(), key=lambda o: o.version):
            rate = "-" if v.response_rate is None else f"{v.response_rate:.0%}"
            median = v.median_first_response_s()
            first = "-" if median is None else f"{_span(median)} (n={len(v.first_response_s)})"
            out.append(
                f"  v{v.version:<7} {v.started:>7} {v.running:>7} {v.completed:>9} {v.failed:>6} "
                f"{v.responded:>8} {rate:>6} {first:>26}"
            )
        if self.unread:
            out.append(
                f"({len(self.unread)} sequences left out: no worker answered their status query)"
            )
        out.append(self.statement())
        return out


async def compare(
    client: Client,
    store: Store,
    template: str,
    *,
    limit: int = 1000,
    query_timeout: timedelta = QUERY_TIMEOUT,
) -> Comparison:
    """Collect the sequences of `template` (the newest `limit`) and put its versions side by
    side. Each one costs a describe and a query, hence the bound."""
    versions: dict[int, VersionOutcome] = {}
    unread: list[str] = []
    for workflow_id, run_id in (await _sequences(client, store, template, limit))[:limit]:
        # Each run is a sequence of its own: a family's second one under the same id too.
        handle = client.get_workflow_handle(workflow_id, run_id=run_id)
        description = await handle.describe()
        try:
            status: InterventionStatus = await handle.query(
                "status", result_type=InterventionStatus, rpc_timeout=query_timeout
            )
        except (RPCError, WorkflowQueryFailedError):
            # No worker answered: without its answers the sequence would bias the rates,
            # so it stays out of the sample and is reported instead.
            unread.append(workflow_id)
            continue
        version = description.typed_search_attributes.get(TEMPLATE_VERSION)
        outcome = versions.setdefault(
            version or status.template_version, VersionOutcome(version or status.template_version)
        )
        _count(outcome, description.status, description.start_time, status)
    rollout = await store.rollouts.get(template)
    candidate = rollout.version if rollout is not None else (max(versions) if versions else None)
    others = [v for v in versions.values() if v.version != candidate]
    baseline = max(others, key=lambda o: (o.started, o.version)).version if others else None
    if candidate not in versions:
        candidate = None
    share = None if rollout is None else f"rollout: v{rollout.version} at {rollout.percent}%"
    return Comparison(template, versions, candidate, baseline, share, unread)


def _count(
    outcome: VersionOutcome,
    execution: WorkflowExecutionStatus | None,
    started_at: datetime,
    status: InterventionStatus,
) -> None:
    outcome.started += 1
    if execution == WorkflowExecutionStatus.RUNNING:
        outcome.running += 1
    elif status.state == State.COMPLETED:
        outcome.completed += 1
    if status.state == State.FAILED or any(step.status == "failed" for step in status.steps):
        outcome.failed += 1
    if status.responses:
        outcome.responded += 1
        first = min(response.at for response in status.responses)
        outcome.first_response_s.append(max(0.0, (first - started_at).total_seconds()))


async def _sequences(
    client: Client, store: Store, template: str, limit: int
) -> list[tuple[str, str | None]]:
    """The sequences of `template` as (workflow id, run id), from visibility, or from the
    audit trail (the current run of each id) where visibility cannot list them. A run that
    continued as new is left out: the run it continued as carries its state."""
    try:
        return [
            (execution.id, execution.run_id)
            async for execution in client.list_workflows(
                f"TemplateName = '{template}' AND ExecutionStatus != 'ContinuedAsNew'",
                limit=limit,
            )
        ]
    except RPCError as err:
        if err.status != RPCStatusCode.UNIMPLEMENTED:
            raise
    async with store.sessions() as session:
        rows = await session.scalars(
            select(StepExecution.workflow_id).where(StepExecution.template == template).distinct()
        )
        return [(workflow_id, None) for workflow_id in sorted(rows)]


def _span(seconds: float) -> str:
    minutes = int(seconds // 60)
    days, rest = divmod(minutes, 24 * 60)
    hours, minutes = divmod(rest, 60)
    return f"{days}d {hours:02d}:{minutes:02d}" if days else f"{hours}h {minutes:02d}m"
