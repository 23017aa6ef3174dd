"""The dashboard's outcome pictures: a template's measured lift with its 95% interval
(`reporting.impact`) and the model's calibration curve against the diagonal
(`reporting.calibration`), each as inline SVG beside the numbers it draws.

Where there is nothing honest to draw (no holdout, too few families, no answered
prediction) the page says so in words instead of a chart.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from markupsafe import Markup

from followthrough.reporting.calibration import ModelCalibration, calibration
from followthrough.reporting.impact import ImpactError, impact
from followthrough.web import charts
from store import Store


@dataclass
class LiftPicture:
    """The lift rows (overall, per version, per risk band), their chart, or why none."""

    sentence: str = ""
    rows: list[dict[str, Any]] = field(default_factory=list)
    chart: Markup | None = None
    why_no_chart: str = ""


@dataclass
class CalibrationPicture:
    """One model version's calibration table and chart, or why none."""

    model_version: str
    brier: float | None
    bins: list[dict[str, Any]]
    chart: Markup | None = None
    why_no_chart: str = ""


async def lift_picture(store: Store, template: str) -> LiftPicture:
    """`template`'s lift over its held-out families as a chart and a table."""
    try:
        report = (await impact(store, template)).as_dict()
    except ImpactError as err:
        return LiftPicture(why_no_chart=str(err).split(": ", 1)[-1])
    rows = [{"label": "all versions", **report}]
    rows += [{"label": f"v{v}", **lift} for v, lift in report["versions"].items()]
    rows += [{"label": f"risk {b}", **lift} for b, lift in report["risk_bands"].items()]
    picture = LiftPicture(sentence=report["sentence"], rows=rows)
    if report["verdict"] == "too few families":
        picture.why_no_chart = f"Too few families to draw a lift: {report['sentence']}."
        return picture
    drawn = [r for r in rows if r["lift_pp"] is not None]
    picture.chart = Markup(
        charts.interval_chart(
            f"{template}: lift in percentage points with its 95% interval",
            [
                charts.Interval(r["label"], r["lift_pp"], r["ci_low_pp"], r["ci_high_pp"])
                for r in drawn
            ],
        )
    )
    return picture


async def calibration_pictures(store: Store) -> list[CalibrationPicture]:
    """Each model version's calibration over untreated families, as a chart and a table."""
    return [_calibration_picture(model) for model in await calibration(store)]


def _calibration_picture(model: ModelCalibration) -> CalibrationPicture:
    bins = [b.as_dict() for b in model.bins if b.families]
    picture = CalibrationPicture(model.model_version, model.brier, bins)
    if not bins:
        picture.why_no_chart = (
            f"No answered prediction of model {model.model_version} yet "
            f"({model.pending:,} still inside their window): nothing to draw."
        )
        return picture
    points = [
        charts.Point(b["mean_predicted"], b["observed_rate"], b["ci_low"], b["ci_high"])
        for b in bins
    ]
    picture.chart = Markup(
        charts.calibration_chart(
            f"Model {model.model_version}: observed rate against predicted probability", points
        )
    )
    return picture
