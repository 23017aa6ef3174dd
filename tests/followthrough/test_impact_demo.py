"""The impact demo: the same history from the same seed, and the shipped outcomes file is it."""

from __future__ import annotations

from followthrough import impact_demo
from followthrough.triggers.holdout import held_out


def test_the_shipped_outcomes_are_the_generators() -> None:
    history = impact_demo.population()
    shipped = (impact_demo.DEMO_DIR / "outcomes.csv").read_text(encoding="utf-8")
    assert history.outcomes_csv() == shipped
    assert impact_demo.population().predictions == history.predictions


def test_the_decisions_follow_the_templates_rules() -> None:
    history = impact_demo.population()
    v1, v2 = impact_demo.templates()
    decided = [p for p in history.predictions if p.template is not None]
    assert len(history.families) == 4000 and 1000 < len(decided) < 1600
    for p in decided:
        assert p.probability > 0.8 and p.confidence > 80
        assert (p.outcome == "held_out") == held_out(v1 if p.version == 1 else v2, p.family_id)
    share = sum(p.outcome == "held_out" for p in decided) / len(decided)
    assert 0.16 < share < 0.24
    assert {p.version for p in decided} == {1, 2}
