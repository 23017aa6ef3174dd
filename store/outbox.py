"""The outbox: every send, keyed so a retry never sends twice.

A send writes its intent (`sending`) under its step's idempotency key before it calls the
provider (`MessageRepository.claim`), then the result: `sent` (`record`) or, after a definite
refusal, `failed` (`release`). A retry that finds `sending` knows the first attempt may have
reached the provider. The intent is written under a lock on the family's row, after counting
the family's messages in its frequency cap's window (`sending` ones included), so two sends
racing for the last place of a cap cannot both take it, on SQLite and on PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from store.audit import add_steps_once
from store.db import reading, writing
from store.models import Family, Message, StepExecution
from store.unique import Sessions, add_once

SENDING, SENT, FAILED = "sending", "sent", "failed"


class Claim(NamedTuple):
    """What `MessageRepository.claim` found or did.

    `state`: `new` (the intent is recorded: call the provider), `sent` (a message went out
    under this key already: a retry), `uncertain` (an earlier attempt recorded its intent and
    never its result: it may have reached the provider) or `refused` (`build` raised
    `refusal`; nothing recorded but the carried audit rows).
    """

    state: str
    message: Message | None
    family: Family | None
    refusal: Exception | None = None


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

    async def claim(
        self,
        key: str,
        family_id: str,
        audits: Sequence[StepExecution] = (),
        *,
        channel: str,
        cap_window: Callable[[Family], tuple[datetime, datetime]] | None,
        build: Callable[[Family | None, int], Message],
    ) -> Claim:
        """Record the intent to send under `key` (status `sending`), in one transaction that
        holds the family's row lock: `build(family, counted)` makes the row from the family
        and the messages counted in its cap's window (0 without `cap_window`), or raises to
        refuse the send. `audits` are stored first (each once), whatever the answer."""

        def claim(session: Session) -> Claim:
            add_steps_once(session, audits)
            # The lock that makes the cap's count and the intent one step (PostgreSQL;
            # SQLite's writers take turns already: `store.db` begins them IMMEDIATE).
            family = session.get(Family, family_id, with_for_update=True)
            existing = _by_key(session, key)
            if existing is not None and existing.status == SENDING:
                return Claim("uncertain", existing, family)
            if existing is not None and existing.status != FAILED:
                return Claim("sent", existing, family)
            counted = 0
            if family is not None and cap_window is not None:
                start, end = cap_window(family)
                counted = _count_between(session, family_id, channel, start, end)
            try:
                intent = build(family, counted)
            except Exception as refusal:  # kept apart, so the audit rows still commit
                return Claim("refused", None, family, refusal)
            intent.status = SENDING
            if existing is None:
                row, created = add_once(session, intent)
                if not created:  # another attempt of the same step got there first
                    return Claim("uncertain" if row.status == SENDING else "sent", row, family)
                return Claim("new", row, family)
            for name in ("recipient", "subject", "body", "provider", "created_at"):
                setattr(existing, name, getattr(intent, name))
            existing.status = SENDING
            return Claim("new", existing, family)

        return await writing(self._sessions, claim)

    async def release(self, key: str) -> None:
        """The provider definitely refused the send under `key`: mark it `failed`, so it no
        longer counts for the family's cap (a later attempt may claim the key again)."""

        def release(session: Session) -> None:
            message = _by_key(session, key)
            if message is not None and message.status == SENDING:
                message.status = FAILED

        await writing(self._sessions, release)

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

        def record_both(session: Session) -> tuple[Message, bool]:
            intent = _by_key(session, idempotency_key)
            if intent is not None and intent.status in (SENDING, FAILED):
                # The result of a claimed send: the intent becomes the sent message.
                intent.provider_message_id = provider_message_id
                intent.provider = provider
                intent.status = SENT
                recorded = intent, True
            else:
                recorded = add_once(session, message)
            if audit is not None:
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
        if not provider_message_id:
            return None  # a send not yet answered has no id
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
        """Messages that went out to a family, oldest first (not intents, not refusals)."""
        return await self._where(Message.family_id == family_id)

    async def for_workflow(self, workflow_id: str, *, unsent: bool = False) -> list[Message]:
        """Messages a sequence sent, oldest first; with `unsent`, also the intents still
        `sending` and the sends that `failed`."""
        return await self._where(Message.workflow_id == workflow_id, unsent=unsent)

    async def _where(self, condition: Any, *, unsent: bool = False) -> list[Message]:
        query = select(Message).where(condition).order_by(Message.created_at, Message.id)
        if not unsent:
            query = query.where(Message.status.not_in((SENDING, FAILED)))
        return await reading(self._sessions, lambda session: list(session.scalars(query)))


def _count_between(
    session: Session, family_id: str, channel: str, start: datetime, end: datetime
) -> int:
    query = select(func.count(Message.id)).where(
        Message.family_id == family_id,
        Message.channel == str(channel),
        Message.created_at >= start,
        Message.created_at < end,
        Message.status != FAILED,
    )
    return int(session.scalar(query) or 0)


def _by_key(session: Session, key: str) -> Message | None:
    return session.scalar(select(Message).where(Message.idempotency_key == key))
