"""Charts as inline SVG, drawn on the server from plain numbers (pure: no I/O, no state).

Nothing is fetched by the browser. Colour is never the only cue: every bar carries its
number as text, a second series is told apart by a hatch pattern, a line by its dash and
marker shape, and each chart names its series in a legend and in its accessible label.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from html import escape

LABEL_WIDTH = 170
BAR_HEIGHT = 22
GAP = 6
WIDTH = 560
PLOT_HEIGHT = 180

# Two fills a reader tells apart without colour: solid and hatched.
_DEFS = (
    '<defs><pattern id="hatch" width="6" height="6" patternUnits="userSpaceOnUse" '
    'patternTransform="rotate(45)"><rect width="6" height="6" fill="#ffffff"/>'
    '<line x1="0" y1="0" x2="0" y2="6" stroke="#1d2330" stroke-width="3"/></pattern></defs>'
)
_SOLID = "#5b7fbf"
_MARKERS = ("circle", "square")
_DASHES = ("", "6 4")


@dataclass(frozen=True)
class Bar:
    """One horizontal bar: its label, its value and, optionally, a highlighted part of it."""

    label: str
    value: float
    part: float | None = None
    text: str | None = None  # what to print beside the bar; the value by default


@dataclass(frozen=True)
class Series:
    """One line of a line chart: a name for the legend and a value per x label."""

    name: str
    values: Sequence[float | None]


def _number(value: float) -> str:
    return f"{value:.0f}" if float(value).is_integer() else f"{value:.2f}"


def _svg(width: int, height: int, label: str, body: list[str]) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" width="{width}" '
        f'height="{height}" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{escape(label)}"><title>{escape(label)}</title>{_DEFS}'
        + "".join(body)
        + "</svg>"
    )


def bar_chart(
    title: str, bars: Sequence[Bar], *, part_name: str = "", whole_name: str = "all"
) -> str:
    """Horizontal bars scaled to the largest value, each with its label and number.

    With `part_name`, each bar's `part` is drawn hatched over its start (e.g. the replies
    among the sequences that reached a step) and the legend names both (`whole_name` the
    bar's)."""
    top = max((b.value for b in bars), default=0.0) or 1.0
    span = WIDTH - LABEL_WIDTH - 70
    legend = 22 if part_name else 0
    height = legend + len(bars) * (BAR_HEIGHT + GAP) + GAP
    body: list[str] = []
    if part_name:
        body.append(_legend_box(0, _SOLID, whole_name))
        body.append(_legend_box(160, "url(#hatch)", part_name))
    for index, bar in enumerate(bars):
        y = legend + GAP + index * (BAR_HEIGHT + GAP)
        width = max(0.0, bar.value) / top * span
        text = bar.text if bar.text is not None else _number(bar.value)
        body.append(
            f'<text x="{LABEL_WIDTH - 6}" y="{y + 15}" text-anchor="end" '
            f'font-size="12">{escape(bar.label)}</text>'
            f'<rect x="{LABEL_WIDTH}" y="{y}" width="{width:.1f}" height="{BAR_HEIGHT}" '
            f'fill="{_SOLID}" stroke="#1d2330" stroke-width="0.5"/>'
        )
        if bar.part:
            part = max(0.0, min(bar.part, bar.value)) / top * span
            body.append(
                f'<rect x="{LABEL_WIDTH}" y="{y + 4}" width="{part:.1f}" '
                f'height="{BAR_HEIGHT - 8}" fill="url(#hatch)" stroke="#1d2330" '
                'stroke-width="0.5"/>'
            )
        body.append(
            f'<text x="{LABEL_WIDTH + width + 6:.1f}" y="{y + 15}" font-size="12">'
            f"{escape(text)}</text>"
        )
    return _svg(WIDTH, height, title, body)


def _legend_box(x: int, fill: str, name: str) -> str:
    return (
        f'<rect x="{x + 4}" y="4" width="14" height="14" fill="{fill}" stroke="#1d2330" '
        f'stroke-width="0.5"/><text x="{x + 24}" y="16" font-size="12">{escape(name)}</text>'
    )


def line_chart(title: str, labels: Sequence[str], series: Sequence[Series]) -> str:
    """Lines over shared x labels (e.g. weeks), each with its own dash and marker shape.

    All series share one y axis from 0 to the largest value; a None is a gap in the line."""
    top = max((v for s in series for v in s.values if v is not None), default=0.0) or 1.0
    left, bottom, legend = 40, 30, 22
    height = legend + PLOT_HEIGHT + bottom
    step = (WIDTH - left - 20) / max(len(labels) - 1, 1)
    body = [
        f'<line x1="{left}" y1="{legend + PLOT_HEIGHT}" x2="{WIDTH - 10}" '
        f'y2="{legend + PLOT_HEIGHT}" stroke="#1d2330"/>',
        f'<text x="{left - 4}" y="{legend + 10}" text-anchor="end" font-size="11">'
        f"{_number(top)}</text>",
        f'<text x="{left - 4}" y="{legend + PLOT_HEIGHT}" text-anchor="end" '
        'font-size="11">0</text>',
    ]
    for index, label in enumerate(labels):
        x = left + index * step
        body.append(
            f'<text x="{x:.1f}" y="{legend + PLOT_HEIGHT + 16}" text-anchor="middle" '
            f'font-size="10">{escape(label)}</text>'
        )
    for number, line in enumerate(series):
        dash, marker = _DASHES[number % 2], _MARKERS[number % 2]
        body.append(_legend_line(number * 200, dash, marker, line.name))
        points = [
            (left + i * step, legend + PLOT_HEIGHT - v / top * PLOT_HEIGHT)
            for i, v in enumerate(line.values)
            if v is not None
        ]
        if len(points) > 1:
            path = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
            body.append(
                f'<polyline points="{path}" fill="none" stroke="#1d2330" stroke-width="2" '
                f'stroke-dasharray="{dash}"/>'
            )
        body += [_marker(marker, x, y) for x, y in points]
    return _svg(WIDTH, height, title, body)


def _marker(shape: str, x: float, y: float) -> str:
    if not shape:
        return ""
    if shape == "circle":
        return f'<circle cx="{x:.1f}" cy="{y:.1f}" r="4" fill="#1d2330"/>'
    return (
        f'<rect x="{x - 4:.1f}" y="{y - 4:.1f}" width="8" height="8" fill="#ffffff" '
        'stroke="#1d2330"/>'
    )


def _legend_line(x: int, dash: str, marker: str, name: str) -> str:
    return (
        f'<line x1="{x + 2}" y1="11" x2="{x + 30}" y2="11" stroke="#1d2330" stroke-width="2" '
        f'stroke-dasharray="{dash}"/>{_marker(marker, x + 16, 11)}'
        f'<text x="{x + 36}" y="15" font-size="12">{escape(name)}</text>'
    )


def rating_badge(rating: str) -> str:
    """The SLO rating as a shape and a word, so it reads without colour: ● green, ▲ amber,
    ■ red."""
    shapes = {
        "green": ("&#9679;", "#1f7a3a"),
        "amber": ("&#9650;", "#a76a00"),
        "red": ("&#9632;", "#a32020"),
    }
    shape, colour = shapes.get(rating, ("?", "#555555"))
    return (
        f'<span class="rating {escape(rating)}" style="color:{colour}">{shape} '
        f"{escape(rating.upper())}</span>"
    )


@dataclass(frozen=True)
class Interval:
    """One estimate with its 95% interval (e.g. a lift in percentage points)."""

    label: str
    value: float
    low: float
    high: float


def _axis(low: float, high: float, left: float, right: float) -> Callable[[float], float]:
    span = (high - low) or 1.0
    return lambda v: left + (v - low) / span * (right - left)


def interval_chart(title: str, rows: Sequence[Interval], *, unit: str = "pp") -> str:
    """Each estimate as a dot on a whisker from its low to its high end, against a dashed
    line at zero; the numbers are printed on every row, so no colour is needed."""
    lo = min([0.0, *(r.low for r in rows)])
    hi = max([0.0, *(r.high for r in rows)])
    right = WIDTH - 20
    x = _axis(lo, hi, LABEL_WIDTH, right - 150)
    height = 24 + len(rows) * (BAR_HEIGHT + GAP) + GAP
    bottom = height - 18
    body = [
        f'<line class="zero" x1="{x(0):.1f}" y1="4" x2="{x(0):.1f}" y2="{bottom}" '
        'stroke="#1d2330" stroke-dasharray="4 3"/>',
        f'<text x="{x(0):.1f}" y="{height - 4}" text-anchor="middle" font-size="11">0 {unit}'
        "</text>",
    ]
    for index, row in enumerate(rows):
        y = GAP + index * (BAR_HEIGHT + GAP) + BAR_HEIGHT / 2
        body.append(
            f'<text x="{LABEL_WIDTH - 6}" y="{y + 4}" text-anchor="end" font-size="12">'
            f"{escape(row.label)}</text>"
            f'<line class="interval" x1="{x(row.low):.1f}" y1="{y}" x2="{x(row.high):.1f}" '
            f'y2="{y}" stroke="#1d2330" stroke-width="2"/>'
            f'<line x1="{x(row.low):.1f}" y1="{y - 5}" x2="{x(row.low):.1f}" y2="{y + 5}" '
            'stroke="#1d2330" stroke-width="2"/>'
            f'<line x1="{x(row.high):.1f}" y1="{y - 5}" x2="{x(row.high):.1f}" y2="{y + 5}" '
            'stroke="#1d2330" stroke-width="2"/>'
            f'<circle class="estimate" cx="{x(row.value):.1f}" cy="{y}" r="5" fill="{_SOLID}" '
            'stroke="#1d2330"/>'
            f'<text x="{right - 140}" y="{y + 4}" font-size="12">{row.value:+.1f} '
            f"({row.low:+.1f} to {row.high:+.1f}) {unit}</text>"
        )
    return _svg(WIDTH, height, title, body)


@dataclass(frozen=True)
class Point:
    """One group of predictions: its mean predicted probability, its observed rate and the
    rate's 95% interval (all 0..1)."""

    predicted: float
    observed: float
    low: float
    high: float


def calibration_chart(title: str, points: Sequence[Point]) -> str:
    """Observed rate against predicted probability on 0..1 axes, with the dashed diagonal
    a perfectly calibrated model would follow; each point carries its interval."""
    side, left, top = 240, 40, 26
    x = _axis(0.0, 1.0, left, left + side)
    y = _axis(0.0, 1.0, top + side, top)
    body = [
        _legend_line(0, "", "circle", "observed"),
        _legend_line(130, "6 4", "", "perfect calibration"),
        f'<rect x="{left}" y="{top}" width="{side}" height="{side}" fill="none" '
        'stroke="#1d2330" stroke-width="0.5"/>',
        f'<line class="diagonal" x1="{x(0)}" y1="{y(0)}" x2="{x(1)}" y2="{y(1)}" '
        'stroke="#1d2330" stroke-dasharray="6 4"/>',
        f'<text x="{left + side / 2}" y="{top + side + 28}" text-anchor="middle" '
        'font-size="11">predicted probability</text>',
        f'<text transform="translate(14 {top + side / 2}) rotate(-90)" text-anchor="middle" '
        'font-size="11">observed rate</text>',
        f'<text x="{left - 4}" y="{top + 10}" text-anchor="end" font-size="11">1</text>'
        f'<text x="{left - 4}" y="{top + side}" text-anchor="end" font-size="11">0</text>'
        f'<text x="{left + side}" y="{top + side + 14}" text-anchor="middle" '
        'font-size="11">1</text>',
    ]
    ordered = sorted(points, key=lambda p: p.predicted)
    if len(ordered) > 1:
        path = " ".join(f"{x(p.predicted):.1f},{y(p.observed):.1f}" for p in ordered)
        body.append(f'<polyline points="{path}" fill="none" stroke="#1d2330" stroke-width="2"/>')
    for p in ordered:
        body.append(
            f'<line class="interval" x1="{x(p.predicted):.1f}" y1="{y(p.low):.1f}" '
            f'x2="{x(p.predicted):.1f}" y2="{y(p.high):.1f}" stroke="#1d2330"/>'
        )
        body.append(_marker("circle", x(p.predicted), y(p.observed)))
    return _svg(left + side + 20, top + side + 36, title, body)
