"""CSV imports of families and predictions, checked row by row.

A bad row is reported with its line number and the field at fault; the good rows are kept.
The functions take the store (and client) as arguments so tests call the CLI's code path.
"""

from __future__ import annotations

import csv
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from temporalio.client import Client

from contracts import channels
from followthrough.triggers import start as triggers
from followthrough.triggers.cache import TriggerCache
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
}


class RowError(ValueError):
    """One field of one row is wrong; the message names the field."""


@dataclass
class FamilyImport:
    imported: int = 0
    problems: list[str] = field(default_factory=list)


@dataclass
class PredictionImport:
    counts: Counter[str] = field(default_factory=Counter)
    lines: list[str] = field(default_factory=list)

    def summary(self) -> str:
        c = self.counts
        return (
            f"{c['started']} started, {c['already_running']} already running, "
            f"{c['below_threshold']} below threshold, {c['rejected']} rejected"
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


async def import_families(store: Store, path: Path) -> FamilyImport:
    """Upsert every valid row; opt-outs in the file are added, never removed."""
    report = FamilyImport()
    try:
        rows = _rows(path, ("family_id", "name"))
    except RowError as err:
        report.problems.append(str(err).removeprefix(f"{path}: "))
        return report
    seen: dict[str, int] = {}
    for line, row in rows:
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
    client: Client, store: Store, path: Path, *, task_queue: str
) -> PredictionImport:
    """Each row through `triggers.predict`: the template rules decide what starts.

    One `TriggerCache` for the file: the template lists and the failure guard's pass are
    read once every few seconds, not once per row. A refused start is a line of the report
    (counted as not started), not an error.
    """
    report = PredictionImport()
    cache = TriggerCache(client, store)
    try:
        rows = _rows(path, ("family_id", "probability", "confidence"))
    except RowError as err:
        report.counts["rejected"] += 1
        report.lines.append(str(err))
        return report
    for line, row in rows:
        family_id = row.get("family_id", "")
        try:
            probability = _number(row, "probability", float)
            confidence = _number(row, "confidence", float)
            if probability is None or confidence is None:
                raise RowError("probability, confidence: both are required")
            outcome = await triggers.predict(
                client,
                store,
                family_id,
                probability,
                confidence,
                task_queue=task_queue,
                window_days=_number(row, "window_days", int),
                model_version=row.get("model_version") or "unknown",
                cache=cache,
                raise_refusals=False,
            )
        except (RowError, triggers.TriggerError) as err:
            report.counts["rejected"] += 1
            report.lines.append(f"line {line}: rejected: {err}")
            continue
        report.counts[_KINDS.get(outcome.status, "not_started")] += 1
        report.lines.append(f"line {line}: family {family_id}: {outcome.message}")
    return report
