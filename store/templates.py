"""Versioned sequence templates, stored as `SequenceParams` JSON."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from contracts import SequenceParams
from store.db import reading, writing
from store.models import Template
from store.unique import RACE_ATTEMPTS, Sessions


def _content(params: SequenceParams) -> dict[str, Any]:
    # What makes two versions different: not the version number, nor the on/off switch.
    return params.model_dump(mode="json", exclude={"version", "active"})


def _params(row: Template) -> SequenceParams:
    return SequenceParams.model_validate({**row.body, "version": row.version, "active": row.active})


class TemplateRepository:
    """Versioned sequence templates. A changed body becomes a new version; none is rewritten."""

    def __init__(self, sessions: Sessions) -> None:
        self._sessions = sessions

    async def save(self, params: SequenceParams) -> tuple[SequenceParams, bool]:
        """Store `params` as the next version unless the latest one has the same content.

        Returns the stored template (its `version` set) and whether a new version was made.
        `params.version` and `params.active` are ignored: a new version is always active.
        """

        def save(session: Session) -> tuple[Template, bool]:
            latest = session.scalar(_latest_query(params.name))
            if latest is not None and _content(_params(latest)) == _content(params):
                return latest, False
            version = 1 if latest is None else latest.version + 1
            body = {**params.model_dump(mode="json"), "version": version, "active": True}
            row = Template(
                name=params.name,
                version=version,
                workflow=params.workflow,
                body=body,
                active=True,
            )
            session.add(row)
            return row, True

        for attempt in range(RACE_ATTEMPTS):
            try:
                row, created = await writing(self._sessions, save)
                return _params(row), created
            except IntegrityError:
                # A concurrent save took this version number; compare with that one instead.
                if attempt == RACE_ATTEMPTS - 1:
                    raise
        raise AssertionError("unreachable")

    async def latest(self, name: str) -> SequenceParams | None:
        """The highest version of `name`, active or not."""
        query = _latest_query(name)
        row = await reading(self._sessions, lambda session: session.scalar(query))
        return None if row is None else _params(row)

    async def active(self, name: str) -> SequenceParams | None:
        """The highest active version of `name`: what new sequences start with."""
        query = _latest_query(name).where(Template.active.is_(True))
        row = await reading(self._sessions, lambda session: session.scalar(query))
        return None if row is None else _params(row)

    async def get(self, name: str, version: int) -> SequenceParams | None:
        """One exact version, e.g. the one a running sequence is pinned to."""
        query = select(Template).where(Template.name == name, Template.version == version)
        row = await reading(self._sessions, lambda session: session.scalar(query))
        return None if row is None else _params(row)

    async def versions(self, name: str) -> list[SequenceParams]:
        """Every stored version of `name`, oldest first."""
        query = select(Template).where(Template.name == name).order_by(Template.version)
        return [_params(row) for row in await _rows(self._sessions, query)]

    async def list_latest(self) -> list[SequenceParams]:
        """The highest version of every template, by name."""
        newest = (
            select(Template.name, func.max(Template.version).label("version"))
            .group_by(Template.name)
            .subquery()
        )
        query = (
            select(Template)
            .join(newest, (Template.name == newest.c.name) & (Template.version == newest.c.version))
            .order_by(Template.name)
        )
        return [_params(row) for row in await _rows(self._sessions, query)]

    async def list_active(self) -> list[SequenceParams]:
        """The highest active version of every template that has one, by name: what new
        starts choose from (a newer version switched off leaves the older one in use)."""
        newest = (
            select(Template.name, func.max(Template.version).label("version"))
            .where(Template.active.is_(True))
            .group_by(Template.name)
            .subquery()
        )
        query = (
            select(Template)
            .join(newest, (Template.name == newest.c.name) & (Template.version == newest.c.version))
            .order_by(Template.name)
        )
        return [_params(row) for row in await _rows(self._sessions, query)]

    async def set_active(self, name: str, active: bool, version: int | None = None) -> None:
        """Switch a version (the latest when not given) on or off."""
        query = _latest_query(name)
        if version is not None:
            query = query.where(Template.version == version)

        def switch(session: Session) -> None:
            row = session.scalar(query)
            if row is None:
                which = "any version" if version is None else f"version {version}"
                raise LookupError(f"no template {name!r} with {which}")
            row.active = active

        await writing(self._sessions, switch)


def _latest_query(name: str) -> Select[Template]:
    return select(Template).where(Template.name == name).order_by(Template.version.desc()).limit(1)


async def _rows(sessions: Sessions, query: Select[Template]) -> list[Template]:
    return await reading(sessions, lambda session: list(session.scalars(query)))
