"""The lift and calibration charts: valid SVG, drawn where the numbers say, no colour needed."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from followthrough.web.charts import Interval, Point, calibration_chart, interval_chart

SVG = "{http://www.w3.org/2000/svg}"


def one(root: ET.Element, tag: str, cls: str) -> ET.Element:
    found = [e for e in root.iter(f"{SVG}{tag}") if e.get("class") == cls]
    assert len(found) == 1, f"{len(found)} {tag}.{cls}"
    return found[0]


def number(element: ET.Element, name: str) -> float:
    value = element.get(name)
    assert value is not None, f"no {name} on {element.tag}"
    return float(value)


def test_an_interval_spans_its_low_and_high_ends_around_zero():
    root = ET.fromstring(interval_chart("Lift <v2>", [Interval("all", 15.0, 5.0, 25.0)]))
    assert root.get("aria-label") == "Lift <v2>" and root.findtext(f"{SVG}title") == "Lift <v2>"
    zero = number(one(root, "line", "zero"), "x1")
    line = one(root, "line", "interval")
    low, high = number(line, "x1"), number(line, "x2")
    dot = number(one(root, "circle", "estimate"), "cx")
    # One linear scale: 0, 5, 15 and 25 pp land in that order and in proportion.
    assert zero < low < dot < high
    assert (low - zero) / (high - zero) == pytest.approx(5 / 25, abs=0.01)
    assert (dot - zero) / (high - zero) == pytest.approx(15 / 25, abs=0.01)
    texts = "".join(root.itertext())
    assert "+15.0 (+5.0 to +25.0) pp" in texts and "0 pp" in texts


def test_an_interval_across_zero_straddles_the_zero_line():
    chart = interval_chart(
        "Null", [Interval("all", 0.5, -4.0, 5.0), Interval("v1", -2.0, -9.0, 5.0)]
    )
    root = ET.fromstring(chart)
    zero = number(one(root, "line", "zero"), "x1")
    lines = [e for e in root.iter(f"{SVG}line") if e.get("class") == "interval"]
    assert len(lines) == 2
    for line in lines:
        assert number(line, "x1") < zero < number(line, "x2")
    # The widest low end (-9) sits at the left edge of the scale; both share one scale.
    assert number(lines[1], "x1") < number(lines[0], "x1")
    assert "-2.0 (-9.0 to +5.0) pp" in "".join(root.itertext())


def test_the_calibration_chart_has_the_diagonal_and_puts_each_point_where_it_was_seen():
    points = [Point(0.25, 0.30, 0.20, 0.40), Point(0.75, 0.70, 0.60, 0.80)]
    root = ET.fromstring(calibration_chart("Model m1", points))
    diagonal = one(root, "line", "diagonal")
    x0, y0, x1, y1 = (number(diagonal, n) for n in ("x1", "y1", "x2", "y2"))
    assert x1 > x0 and y1 < y0 and x1 - x0 == pytest.approx(y0 - y1)  # 0,0 to 1,1
    assert diagonal.get("stroke-dasharray")  # told apart from the curve by its dash
    circles = [c for c in root.iter(f"{SVG}circle") if number(c, "cy") > 20]  # not the legend's
    assert len(circles) == 2
    for point, circle in zip(points, circles, strict=True):
        assert (number(circle, "cx") - x0) / (x1 - x0) == pytest.approx(point.predicted, abs=0.01)
        assert (y0 - number(circle, "cy")) / (y0 - y1) == pytest.approx(point.observed, abs=0.01)
    whiskers = [e for e in root.iter(f"{SVG}line") if e.get("class") == "interval"]
    assert [(y0 - number(w, "y1")) / (y0 - y1) for w in whiskers] == pytest.approx(
        [0.2, 0.6], abs=0.01
    )
    assert [(y0 - number(w, "y2")) / (y0 - y1) for w in whiskers] == pytest.approx(
        [0.4, 0.8], abs=0.01
    )
    texts = "".join(root.itertext())
    assert "perfect calibration" in texts and "observed" in texts
    assert root.find(f"{SVG}polyline") is not None
