"""The dashboard's reads: a few statements that group and count in the database.

The audit trail is never walked row by row in Python. One statement (`details`) orders each
run's messages and reply checks with a window function, marks each message answered when the
next of those rows is a check that came out true, and counts per template and version: by
channel, by local hour, by UTC day, replies per check step, each run's time to its first
reply, and first contact against the SLO. Local hours come from each family's time zone as a
`CASE` over the UTC offsets the zone had while the rows were written (`offset_spans`), so
SQLite, which knows no time zones, answers the same as PostgreSQL.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import (
    Float,
    Integer,
    Interval,
    String,
    and_,
    case,
    cast,
    func,
    literal,
    null,
    or_,
    select,
    type_coerce,
    union_all,
)
from sqlalchemy.orm import Session, aliased

from followthrough.reporting.stats import (
    CONTACT_KINDS,
    MESSAGE_KINDS,
    RESPONSE_CHECKS,
    Slo,
    add_business_days,
)
from store.models import Family, StepExecution
from store.starts import SequenceStart

# How far apart `offset_spans` looks at a zone's UTC offset: less than between two changes.
SPAN_PROBE = timedelta(hours=6)
# Width of a timestamp as SQLite stores it ("2026-11-27 12:00:00.000000").
_STORED = 26


class Sql:
    """The session, and the few expressions SQLite and PostgreSQL spell differently."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.sqlite = session.get_bind().dialect.name == "sqlite"

    def day(self, moment: Any) -> Any:
        """The UTC date of a timestamp, as text (YYYY-MM-DD)."""
        return cast(func.date(moment if self.sqlite else func.timezone("UTC", moment)), String)

    def seconds(self, since: Any, until: Any) -> Any:
        """`until − since` in seconds (NULL when either is)."""
        if self.sqlite:
            return (func.julianday(until) - func.julianday(since)) * 86400.0
        return func.extract("epoch", until - since)

    def exact_seconds(self, since: Any, until: Any) -> Any:
        """`until − since` in seconds, to the microsecond as Python subtracts datetimes.
        SQLite's date functions keep milliseconds: whole seconds come from them, the
        microseconds from the stored text."""
        if not self.sqlite:
            return cast(func.extract("epoch", until - since), Float)
        whole = (func.julianday(func.substr(until, 1, 19))
                 - func.julianday(func.substr(since, 1, 19))) * 86400  # fmt: skip
        micro = cast(func.substr(until, 21), Integer) - cast(func.substr(since, 21), Integer)
        return (cast(func.round(whole), Integer) * 1_000_000 + micro) / 1_000_000.0

    def hour(self, moment: Any, offset: Any) -> Any:
        """The hour of day of a UTC timestamp moved by `offset` seconds, as text."""
        if self.sqlite:
            return func.strftime("%H", moment, cast(offset, String) + " seconds")
        moved = func.timezone("UTC", moment) + func.make_interval(0, 0, 0, 0, 0, 0, offset)
        return cast(cast(func.extract("hour", moved), Integer), String)

    def plus_days(self, moment: Any, days: dict[int, int]) -> Any:
        """`moment` plus `days[its weekday]` days (Monday = 0), to the microsecond."""
        if self.sqlite:  # the date moves; the time of day, as stored, follows unchanged
            stored = func.substr(moment, 1, 10)
            sunday_first = func.strftime("%w", stored)
            shift = case(
                {str((d + 1) % 7): f"+{n} days" for d, n in days.items()}, value=sunday_first
            )
            return type_coerce(func.date(stored, shift), String) + func.substr(moment, 11)
        dow = func.extract("dow", func.timezone("UTC", moment))  # Sunday = 0
        added = case({(d + 1) % 7: n for d, n in days.items()}, value=dow)
        return moment + cast(func.make_interval(0, 0, 0, added), Interval)

    def following(self, rows: Any) -> list[Any]:
        """Columns for the tag, time and step id of the next of a run's `rows` (id, run_id,
        created_at, step_id, tag); `unpack` reads them back. SQLite computes one window
        function, over the three packed into text, instead of three."""
        window = {"partition_by": rows.c.run_id, "order_by": (rows.c.created_at, rows.c.id)}
        if not self.sqlite:
            names = {"after": rows.c.tag, "next_at": rows.c.created_at, "next_step": rows.c.step_id}
            return [func.lead(value).over(**window).label(name) for name, value in names.items()]
        packed = rows.c.tag.op("||")(rows.c.created_at).op("||")(rows.c.step_id)
        return [func.lead(packed).over(**window).label("next")]

    def unpack(self, ordered: Any) -> tuple[Any, Any, Any]:
        """The tag, time and step id of the next row, from the columns `following` made."""
        if not self.sqlite:
            return ordered.c.after, ordered.c.next_at, ordered.c.next_step
        packed = ordered.c.next
        return (
            func.substr(packed, 1, 1),
            func.substr(packed, 2, _STORED),
            func.substr(packed, 2 + _STORED),
        )


def started(sql: Sql) -> Any:
    """Starts per template, version and UTC day."""
    day = sql.day(SequenceStart.started_at)
    return (
        select(SequenceStart.template, SequenceStart.version, day, func.count())
        .where(SequenceStart.version.is_not(None))
        .group_by(SequenceStart.template, SequenceStart.version, day)
    )


def funnel() -> Any:
    """Runs that reached each step, steps in the order they first appeared; with the first
    and last time an audit row was written (for `offset_spans`)."""
    return (
        select(
            StepExecution.template,
            StepExecution.template_version,
            StepExecution.step_id,
            func.min(StepExecution.kind),
            func.count(func.distinct(StepExecution.run_id)),
            func.min(StepExecution.created_at),
            func.max(StepExecution.created_at),
        )
        .group_by(StepExecution.template, StepExecution.template_version, StepExecution.step_id)
        .order_by(func.min(StepExecution.id))
    )


def lateness(sql: Sql) -> Any:
    """Each timed row's lateness (started − due) in seconds."""
    late = sql.seconds(StepExecution.due_at, StepExecution.started_at)
    return select(StepExecution.template, StepExecution.template_version, late).where(
        StepExecution.due_at.is_not(None), StepExecution.started_at.is_not(None)
    )


def zones(session: Session) -> list[str]:
    """The time zones of families the audit trail holds rows for."""
    used = select(StepExecution.id).where(StepExecution.family_id == Family.family_id).exists()
    return list(session.scalars(select(Family.timezone).distinct().where(used)))


def offset_spans(name: str, first: datetime, last: datetime) -> list[tuple[datetime, int]]:
    """A zone's UTC offsets (seconds) from `first` to `last`: (until, offset) pairs in time
    order, each offset holding before its `until`; the last one holds on."""
    zone = ZoneInfo(name)

    def offset(at: datetime) -> int:
        return int(at.astimezone(zone).utcoffset().total_seconds())  # type: ignore[union-attr]

    spans, current, probe = [], offset(first), first
    while probe < last:
        step = min(probe + SPAN_PROBE, last)
        if offset(step) != current:  # the change lies in (probe, step]: find its microsecond
            low, high = probe, step
            while high - low > timedelta(microseconds=1):
                middle = low + (high - low) / 2
                low, high = (middle, high) if offset(middle) == current else (low, middle)
            spans.append((high, current))
            current = offset(high)
        probe = step
    spans.append((last, current))
    return spans


def business_days(weekday: int, days: int) -> int:
    """How many calendar days `add_business_days` adds to a moment on this weekday."""
    moment = datetime(2024, 1, 1, tzinfo=UTC) + timedelta(days=weekday)  # a Monday, plus
    return (add_business_days(moment, days) - moment).days


def _contact() -> Any:
    """Audit rows that reached the family: a channel's step that neither failed nor raised."""
    return and_(
        StepExecution.kind.in_(CONTACT_KINDS),
        or_(StepExecution.outcome.is_(None), StepExecution.outcome != "failed"),
        or_(StepExecution.error_type.is_(None), StepExecution.error_type == ""),
    )


def _messages(sql: Sql, key: tuple[str, int] | None) -> Any:
    """Each message with whether the next of its run's messages and reply checks is a check
    that came out true (`after` = 'T'), and that check's time and step id. The window
    carries row ids only; the rows' other columns are read back by id."""
    is_check = and_(StepExecution.kind == "condition", StepExecution.step_id.in_(RESPONSE_CHECKS))
    is_true = func.lower(StepExecution.outcome).like("true%")
    tag = case((is_check, case((is_true, "T"), else_="F")), else_="M")
    rows = (
        select(StepExecution.id, StepExecution.run_id, StepExecution.created_at,
               StepExecution.step_id, tag.label("tag"))
        .where(or_(and_(_contact(), StepExecution.kind.in_(MESSAGE_KINDS)), is_check),
               *_version(StepExecution, key))
        .subquery()
    )  # fmt: skip
    ordered = select(rows.c.id, rows.c.tag, *sql.following(rows)).subquery()
    after, next_at, next_step = sql.unpack(ordered)
    row = aliased(StepExecution, name="message")
    return (
        select(
            row.template,
            row.template_version.label("version"),
            row.workflow_id,
            row.run_id,
            row.family_id,
            func.coalesce(row.channel, row.kind).label("label"),
            row.created_at,
            after.label("after"),
            next_at.label("next_at"),
            next_step.label("next_step"),
        )
        .join(ordered, ordered.c.id == row.id)
        .where(ordered.c.tag == "M")
        .cte("messages")
        .prefix_with("MATERIALIZED")
    )


def _version(table: Any, key: tuple[str, int] | None) -> list[Any]:
    """The conditions for one template version's rows (none for all versions)."""
    if key is None:
        return []
    return [table.template == key[0], table.template_version == key[1]]


def _firsts() -> Any:
    """Each run's first contact (any channel, calls too)."""
    return (
        select(StepExecution.run_id, StepExecution.workflow_id, StepExecution.template,
               StepExecution.template_version.label("version"),
               func.min(StepExecution.created_at).label("at"))
        .where(_contact())
        .group_by(StepExecution.run_id, StepExecution.workflow_id, StepExecution.template,
                  StepExecution.template_version)
        .cte("firsts")
        .prefix_with("MATERIALIZED")
    )  # fmt: skip


def details(
    sql: Sql, spans: dict[str, list[tuple[datetime, int]]], key: tuple[str, int] | None
) -> Any:
    """One statement of (what, template, version, key, a, b) rows, for one template version
    (`key`) or all (None):
    channel / hour / day: key, messages sent (a), answered (b);
    reply: the check step's id, replies credited to it (a);
    first: a run's seconds from first contact to first reply (a)."""
    line = _messages(sql, key)
    answered = func.sum(case((line.c.after == "T", 1), else_=0))
    offset = case(
        {name: _offset(line.c.created_at, found) for name, found in spans.items()},
        value=Family.timezone,
    )
    keys = {
        "channel": (line.c.label, line),
        "hour": (sql.hour(line.c.created_at, offset),
                 line.join(Family, Family.family_id == line.c.family_id)),
        "day": (sql.day(line.c.created_at), line),
        "reply": (line.c.next_step, line),
    }  # fmt: skip
    parts = [
        select(literal(what), line.c.template, line.c.version, key, cast(func.count(), Float),
               cast(answered, Float))
        .select_from(source)
        .group_by(line.c.template, line.c.version, key)
        for what, (key, source) in keys.items()
    ]  # fmt: skip
    parts[-1] = parts[-1].where(line.c.after == "T")  # replies: answered messages only
    replied = (
        select(line.c.template, line.c.version, line.c.workflow_id, line.c.run_id,
               func.min(line.c.next_at).label("at"))
        .where(line.c.after == "T")
        .group_by(line.c.template, line.c.version, line.c.workflow_id, line.c.run_id)
        .subquery()
    )  # fmt: skip
    first_contact = (  # looked up by the sequence's index: each run has a handful of rows
        select(func.min(StepExecution.created_at))
        .where(StepExecution.workflow_id == replied.c.workflow_id,
               StepExecution.run_id == replied.c.run_id, _contact())
        .scalar_subquery()
    )  # fmt: skip
    seconds = sql.exact_seconds(first_contact, replied.c.at)
    parts.append(
        select(literal("first"), replied.c.template, replied.c.version, null(), seconds, null())
    )
    return union_all(*parts)


def _offset(moment: Any, spans: list[tuple[datetime, int]]) -> Any:
    if len(spans) == 1:
        return literal(spans[0][1])
    *changes, (_, last) = spans
    return case(*((moment < until, offset) for until, offset in changes), else_=last)


def first_contact(sql: Sql, slo: Slo) -> Any:
    """Per template version: first contacts that have a start of their sequence (with a
    version) at or before them, and how many came within the SLO's business days of the
    latest such start."""
    firsts = _firsts()
    start = (
        select(func.max(SequenceStart.started_at))
        .where(SequenceStart.workflow_id == firsts.c.workflow_id,
               SequenceStart.version.is_not(None), SequenceStart.started_at <= firsts.c.at)
        .scalar_subquery()
    )  # fmt: skip
    pairs = (
        select(firsts.c.template, firsts.c.version, firsts.c.at, start.label("start"))
        .cte("pairs")
        .prefix_with("MATERIALIZED")
    )
    days = {day: business_days(day, slo.first_contact_business_days) for day in range(7)}
    within = func.sum(case((pairs.c.at <= sql.plus_days(pairs.c.start, days), 1), else_=0))
    return select(
        pairs.c.template, pairs.c.version, func.count(pairs.c.start), func.coalesce(within, 0)
    ).group_by(pairs.c.template, pairs.c.version)
