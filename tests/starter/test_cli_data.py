"""`followthrough families import|opt-out`, `families-import`: rows in, one line per problem."""

from __future__ import annotations

from pathlib import Path

from store import Store
from tests.starter.runner import invoke_async as run


async def test_opt_out_names_the_bad_field(env, store: Store):
    code, output = await run("families", "opt-out", "F1", "--channel", "pigeon")
    assert code == 1 and output.startswith("error: channel: 'pigeon' is not one of email")
    code, output = await run("families", "opt-out", "NOPE", "--channel", "sms")
    assert (code, output) == (1, "error: family: no family with id 'NOPE'")
    assert await run("families", "opt-out", "F1", "--channel", "sms") == (
        0,
        "family F1 opted out of sms",
    )
    row = await store.families.get("F1")
    assert row is not None and "sms" in (row.opted_out or [])


async def test_both_imports_refuse_a_missing_file(env, tmp_path: Path):
    missing = tmp_path / "none.csv"
    for command in (["families", "import"], ["families-import"], ["predictions", "import"]):
        code, output = await run(*command, str(missing))
        assert (code, output) == (1, f"error: {missing}: no such file"), command
