"""`starter.progress` and the long commands: progress on stderr (redrawn on a terminal,
plain lines elsewhere), the answer alone on stdout, and a summary instead of a line a row."""

from __future__ import annotations

import asyncio
import io
import re
from pathlib import Path

from followthrough.platform.connection import connect
from followthrough.platform.devserver import DevServer
from followthrough.platform.settings import Settings
from starter.progress import Phases, Progress
from store import Store
from tests.starter.runner import invoke_split


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_plain_lines_at_every_tenth_and_at_the_end():
    stream, clock = io.StringIO(), Clock()
    progress = Progress("predictions", stream=stream, clock=clock)
    for done in range(1, 3001):
        clock.now += 0.01  # 100 rows a second
        progress(done, 3000)
    lines = stream.getvalue().splitlines()
    assert len(lines) == 10, lines
    assert lines[0] == "predictions: 300/3,000 rows (10%), 100 rows/s, about 27s left"
    assert lines[8] == "predictions: 2,700/3,000 rows (90%), 100 rows/s, about 3s left"
    assert lines[-1] == "predictions: 3,000 rows in 30s, 100 rows/s"


def test_one_line_redrawn_on_a_terminal():
    stream, clock = Terminal(), Clock()
    progress = Progress("families", stream=stream, clock=clock)
    for done in range(1, 1201):
        clock.now += 0.05  # 20 rows a second: 1,200 rows take a minute
        progress(done, 1200)
    text = stream.getvalue()
    assert text.count("\n") == 1 and text.endswith("\n")
    redraws = text.split("\r")[1:]
    assert 200 <= len(redraws) <= 301  # at most five a second, not one per row
    middle = next(r for r in redraws if re.match(r"families: 6\d\d/", r))
    assert re.fullmatch(
        r"families: 6\d\d/1,200 rows \(5\d%\), 20 rows/s, about \d\ds left\033\[K", middle
    )
    assert redraws[-1] == "families: 1,200 rows in 1m00s, 20 rows/s\033[K\n"


def test_phases_of_work_without_rows():
    stream, clock = io.StringIO(), Clock()
    phases = Phases("simulate", stream=stream, clock=clock)
    phases("starting a time-skipping server")
    clock.now += 2.4
    phases.done()
    assert stream.getvalue() == "simulate: starting a time-skipping server\nsimulate: done in 2s\n"
    on_terminal = Terminal()
    Phases("simulate", stream=on_terminal, clock=clock)("running")
    assert on_terminal.getvalue() == "\rsimulate: running\033[K"


def test_rows_without_a_total_yet_and_after_the_end():
    stream = io.StringIO()
    progress = Progress("families", stream=stream, clock=Clock())
    progress(0, 0)  # an empty file: only the end line
    progress(1, 1)  # told again after the end: nothing more
    assert stream.getvalue() == "families: 0 rows in 0s\n"


async def test_an_import_of_many_predictions_prints_a_summary_and_the_problems(
    env, dev_server: DevServer, monkeypatch, settings, store: Store, tmp_path: Path
):
    monkeypatch.setenv("TEMPORAL_ADDRESS", dev_server.address)
    monkeypatch.setenv("TEMPORAL_TASK_QUEUE", settings.task_queue)
    await store.suspensions.suspend("medium_risk_intervention", "failing")
    rows = ["family_id,probability,confidence"]
    rows += [f"F{1 + n % 3},0.2{n % 10},80" for n in range(594)]  # below every threshold
    rows += ["F9,0.91,88", "F1,lots,80", "F2,0.91,88"]  # unknown, not a number, starts
    rows += ["F1,0.68,74", "F3,0.68,74", "F1,0.68,74"]  # medium risk: suspended
    path = tmp_path / "predictions.csv"
    path.write_text("\n".join(rows) + "\n")
    code, stdout, stderr = await asyncio.to_thread(invoke_split, "predictions", "import", str(path))
    assert code == 0, stderr
    summary = "1 started, 0 already running, 594 below threshold, 2 rejected, 3 not started"
    assert stdout == summary + "\n"
    lines = stderr.splitlines()
    progress = [line for line in lines if line.startswith("predictions: ")]
    assert 2 <= len(progress) <= 11 and progress[-1].startswith("predictions: 600 rows in ")
    # Then the problems: each rejected row, and one line for the three refused starts.
    assert lines[len(progress) : -1] == [
        f"{path}: line 596: rejected: family: no family with id 'F9'",
        f"{path}: line 597: rejected: probability: 'lots' is not a number",
    ]
    refused = f"{path}: 3 rows not started (suspended), first line 599: family F1: "
    assert lines[-1].startswith(refused) and "medium_risk_intervention" in lines[-1]
    # The one sequence started has no worker here: end it, for the tests that follow.
    client = await connect(Settings(temporal_address=dev_server.address))
    await client.get_workflow_handle("intervention-high_risk_intervention-F2").terminate("over")
