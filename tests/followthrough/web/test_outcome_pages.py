"""The dashboard's lift and calibration sections show what `impact` and `calibration` compute
for seeded store rows, and say in words when there is nothing to draw."""

from __future__ import annotations

import re

from followthrough.platform.settings import Settings
from followthrough.reporting.calibration import calibration
from followthrough.reporting.impact import impact
from followthrough.web.inbox import create_app
from store import Store
from store.starts import NewStart
from tests.followthrough.reporting.test_calibration import _model
from tests.followthrough.reporting.test_impact import DECIDED, _population, _template
from tests.followthrough.web.test_inbox import account, inbox_client, sign_in

SETTINGS = Settings(ui_url="http://ui.test:8233", namespace="default")


def cells(html: str, attribute: str, key: str) -> list[str]:
    row = re.search(rf'<tr {attribute}="{re.escape(key)}">(.*?)</tr>', html, re.S)
    assert row, f"no row {attribute}={key}"
    return [c.strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", row.group(1), re.S)]


def section(html: str, name: str) -> str:
    found = re.search(rf'<section class="card" id="{name}">(.*?)</section>', html, re.S)
    assert found, f"no {name} section"
    return found.group(1)


async def _start(store: Store, template: str, version: int) -> None:
    await store.starts.add_many(
        [NewStart("S0001", template, version, f"intervention-{template}-s", "test", DECIDED)]
    )


async def test_the_lift_and_calibration_shown_are_the_reports(dev_client, store: Store):
    params = await _template(store)
    await _population(store, params, families=2000, treated_rate=0.85, held_rate=0.70, seed=3)
    await _model(store, "m-cal", lambda p: p, families=1500, seed=5)
    await _start(store, params.name, params.version)
    await account(store, "vic", "viewer")
    async with inbox_client(create_app(dev_client, store, SETTINGS)) as http:
        await sign_in(http, "vic")
        page = (await http.get(f"/dashboard?template=measured&version={params.version}")).text
    lift = (await impact(store, "measured")).as_dict()
    assert lift["verdict"] == "beyond noise"
    shown = cells(page, "data-lift", "all versions")
    assert shown[0] == "all versions"
    assert shown[1:] == [
        str(lift["treated"]),
        str(lift["held_out"]),
        f"{lift['lift_pp']:+.2f}",
        f"{lift['ci_low_pp']:+.2f} to {lift['ci_high_pp']:+.2f}",
        "beyond noise",
    ]
    assert lift["sentence"] in page
    drawn = section(page, "lift")
    assert drawn.count("<svg") == 1 and 'class="interval"' in drawn
    assert (
        f"{lift['lift_pp']:+.1f} ({lift['ci_low_pp']:+.1f} to {lift['ci_high_pp']:+.1f}) pp"
        in drawn
    )
    assert "http" not in drawn.replace("http://www.w3.org/2000/svg", "")

    models = {m.model_version: m for m in await calibration(store)}
    curve = section(page, "calibration")
    assert curve.count('class="diagonal"') == len(models) and "m-cal" in models
    for b in models["m-cal"].bins:
        if b.families:
            interval = b.interval()
            assert interval is not None
            assert cells(page, "data-bin", f"m-cal {b.low:.1f}") == [
                f"{b.low:.1f}-{b.high:.1f}",
                str(b.families),
                f"{b.mean_predicted:.3f}",
                f"{b.observed:.3f}",
                f"{interval[0]:.3f}-{interval[1]:.3f}",
            ]
    assert f"Brier score {models['m-cal'].brier:.4f}" in curve


async def test_no_holdout_or_too_few_families_is_said_in_words(dev_client, store: Store):
    none = await _template(store, "unheld", holdout_percent=0)
    few = await _template(store, "small")
    await _population(store, few, families=40, treated_rate=0.8, held_rate=0.7, seed=9)
    await _start(store, none.name, none.version)
    await _start(store, few.name, few.version)
    await account(store, "vic", "viewer")
    async with inbox_client(create_app(dev_client, store, SETTINGS)) as http:
        await sign_in(http, "vic")
        unheld = (await http.get(f"/dashboard?template=unheld&version={none.version}")).text
        small = (await http.get(f"/dashboard?template=small&version={few.version}")).text
    assert "<svg" not in section(unheld, "lift")
    assert "unheld has never had a holdout" in section(unheld, "lift")
    assert "<svg" not in section(small, "lift")
    assert "Too few families to draw a lift" in section(small, "lift")
    assert cells(small, "data-lift", "all versions")[-1] == "too few families"
    # The 40 families' held-out predictions are untreated: model m's curve is still drawn.
    assert section(small, "calibration").count('class="diagonal"') == 1
