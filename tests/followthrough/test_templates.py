"""`followthrough.templates`: template files in, validated parameters out, errors by field."""

from __future__ import annotations

from pathlib import Path

import pytest

from followthrough.templates import TemplateFileError, builtin_templates, read_template


def test_the_shipped_templates_are_valid():
    names = [params.name for params in builtin_templates()]
    assert "high_risk_intervention" in names and len(names) == len(set(names))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("- just\n- a list\n", "expected a mapping at the top level"),
        ("name: [unclosed\n", "cannot read"),
        ("name: Bad Name\nworkflow: HighRiskIntervention\n", "name: Value error, use lower-case"),
        (
            "name: ok_name\nworkflow: HighRiskIntervention\n"
            "messages: {hello: {body: 'Hi {{ nickname }}'}}\n",
            "messages.hello: unknown variable(s) nickname",
        ),
    ],
)
def test_a_bad_file_is_named_with_its_field(tmp_path: Path, text: str, message: str):
    path = tmp_path / "t.yaml"
    path.write_text(text)
    with pytest.raises(TemplateFileError) as err:
        read_template(path)
    assert str(err.value).startswith(f"{path}: ") and message in str(err.value)
