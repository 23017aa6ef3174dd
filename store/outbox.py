"""The outbox: every message a provider accepted, keyed so a retry never sends twice."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from store.audit import add_steps_once
from store.db import reading, writing
from store.models import Family, Message, StepExecution
from store.unique import Sessions, add_once, insert_once


class BeforeSend(NamedTuple):
    """What a send looks up first (`MessageRepository.before_send`)."""

    sent: Message | None  # the message already recorded under the step's key (a retry)
    family: Family | None
    sent_in_window: int  # the family's messages on the channel in the cap's window (0: none)


class MessageRepository:
    """The outbox: what was sent, to whom, through which provider."""

    def __init__(self, sessions: Sessions) -> None:
        self._sessions = sessions

    async def get_by_key(self, key: str) -> Message | None:
        """The message recorded under an idempotency key: a retry checks this before sending."""
        return await reading(self._sessions, lambda session: _by_key(session, key))

    async def before_send(
        self,
        key: str,
        family_id: str,
        audits: Sequence[StepExecution] = (),
        *,
        channel: str = "",
        cap_window: Callable[[Family], tuple[datetime, datetime]] | None = None,
    ) -> BeforeSend:
        """What a send looks up first, in one transaction: the message already recorded
        under its key (a retry), the family, and with `cap_window` (the frequency cap's
        window for that family) how many messages went to it on `channel` in the window.
        `audits`, the rows of the steps before it, are stored first (each once,
        `store.audit.add_steps_once`); with any, the transaction is a write."""

        def look_up(session: Session) -> BeforeSend:
            add_steps_once(session, audits)
            family = session.get(Family, family_id)
            counted = 0
            if family is not None and cap_window is not None:
                start, end = cap_window(family)
                counted = _count_between(session, family_id, channel, start, end)
            return BeforeSend(_by_key(session, key), family, counted)

        if audits:
            return await writing(self._sessions, look_up)
        return await reading(self._sessions, look_up)

    async def record(
        self,
        *,
        idempotency_key: str,
        family_id: str,
        workflow_id: str,
        step_id: str,
        channel: str,
        provider: str,
        provider_message_id: str,
        recipient: str,
        subject: str | None,
        body: str,
        sent_at: datetime | None = None,
        audit: StepExecution | None = None,
    ) -> tuple[Message, bool]:
        """Record a sent message, or return the one recorded under this key (and False).

        `sent_at` (default: now) is when the message counts as sent for frequency caps.
        `audit` (see `store.audit.step_for`): the step's audit row, written in the same
        transaction, or left as it is when one is stored under its key already.
        """
        message = Message(
            idempotency_key=idempotency_key,
            family_id=family_id,
            workflow_id=workflow_id,
            step_id=step_id,
            channel=str(channel),
            provider=provider,
            provider_message_id=provider_message_id,
            recipient=recipient,
            subject=subject,
            body=body,
            status="sent",
            **({"created_at": sent_at} if sent_at is not None else {}),
        )
        if audit is None:
            return await insert_once(self._sessions, message)

        def record_both(session: Session) -> tuple[Message, bool]:
            recorded = add_once(session, message)
            add_steps_once(session, [audit])
            return recorded

        return await writing(self._sessions, record_both)

    async def count_between(
        self, family_id: str, channel: str, start: datetime, end: datetime
    ) -> int:
        """How many messages went to a family on a channel in [start, end)."""
        return await reading(
            self._sessions, lambda session: _count_between(session, family_id, channel, start, end)
        )

    async def get_by_provider_id(self, provider_message_id: str) -> Message | None:
        """The message a provider knows by this id (callbacks name messages this way)."""
        query = select(Message).where(Message.provider_message_id == provider_message_id)
        query = query.order_by(Message.id.desc()).limit(1)
        return await reading(self._sessions, lambda session: session.scalar(query))

    async def set_status(self, message_id: int, status: str) -> Message:
        """Record a delivery receipt (delivered, bounced) on a message."""

        def mark(session: Session) -> Message:
            message = session.get(Message, message_id, with_for_update=True)
            if message is None:
                raise LookupError(f"no message {message_id}")
            message.status = status
            return message

        return await writing(self._sessions, mark)

    async def for_family(self, family_id: str) -> list[Message]:
        """Messages sent to a family, oldest first."""
        return await self._where(Message.family_id == family_id)

    async def for_workflow(self, workflow_id: str) -> list[Message]:
        """Messages a sequence sent, oldest first."""
        return await self._where(Message.workflow_id == workflow_id)

    async def _where(self, condition: Any) -> list[Message]:
        query = select(Message).where(condition).order_by(Message.created_at, Message.id)
        return await reading(self._sessions, lambda session: list(session.scalars(query)))


def _count_between(
    session: Session, family_id: str, channel: str, start: datetime, end: datetime
) -> int:
    query = select(func.count(Message.id)).where(
        Message.family_id == family_id,
        Message.channel == str(channel),
        Message.created_at >= start,
        Message.created_at < end,
    )
    return int(session.scalar(query) or 0)


def _by_key(session: Session, key: str) -> Message | None:
    return session.scalar(select(Message).where(Message.idempotency_key == key))
