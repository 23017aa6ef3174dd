"""CSV imports of families and predictions, checked row by row.

A bad row is reported with its line number and the field at fault; the good rows are kept.
The functions take the store (and client) as arguments so tests call the CLI's code path.
"""

from __future__ import annotations

import csv
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from temporalio.client import Client

from contracts import channels
from followthrough.triggers import start as triggers
from followthrough.triggers.batch import PredictionInput, predict_many
from store import Store
from workflows.timing import is_valid_timezone

DEFAULT_TIMEZONE = "America/New_York"
# Ids become part of workflow ids and search attributes: opaque, short, no spaces.
_FAMILY_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_PHONE = re.compile(r"^\+?[0-9][0-9 ()-]{5,19}$")
_CHANNELS = ", ".join(channels.names())
# How the summary counts each outcome; the rest (cooldown, suspended, refused): not started.
_KINDS = {
    "started": "started",
    "upgraded": "started",
    "already_running": "already_running",
    "below_threshold": "below_threshold",
    "held_out": "held_out",
}


class RowError(ValueError):
    """One field of one row is wrong; the message names the field."""


@dataclass
class FamilyImport:
    imported: int = 0
    problems: list[str] = field(default_factory=list)


# Told after each row: (rows done, rows in the file), for a progress display.
OnRow = Callable[[int, int], None]


@dataclass
class PredictionImport:
    counts: Counter[str] = field(default_factory=Counter)
    lines: list[str] = field(default_factory=list)  # one per row
    problems: list[str] = field(default_factory=list)  # rejected rows, one line each
    # Refused starts (quota, cooldown, suspended, ...) by kind: often many rows alike.
    refusals: dict[str, list[str]] = field(default_factory=dict)

    def refusal_lines(self) -> list[str]:
        """One line per kind of refusal: how many rows, and the first as an example."""
        return [
            f"{len(lines)} row{'s' if len(lines) > 1 else ''} not started ({kind}), "
            f"first {lines[0]}"
            for kind, lines in self.refusals.items()
        ]

    def summary(self) -> str:
        c = self.counts
        return (
            f"{c['started']} started, {c['already_running']} already running, "
            f"{c['below_threshold']} below threshold, {c['rejected']} rejected"
            + (f", {c['held_out']} held out" if c["held_out"] else "")
            + (f", {c['not_started']} not started" if c["not_started"] else "")
        )


def _rows(path: Path, required: tuple[str, ...]) -> list[tuple[int, dict[str, str]]]:
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.DictReader(handle)
            header = [name.strip() for name in reader.fieldnames or []]
            missing = [name for name in required if name not in header]
            if missing:
                raise RowError(f"{path}: line 1: missing column(s) {', '.join(missing)}")
            reader.fieldnames = header
            # Line numbers as an editor shows them: the header is line 1.
            return [
                (reader.line_num, {k: (v or "").strip() for k, v in row.items() if k})
                for row in reader
            ]
    except (OSError, UnicodeDecodeError, csv.Error) as err:
        raise RowError(f"{path}: cannot read: {err}") from err


def read_csv(path: Path, required: tuple[str, ...]) -> list[tuple[int, dict[str, str]]]:
    """The rows of a CSV file with their line numbers (the header is line 1), values
    stripped; `RowError` naming the file when it cannot be read or lacks a column."""
    return _rows(path, required)


def _family(row: dict[str, str]) -> dict[str, Any]:
    family_id, name = row.get("family_id", ""), row.get("name", "")
    if not _FAMILY_ID.match(family_id):
        raise RowError(f"family_id: {family_id!r} must be 1-64 letters, digits, '_', '.', '-'")
    if not name:
        raise RowError("name: required")
    email, phone = row.get("email") or None, row.get("phone") or None
    whatsapp = row.get("whatsapp") or None
    if email and not _EMAIL.match(email):
        raise RowError(f"email: {email!r} is not an email address")
    if phone and not _PHONE.match(phone):
        raise RowError(f"phone: {phone!r} is not a phone number")
    if whatsapp and not _PHONE.match(whatsapp):
        raise RowError(f"whatsapp: {whatsapp!r} is not a phone number")
    if not email and not phone and not whatsapp:
        raise RowError("email, phone, whatsapp: at least one is required")
    timezone = row.get("timezone") or DEFAULT_TIMEZONE
    if not is_valid_timezone(timezone):
        raise RowError(f"timezone: {timezone!r} is not an IANA time zone, e.g. America/Chicago")
    preferred = row.get("preferred_channel") or None
    if preferred and channels.find(preferred) is None:
        raise RowError(f"preferred_channel: {preferred!r} is not one of {_CHANNELS}")
    score_text = row.get("engagement_score", "")
    try:
        score = float(score_text) if score_text else None
    except ValueError:
        raise RowError(f"engagement_score: {score_text!r} is not a number") from None
    opted_out = [c.strip() for c in re.split(r"[;,|]", row.get("opted_out", "")) if c.strip()]
    for channel in opted_out:
        if channels.find(channel) is None:
            raise RowError(f"opted_out: {channel!r} is not one of {_CHANNELS}")
    contacts: dict[str, Any] = {"email": email, "phone": phone, "whatsapp": whatsapp}
    if row.get("whatsapp_opt_in"):  # an empty cell keeps what is stored
        contacts["whatsapp_opt_in"] = _yes_no(row, "whatsapp_opt_in")
    return {
        "family_id": family_id,
        "name": name,
        **contacts,
        "timezone": timezone,
        "preferred_channel": preferred,
        "engagement_score": score,
        "opted_out": opted_out,
    }


def _yes_no(row: dict[str, str], name: str) -> bool:
    text = row.get(name, "").lower()
    if text in ("yes", "y", "true", "1"):
        return True
    if text in ("no", "n", "false", "0"):
        return False
    raise RowError(f"{name}: {row[name]!r} is not yes or no")


async def import_families(store: Store, path: Path, on_row: OnRow | None = None) -> FamilyImport:
    """Upsert every valid row; opt-outs in the file are added, never removed."""
    report = FamilyImport()
    try:
        rows = _rows(path, ("family_id", "name"))
    except RowError as err:
        report.problems.append(str(err).removeprefix(f"{path}: "))
        return report
    seen: dict[str, int] = {}
    for done, (line, row) in enumerate(rows, 1):
        if on_row is not None and done > 1:
            on_row(done - 1, len(rows))
        try:
            fields = _family(row)
        except RowError as err:
            report.problems.append(f"line {line}: {err}")
            continue
        family_id = fields.pop("family_id")
        if family_id in seen:
            report.problems.append(
                f"line {line}: family_id: {family_id!r} repeats line {seen[family_id]}"
            )
            continue
        seen[family_id] = line
        opted_out = fields.pop("opted_out")
        name = fields.pop("name")
        await store.families.upsert(family_id, name, **fields)
        for channel in opted_out:
            await store.families.opt_out(family_id, channel)
        report.imported += 1
    if on_row is not None:
        on_row(len(rows), len(rows))
    return report


def _number(row: dict[str, str], name: str, kind: type[float] | type[int]) -> Any:
    text = row.get(name, "")
    if not text:
        return None
    try:
        return kind(text)
    except ValueError:
        raise RowError(
            f"{name}: {text!r} is not a{'n integer' if kind is int else ' number'}"
        ) from None


async def import_predictions(
    client: Client, store: Store, path: Path, *, task_queue: str, on_row: OnRow | None = None
) -> PredictionImport:
    """Every row through the prediction rules, as a bulk run (`batch.predict_many`).

    The rows are read and checked first (a bad number is a rejected row); the good ones then
    go through `predict_many`, which decides each as `triggers.predict` would, in file order
    per family, with the store work done by batches. A refused start is a line of the report
    (counted as not started), not an error. The report's lines follow the file's order.
    """
    report = PredictionImport()
    try:
        rows = _rows(path, ("family_id", "probability", "confidence"))
    except RowError as err:
        report.counts["rejected"] += 1
        report.lines.append(str(err))
        report.problems.append(str(err))
        return report
    lines: list[tuple[int, str, str | None]] = []  # (line number, text, problem kind)
    wanted: list[tuple[int, PredictionInput]] = []
    for line, row in rows:
        try:
            wanted.append((line, _prediction(row)))
        except RowError as err:
            report.counts["rejected"] += 1
            lines.append((line, f"line {line}: rejected: {err}", "rejected"))
    checked = len(rows) - len(wanted)

    def decided(done: int, _total: int) -> None:
        if on_row is not None:
            on_row(checked + done, len(rows))

    results = await predict_many(
        client, store, [p for _, p in wanted], task_queue=task_queue, on_decided=decided
    )
    for (line, prediction), result in zip(wanted, results, strict=True):
        if isinstance(result, triggers.TriggerError):
            report.counts["rejected"] += 1
            lines.append((line, f"line {line}: rejected: {result}", "rejected"))
            continue
        kind = _KINDS.get(result.status, "not_started")
        report.counts[kind] += 1
        text = f"line {line}: family {prediction.family_id}: {result.message}"
        lines.append((line, text, result.status if kind == "not_started" else None))
    for _, text, problem in sorted(lines, key=lambda entry: entry[0]):
        report.lines.append(text)
        if problem == "rejected":
            report.problems.append(text)
        elif problem is not None:
            report.refusals.setdefault(problem, []).append(text)
    if on_row is not None:
        on_row(len(rows), len(rows))
    return report


def _prediction(row: dict[str, str]) -> PredictionInput:
    probability = _number(row, "probability", float)
    confidence = _number(row, "confidence", float)
    if probability is None or confidence is None:
        raise RowError("probability, confidence: both are required")
    return PredictionInput(
        family_id=row.get("family_id", ""),
        probability=probability,
        confidence=confidence,
        window_days=_number(row, "window_days", int),
        model_version=row.get("model_version") or "unknown",
    )
