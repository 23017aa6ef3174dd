"""Sign-in for the web inbox: Argon2 passwords, server-side sessions, lockout, roles.

Who a request comes from is read from the store on every request: the session cookie holds
a random token whose SHA-256 names a row in `web_sessions`, and the role is the account's as
stored now. A cookie carrying a name or a role means nothing. Optionally a reverse proxy that
signs people in may name them in a header (`INBOX_SSO_HEADER`), trusted only when the request
also carries the shared secret `INBOX_SSO_SECRET`; the account must still exist here.

What each role may do in the inbox: `viewer` reads; any other role may approve or reject (the
sequence then checks the role against its template's `approver_roles`); cancel, resume, skip
and marking a task done need `coordinator`, `director` or `admin`.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from fastapi import HTTPException

from followthrough.platform.settings import Settings
from store import Store
from store.accounts import Identity

SSO_SECRET_HEADER = "X-Followthrough-Proxy-Secret"
VIEWER = "viewer"
OPERATOR_ROLES = frozenset({"coordinator", "director", "admin"})
MIN_PASSWORD_LENGTH = 10
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,99}$")
_ROLE = re.compile(r"^[a-z][a-z0-9_-]{0,49}$")

_hasher = PasswordHasher()


@functools.cache
def _decoy() -> str:
    """Checked when the name is unknown, so a wrong name takes as long as a wrong password.
    Made once per process when the first `SignIn` is, not on import: every CLI command
    imports this module, and a hash costs about 0.2 s of CPU."""
    return _hasher.hash(secrets.token_urlsafe(16))


class SignInRefused(Exception):
    """A sign-in that did not succeed; the message is safe to show (one line)."""


def check_account(name: str, role: str, password: str) -> None:
    """Refuse, with one line naming the field, a name, role or password that cannot be used."""
    if not _NAME.match(name):
        raise ValueError("name: use letters, digits and _ . @ - (at most 100)")
    if not _ROLE.match(role):
        raise ValueError("role: use lower-case letters, digits, _ and - (e.g. coordinator)")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValueError(f"password: at least {MIN_PASSWORD_LENGTH} characters")


def hash_password(password: str) -> str:
    """The Argon2id hash that is all the store keeps of a password."""
    return _hasher.hash(password)


def token_hash(token: str) -> str:
    """What the store keeps of a session token."""
    return hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()


def refusal(identity: Identity, action: str) -> str | None:
    """Why `identity` may not take `action` in the inbox, or None when it may."""
    if identity.role == VIEWER:
        return f"role: {identity.role!r} may only read the inbox"
    if action in ("approve", "reject") or identity.role in OPERATOR_ROLES:
        return None
    return f"role: {identity.role!r} may not {action} (needs {', '.join(sorted(OPERATOR_ROLES))})"


@dataclass(frozen=True)
class SignInPolicy:
    """Lockout and session lifetime."""

    max_failures: int = 5
    lock_for: timedelta = timedelta(minutes=15)
    session_for: timedelta = timedelta(hours=8)


class SignIn:
    """Signs people in and out, and says who a request comes from."""

    def __init__(
        self, store: Store, settings: Settings, policy: SignInPolicy | None = None
    ) -> None:
        self.store = store
        self.policy = policy or SignInPolicy()
        self._decoy = _decoy()
        self._sso_header = settings.inbox_sso_header
        self._sso_secret = settings.inbox_sso_secret.encode()

    async def sign_in(self, name: str, password: str) -> tuple[str, Identity]:
        """A new session token for the account, or `SignInRefused`."""
        now = datetime.now(UTC)
        account = await self.store.accounts.get(name)
        if account is None:
            _matches(self._decoy, password)
            raise SignInRefused("sign-in: wrong name or password")
        if account.locked_until is not None and account.locked_until > now:
            raise SignInRefused(
                f"sign-in: too many failed attempts; locked until {account.locked_until:%H:%M} UTC"
            )
        if not _matches(account.password_hash, password):
            policy = self.policy
            await self.store.accounts.record_failure(
                name, now=now, limit=policy.max_failures, lock_for=policy.lock_for
            )
            raise SignInRefused("sign-in: wrong name or password")
        await self.store.accounts.record_success(account.id)
        token = secrets.token_urlsafe(32)
        await self.store.accounts.open_session(
            account.id, token_hash(token), now + self.policy.session_for
        )
        return token, Identity(account.id, account.name, account.role)

    async def identity(self, token: str | None, headers: Any) -> Identity | None:
        """Who the request comes from: its session, else a trusted proxy's header; or None."""
        if token:
            found = await self.store.accounts.session_identity(token_hash(token), datetime.now(UTC))
            if found is not None:
                return found
        return await self._from_proxy(headers)

    async def sign_out(self, token: str | None) -> None:
        if token:
            await self.store.accounts.close_session(token_hash(token))

    async def _from_proxy(self, headers: Any) -> Identity | None:
        if not self._sso_header or not self._sso_secret:
            return None  # off by default
        given = headers.get(SSO_SECRET_HEADER, "").encode("latin-1", "replace")
        if not hmac.compare_digest(given, self._sso_secret):
            return None
        name = headers.get(self._sso_header, "")
        account = await self.store.accounts.get(name) if name else None
        return None if account is None else Identity(account.id, account.name, account.role)


def _matches(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


class Csrf:
    """Tokens bound to a random per-browser cookie by an HMAC only the server can compute."""

    def __init__(self, secret: bytes) -> None:
        self._secret = secret

    def token(self, session: str) -> str:
        return hmac.new(self._secret, session.encode(), hashlib.sha256).hexdigest()

    def check(self, session: str | None, token: str) -> None:
        if not session or not hmac.compare_digest(self.token(session), token):
            raise HTTPException(status_code=403, detail="csrf: missing or wrong form token")
