"""`followthrough impact TEMPLATE`: did the sequences change what happened to families?

The families a template reached (a sequence started) against those it held out, over the
versions that had a holdout: each decision's window (`reporting.windows`) says success or
failure by the template's `success_outcome` and `no_outcome_means`, or pending while it is
still open. Per side the success rate; between them the lift in percentage points with its
95% interval (`reporting.proportions`), the relative lift, and a plain sentence. Split by
template version and by the prediction's risk band.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from contracts import SequenceParams
from followthrough.operations import OperationError
from followthrough.reporting.proportions import difference, needed_sample
from followthrough.reporting.windows import Window, success_verdict
from store import Store
from store.outcomes import Decision

DEFAULT_EFFECT_PP = 5.0


class ImpactError(OperationError):
    """The report cannot be made; the message names the option and the reason."""


@dataclass
class Tally:
    """Decided windows on each side: how many, and how many ended in success."""

    treated: int = 0
    treated_success: int = 0
    held_out: int = 0
    held_out_success: int = 0

    def add(self, held_out: bool, success: bool) -> None:
        if held_out:
            self.held_out += 1
            self.held_out_success += success
        else:
            self.treated += 1
            self.treated_success += success


@dataclass(frozen=True)
class Lift:
    """The lift of one group of decisions, and what to say about it."""

    tally: Tally
    holdout_percent: int
    effect_pp: float

    def _rate(self, hits: int, n: int) -> float | None:
        return hits / n if n else None

    @property
    def rate_treated(self) -> float | None:
        return self._rate(self.tally.treated_success, self.tally.treated)

    @property
    def rate_held_out(self) -> float | None:
        return self._rate(self.tally.held_out_success, self.tally.held_out)

    def as_dict(self) -> dict[str, Any]:
        t = self.tally
        diff = difference(t.held_out_success, t.held_out, t.treated_success, t.treated)
        rate_t, rate_h = self.rate_treated, self.rate_held_out
        relative = None if diff is None or not rate_h else diff.diff / rate_h
        return {
            "treated": t.treated,
            "held_out": t.held_out,
            "success_treated": t.treated_success,
            "success_held_out": t.held_out_success,
            "success_rate_treated": rate_t,
            "success_rate_held_out": rate_h,
            "lift_pp": None if diff is None else round(diff.diff * 100, 2),
            "ci_low_pp": None if diff is None else round(diff.low * 100, 2),
            "ci_high_pp": None if diff is None else round(diff.high * 100, 2),
            "relative_lift": None if relative is None else round(relative, 4),
            "p_value": None if diff is None else diff.p_value,
            "verdict": self.verdict(),
            "needed": self.needed(),
            "sentence": self.sentence(),
        }

    def needed(self) -> dict[str, Any]:
        """The families each side needs to see a lift of `effect_pp`."""
        share = self.holdout_percent / 100 if self.holdout_percent else 0.2
        baseline = self.rate_held_out if self.rate_held_out is not None else 0.5
        held, treated = needed_sample(baseline, self.effect_pp / 100, (1 - share) / share)
        return {"effect_pp": self.effect_pp, "treated": treated, "held_out": held}

    def verdict(self) -> str:
        t = self.tally
        diff = difference(t.held_out_success, t.held_out, t.treated_success, t.treated)
        if diff is not None and diff.beyond_noise:
            return "beyond noise"
        need = self.needed()
        if diff is None or t.treated < need["treated"] or t.held_out < need["held_out"]:
            return "too few families"
        return "within noise"

    def sentence(self) -> str:
        t = self.tally
        sides = f"{t.treated:,} treated vs {t.held_out:,} held out"
        diff = difference(t.held_out_success, t.held_out, t.treated_success, t.treated)
        verdict = self.verdict()
        if diff is None:
            text = f"no lift yet: {sides}"
        else:
            text = (
                f"{diff.diff * 100:+.1f} pp (95% CI {diff.low * 100:+.1f} to "
                f"{diff.high * 100:+.1f}), {sides}: {verdict}"
            )
        if verdict == "too few families":
            need = self.needed()
            text += (
                f"; too few families to tell: a {self.effect_pp:g} pp lift needs about "
                f"{need['treated']:,} treated and {need['held_out']:,} held out "
                f"({max(0, need['treated'] - t.treated):,} and "
                f"{max(0, need['held_out'] - t.held_out):,} more)"
            )
        return text


@dataclass
class ImpactReport:
    """A template's lift overall, per version and per risk band."""

    template: str
    success_outcome: str
    no_outcome_means: str
    overall: Lift
    versions: dict[int, Lift] = field(default_factory=dict)
    bands: dict[str, Lift] = field(default_factory=dict)
    pending: int = 0
    without_holdout: int = 0
    since: datetime | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "template": self.template,
            "success_outcome": self.success_outcome,
            "no_outcome_means": self.no_outcome_means,
            "since": None if self.since is None else self.since.isoformat(),
            **self.overall.as_dict(),
            "pending": self.pending,
            "without_holdout": self.without_holdout,
            "versions": {str(v): lift.as_dict() for v, lift in sorted(self.versions.items())},
            "risk_bands": {band: lift.as_dict() for band, lift in sorted(self.bands.items())},
        }

    def lines(self) -> list[str]:
        """The report for the terminal."""
        rule = f"success = {self.success_outcome}; no outcome = {self.no_outcome_means}"
        out = [f"{self.template}: impact ({rule})", f"  {self.overall.sentence()}"]
        overall = self.overall.as_dict()
        if overall["relative_lift"] is not None:
            out.append(
                f"  success {overall['success_rate_treated']:.1%} treated vs "
                f"{overall['success_rate_held_out']:.1%} held out: relative lift "
                f"{overall['relative_lift']:+.0%}"
            )
        out.append(f"  {'':<14} {'treated':>8} {'success':>8} {'held out':>9} {'success':>8}")
        out += [_row(f"v{v}", lift) for v, lift in sorted(self.versions.items())]
        out += [_row(f"risk {band}", lift) for band, lift in sorted(self.bands.items())]
        for key, lift in [*sorted(self.versions.items()), *sorted(self.bands.items())]:
            label = f"v{key}" if isinstance(key, int) else f"risk {key}"
            out.append(f"  {label}: {lift.sentence()}")
        if self.pending:
            out.append(f"  {self.pending:,} families still inside their window: not counted yet")
        if self.without_holdout:
            out.append(
                f"  {self.without_holdout:,} starts under versions without a holdout: "
                "left out (nothing to compare them with)"
            )
        return out


def _row(label: str, lift: Lift) -> str:
    def pct(rate: float | None) -> str:
        return "-" if rate is None else f"{rate:.1%}"

    t = lift.tally
    return (
        f"  {label:<14} {t.treated:>8,} {pct(lift.rate_treated):>8} {t.held_out:>9,} "
        f"{pct(lift.rate_held_out):>8}"
    )


def risk_band(probability: float | None) -> str:
    """The prediction's tenth of probability (0.8-0.9), or "no prediction"."""
    if probability is None:
        return "no prediction"
    low = min(math.floor(probability * 10), 9) / 10
    return f"{low:.1f}-{low + 0.1:.1f}"


async def impact(
    store: Store,
    template: str,
    *,
    version: int | None = None,
    since: datetime | None = None,
    now: datetime | None = None,
    effect_pp: float = DEFAULT_EFFECT_PP,
) -> ImpactReport:
    """The lift of `template`'s sequences over its held-out families (see the module)."""
    versions = {p.version: p for p in await store.templates.versions(template)}
    if not versions:
        raise ImpactError(f"template: no template named {template!r}")
    measured = _measured(template, versions, version)
    now = now or datetime.now(UTC)
    decisions = await store.outcomes.decisions(template=template, since=since)
    outcomes = await store.outcomes.of_families(d.family_id for d in decisions)
    shown = measured[max(measured)]
    report = ImpactReport(
        template,
        shown.success_outcome or "",
        shown.no_outcome_means,
        Lift(Tally(), shown.holdout_percent, effect_pp),
        since=since,
    )
    for decision in decisions:
        _count(report, decision, versions, measured, outcomes, now, effect_pp)
    return report


def _measured(
    template: str, versions: dict[int, SequenceParams], version: int | None
) -> dict[int, SequenceParams]:
    """The versions whose decisions are compared: those with a holdout (or the one asked)."""
    if version is not None:
        params = versions.get(version)
        if params is None:
            raise ImpactError(f"version: {template} has no version {version}")
        if params.holdout_percent == 0:
            raise ImpactError(
                f"version: {template} v{version} had no holdout (holdout_percent 0): "
                "no held-out families to compare with"
            )
        return {version: params}
    measured = {v: p for v, p in versions.items() if p.holdout_percent > 0}
    if not measured:
        raise ImpactError(
            f"template: {template} has never had a holdout (holdout_percent is 0 in every "
            "version); set holdout_percent and success_outcome in a new version"
        )
    return measured


def _count(
    report: ImpactReport,
    decision: Decision,
    versions: dict[int, SequenceParams],
    measured: dict[int, SequenceParams],
    outcomes: dict[str, list[tuple[str, datetime]]],
    now: datetime,
    effect_pp: float,
) -> None:
    params = measured.get(decision.version) if decision.version is not None else None
    if params is None:
        if decision.version in versions and not decision.held_out:
            report.without_holdout += 1
        return
    window = Window.of(decision.family_id, decision.decided_at, decision.window_days)
    verdict = success_verdict(
        window,
        outcomes.get(decision.family_id, []),
        success_outcome=params.success_outcome or "",
        no_outcome_means=params.no_outcome_means,
        now=now,
    )
    if verdict == "pending":
        report.pending += 1
        return
    success = verdict == "success"
    report.overall.tally.add(decision.held_out, success)
    fresh = Lift(Tally(), params.holdout_percent, effect_pp)
    report.versions.setdefault(params.version, fresh).tally.add(decision.held_out, success)
    fresh = Lift(Tally(), params.holdout_percent, effect_pp)
    band = risk_band(decision.probability)
    report.bands.setdefault(band, fresh).tally.add(decision.held_out, success)
