"""Accounts of the people who sign in to the web inbox, and their server-side sessions.

A password is stored only as its Argon2 hash (made by `followthrough.web.signin`); a session
only as the SHA-256 of the random token in the browser's cookie, so a copy of this table opens
nothing. Failed sign-ins are counted, and the account locked, in one UPDATE each.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ForeignKey, case, delete, literal, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column

from store.db import reading, writing
from store.models import Base, utcnow
from store.unique import Sessions


class Account(Base):
    """A person who may sign in: a unique name, an Argon2 password hash and one role."""

    __tablename__ = "accounts"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(unique=True)
    password_hash: Mapped[str]
    role: Mapped[str]
    failed_sign_ins: Mapped[int] = mapped_column(default=0)
    locked_until: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class WebSession(Base):
    """A signed-in browser: the hash of its cookie's token, whose account, until when."""

    __tablename__ = "web_sessions"

    token_hash: Mapped[str] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]


@dataclass(frozen=True)
class Identity:
    """Who a request comes from, as the store knows them."""

    account_id: int
    name: str
    role: str


class AccountExists(ValueError):
    """`add` of a name that already has an account."""


class AccountRepository:
    """Accounts, failed sign-ins and sessions."""

    def __init__(self, sessions: Sessions) -> None:
        self._sessions = sessions

    async def add(self, name: str, password_hash: str, role: str) -> Account:
        """A new account; `AccountExists` when the name is taken."""

        def add(session: Session) -> Account:
            row = Account(name=name, password_hash=password_hash, role=role, failed_sign_ins=0)
            session.add(row)
            session.flush()
            return row

        try:
            return await writing(self._sessions, add)
        except IntegrityError:
            raise AccountExists(f"name: an account {name!r} already exists") from None

    async def set_password(self, name: str, password_hash: str, role: str) -> Account:
        """Create the account or give it a new password and role (and unlock it)."""
        try:
            return await self.add(name, password_hash, role)
        except AccountExists:
            pass
        query = (
            update(Account)
            .where(Account.name == name)
            .values(password_hash=password_hash, role=role, failed_sign_ins=0, locked_until=None)
            .returning(Account)
        )
        return await writing(self._sessions, lambda session: session.scalars(query).one())

    async def get(self, name: str) -> Account | None:
        query = select(Account).where(Account.name == name)
        return await reading(self._sessions, lambda session: session.scalar(query))

    async def list(self) -> list[Account]:
        query = select(Account).order_by(Account.name)
        return await reading(self._sessions, lambda session: list(session.scalars(query)))

    async def record_failure(
        self, name: str, *, now: datetime, limit: int, lock_for: timedelta
    ) -> None:
        """Count a failed sign-in; the `limit`-th in a row locks the account for `lock_for`.

        One UPDATE: concurrent guesses cannot each read the count before any writes it.
        """
        failures = Account.failed_sign_ins + 1
        query = (
            update(Account)
            .where(Account.name == name)
            .values(
                failed_sign_ins=case((failures >= limit, 0), else_=failures),
                locked_until=case(
                    (failures >= limit, literal(now + lock_for, Account.locked_until.type)),
                    else_=Account.locked_until,
                ),
            )
        )
        await writing(self._sessions, lambda session: session.execute(query))

    async def record_success(self, account_id: int) -> None:
        query = (
            update(Account)
            .where(Account.id == account_id)
            .values(failed_sign_ins=0, locked_until=None)
        )
        await writing(self._sessions, lambda session: session.execute(query))

    async def open_session(self, account_id: int, token_hash: str, expires_at: datetime) -> None:
        def add(session: Session) -> None:
            session.add(
                WebSession(token_hash=token_hash, account_id=account_id, expires_at=expires_at)
            )

        await writing(self._sessions, add)

    async def session_identity(self, token_hash: str, now: datetime) -> Identity | None:
        """The account a live session belongs to, with its role as stored now."""
        query = (
            select(Account.id, Account.name, Account.role)
            .join(WebSession, WebSession.account_id == Account.id)
            .where(WebSession.token_hash == token_hash, WebSession.expires_at > now)
        )

        def read(session: Session) -> Identity | None:
            row = session.execute(query).first()
            return None if row is None else Identity(row[0], row[1], row[2])

        return await reading(self._sessions, read)

    async def close_session(self, token_hash: str) -> None:
        query = delete(WebSession).where(WebSession.token_hash == token_hash)
        await writing(self._sessions, lambda session: session.execute(query))
