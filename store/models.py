"""Tables of the store. The schema itself is created by the Alembic migrations, not from here."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    CheckConstraint,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    MetaData,
    Text,
    TypeDecorator,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

# Explicit constraint names, so the hand-written migrations can name (and later drop) them.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    """The current time, timezone-aware, in UTC."""
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp that is always read back timezone-aware in UTC.

    SQLite keeps no offset, so values are stored as naive UTC there and tagged UTC on the way
    out; PostgreSQL's `timestamptz` is converted to UTC for the same result on both.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: pass a timezone-aware one")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    """Declarative base of every table in the store."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    # Plain `str` maps to an unbounded VARCHAR: a length would only be enforced by PostgreSQL,
    # so a value that passes in local SQLite could fail in production.
    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: JSON, list[str]: JSON}


class Family(Base):
    """A family the sequences reach out to, with the current data conditions read."""

    __tablename__ = "families"

    family_id: Mapped[str] = mapped_column(primary_key=True)
    name: Mapped[str]
    email: Mapped[str | None]
    phone: Mapped[str | None]
    # WhatsApp: the number, and whether the family said yes to messages there.
    whatsapp: Mapped[str | None]
    whatsapp_opt_in: Mapped[bool] = mapped_column(default=False, server_default=false())
    timezone: Mapped[str] = mapped_column(default="America/New_York")
    preferred_channel: Mapped[str | None]
    opted_out: Mapped[list[str]] = mapped_column(default=list)
    engagement_score: Mapped[float | None]
    attributes: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Prediction(Base):
    """A model's prediction about a family, and what the trigger did with it."""

    __tablename__ = "predictions"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    family_id: Mapped[str] = mapped_column(ForeignKey("families.family_id"), index=True)
    probability: Mapped[float]
    confidence: Mapped[float]
    window_days: Mapped[int | None]
    model_version: Mapped[str] = mapped_column(default="unknown")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    template: Mapped[str | None]
    workflow_id: Mapped[str | None]
    outcome: Mapped[str | None]


class Template(Base):
    """One version of a sequence template; `body` is the full `SequenceParams` as JSON."""

    __tablename__ = "templates"
    __table_args__ = (UniqueConstraint("name", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    name: Mapped[str]
    version: Mapped[int]
    workflow: Mapped[str]
    body: Mapped[dict[str, Any]]
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class CoordinatorTask(Base):
    """Work for a person (call, task, escalation), opened once per idempotency key."""

    __tablename__ = "coordinator_tasks"
    __table_args__ = (
        CheckConstraint("kind IN ('call', 'task', 'escalation')", name="kind"),
        CheckConstraint("status IN ('open', 'done', 'cancelled')", name="status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    idempotency_key: Mapped[str] = mapped_column(unique=True)
    family_id: Mapped[str] = mapped_column(ForeignKey("families.family_id"), index=True)
    workflow_id: Mapped[str] = mapped_column(index=True)
    kind: Mapped[str]
    reason: Mapped[str] = mapped_column(Text)
    assign_to: Mapped[str]
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)
    status: Mapped[str] = mapped_column(default="open", index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    closed_at: Mapped[datetime | None]
    closed_by: Mapped[str | None]
    close_note: Mapped[str | None] = mapped_column(Text)


class Message(Base):
    """The outbox: one row per send, keyed by idempotency key.

    `status`: `sending` (the intent, written before the provider call: the send may have
    reached the provider), `failed` (the provider definitely refused it; it no longer counts
    for caps), `sent` (accepted), then what callbacks say (`delivered`, `bounced`, ...).
    """

    __tablename__ = "messages"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    idempotency_key: Mapped[str] = mapped_column(unique=True)
    family_id: Mapped[str] = mapped_column(ForeignKey("families.family_id"), index=True)
    workflow_id: Mapped[str] = mapped_column(index=True)
    step_id: Mapped[str]
    channel: Mapped[str]
    provider: Mapped[str]
    provider_message_id: Mapped[str]  # empty while `sending`
    recipient: Mapped[str]
    subject: Mapped[str | None] = mapped_column(Text)
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(default="sent")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class StepExecution(Base):
    """The audit trail of every step a sequence ran; no message bodies or addresses (PII)."""

    __tablename__ = "step_executions"
    # The dashboard's funnel counts sequences per template, version and step.
    __table_args__ = (
        Index(
            "ix_step_executions_template_version_step", "template", "template_version", "step_id"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    idempotency_key: Mapped[str] = mapped_column(unique=True)
    workflow_id: Mapped[str] = mapped_column(index=True)
    run_id: Mapped[str]
    step_id: Mapped[str]
    family_id: Mapped[str] = mapped_column(ForeignKey("families.family_id"), index=True)
    template: Mapped[str]
    template_version: Mapped[int]
    # Not a foreign key: manual and event-triggered runs have no prediction behind them.
    prediction_id: Mapped[int | None]
    kind: Mapped[str]
    channel: Mapped[str | None]
    provider_message_id: Mapped[str | None]
    attempts: Mapped[int]
    outcome: Mapped[str]
    error_type: Mapped[str | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # When the step was due and started, and why its due time moved ("" when it did not);
    # all None on rows recorded before the sequences passed their timing along.
    due_at: Mapped[datetime | None]
    started_at: Mapped[datetime | None]
    due_reason: Mapped[str | None] = mapped_column(Text)
