"""Progress of long commands, on stderr so stdout stays the command's answer.

On a terminal, one line redrawn in place: rows done, rate and time left. Elsewhere (a log,
a pipe, CI), a plain line at every tenth of the work and one at the end, so a log shows
that the command is alive without thousands of lines.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import Any, TextIO

REDRAW_SECONDS = 0.2  # on a terminal, at most five redraws a second


class _Reporter:
    """A label, where to write (stderr), whether that is a terminal, and when work began."""

    def __init__(
        self,
        label: str,
        *,
        stream: TextIO | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.label = label
        self.stream = stream if stream is not None else sys.stderr
        self.clock = clock
        self.terminal = self.stream.isatty()
        self.started = clock()


class Progress(_Reporter):
    """Told `(done, total)` as work goes on; writes what a person watching needs."""

    def __init__(self, label: str, **options: Any) -> None:
        super().__init__(label, **options)
        self._drawn_at: float | None = None
        self._tenths = 0  # plain lines written so far, at every tenth
        self._finished = False

    def __call__(self, done: int, total: int) -> None:
        if self._finished:
            return
        now = self.clock()
        if done >= total:
            self._finish(done, now)
            return
        if self.terminal:
            if self._drawn_at is None or now - self._drawn_at >= REDRAW_SECONDS:
                self._drawn_at = now
                self.stream.write(f"\r{self.line(done, total, now)}\033[K")
                self.stream.flush()
            return
        tenths = done * 10 // total if total else 0
        if tenths > self._tenths:
            self._tenths = tenths
            self.stream.write(self.line(done, total, now) + "\n")
            self.stream.flush()

    def line(self, done: int, total: int, now: float) -> str:
        """E.g. "predictions: 1,200/3,000 rows (40%), 412 rows/s, about 4s left"."""
        elapsed = max(now - self.started, 1e-9)
        rate = done / elapsed
        text = f"{self.label}: {done:,}/{total:,} rows ({done * 100 // max(total, 1)}%)"
        if done:
            text += f", {rate:,.0f} rows/s"
            text += f", about {_duration((total - done) / rate)} left"
        return text

    def _finish(self, done: int, now: float) -> None:
        self._finished = True
        elapsed = now - self.started
        rate = f", {done / elapsed:,.0f} rows/s" if elapsed > 0 and done else ""
        end = f"{self.label}: {done:,} rows in {_duration(elapsed)}{rate}"
        self.stream.write(("\r" + end + "\033[K\n") if self.terminal else end + "\n")
        self.stream.flush()


def _duration(seconds: float) -> str:
    seconds = max(0, round(seconds))
    minutes, seconds = divmod(seconds, 60)
    hours, minutes = divmod(minutes, 60)
    if hours:
        return f"{hours}h{minutes:02d}m"
    if minutes:
        return f"{minutes}m{seconds:02d}s"
    return f"{seconds}s"


class Phases(_Reporter):
    """Progress of work without a row count (a simulation): each phase as it begins, then
    how long it all took. On a terminal the line is redrawn and cleared at the end."""

    def __call__(self, phase: str) -> None:
        line = f"{self.label}: {phase}"
        self.stream.write(f"\r{line}\033[K" if self.terminal else line + "\n")
        self.stream.flush()

    def done(self) -> None:
        elapsed = _duration(self.clock() - self.started)
        line = f"{self.label}: done in {elapsed}"
        self.stream.write(f"\r{line}\033[K\n" if self.terminal else line + "\n")
        self.stream.flush()
