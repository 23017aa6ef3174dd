"""The SVG charts: well-formed, scaled to the numbers, readable without colour, escaped."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from followthrough.web.charts import Bar, Series, bar_chart, line_chart, rating_badge

SVG = "{http://www.w3.org/2000/svg}"


def parse(svg: str) -> ET.Element:
    return ET.fromstring(svg)


def attr(element: ET.Element, name: str) -> str:
    value = element.get(name)
    assert value is not None, f"no {name} on {element.tag}"
    return value


def test_bars_scale_to_the_largest_and_print_their_numbers():
    root = parse(bar_chart("Funnel", [Bar("started", 10), Bar("first_email", 5, part=2)],
                           part_name="replied"))  # fmt: skip
    assert root.get("aria-label") == "Funnel" and root.findtext(f"{SVG}title") == "Funnel"
    bars = [r for r in root.iter(f"{SVG}rect") if r.get("fill") == "#5b7fbf" and r.get("y") != "4"]
    widths = [float(attr(r, "width")) for r in bars]
    assert len(widths) == 2 and widths[1] == widths[0] / 2
    hatched = [r for r in root.iter(f"{SVG}rect") if r.get("fill") == "url(#hatch)"]
    # The legend's hatched box and the replies' part of first_email (2 of its 5).
    assert len(hatched) == 2 and float(attr(hatched[1], "width")) == widths[0] / 5
    texts = [t.text for t in root.iter(f"{SVG}text")]
    assert {"started", "first_email", "10", "5", "replied"} <= set(texts)


def test_empty_and_zero_charts_are_valid():
    root = parse(bar_chart("None yet", []))
    assert root.get("height") == "6"
    zero = parse(bar_chart("Zeros", [Bar("a", 0)]))
    assert [r.get("width") for r in zero.iter(f"{SVG}rect") if r.get("fill") == "#5b7fbf"] == [
        "0.0"
    ]
    assert parse(line_chart("Empty", [], [])).get("aria-label") == "Empty"


def test_labels_are_escaped():
    svg = bar_chart("a <b> & c", [Bar('<script>"x"</script>', 1, text="1 & 2")])
    assert "<script>" not in svg
    root = parse(svg)
    assert '<script>"x"</script>' in [t.text for t in root.iter(f"{SVG}text")]


def test_lines_differ_by_dash_and_marker_not_colour():
    series = [Series("started", [4, 8, 2]), Series("answered", [1, None, 3])]
    root = parse(line_chart("Weekly", ["W1", "W2", "W3"], series))
    lines = list(root.iter(f"{SVG}polyline"))
    assert [line.get("stroke-dasharray") for line in lines] == ["", "6 4"]
    started = [tuple(map(float, p.split(","))) for p in attr(lines[0], "points").split()]
    # y grows downwards: the week with 8 is the highest point, 4 sits halfway to the axis.
    assert started[1][1] < started[0][1] < started[2][1]
    assert len(attr(lines[1], "points").split()) == 2  # the None is a gap
    assert len(list(root.iter(f"{SVG}circle"))) == 3 + 1  # markers + legend
    assert {"W1", "W2", "W3", "started", "answered"} <= {t.text for t in root.iter(f"{SVG}text")}


def test_rating_badge_has_a_shape_and_a_word():
    assert "GREEN" in rating_badge("green") and "&#9679;" in rating_badge("green")
    assert "RED" in rating_badge("red") and "&#9632;" in rating_badge("red")
    assert "AMBER" in rating_badge("amber") and "&#9650;" in rating_badge("amber")
