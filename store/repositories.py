"""Repositories over the store's tables, and `Store`, which holds one of each.

Every public method is its own transaction and returns detached objects (the sessionmaker is
built with `expire_on_commit=False`) or plain values. Rows written on behalf of an activity carry
an idempotency key; writing the same key twice returns the first row, whoever won the race.
"""

from __future__ import annotations

import builtins
from collections.abc import Iterable
from enum import Enum
from typing import Any, Final, TypeVar

from sqlalchemy import Select, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from contracts import SequenceParams, TaskKind
from store.db import make_engine, make_sessionmaker
from store.models import (
    CoordinatorTask,
    Family,
    Message,
    Prediction,
    StepExecution,
    Template,
    utcnow,
)

Sessions = async_sessionmaker[AsyncSession]
_Keyed = TypeVar("_Keyed", CoordinatorTask, Message, StepExecution)

# How often a write that lost a race on a unique constraint is retried from a fresh read.
_RACE_ATTEMPTS = 3


class _Unset(Enum):
    UNSET = "unset"


UNSET: Final = _Unset.UNSET
"""Default of `FamilyRepository.upsert` fields: on update, keep what is stored."""


async def _insert_once(sessions: Sessions, row: _Keyed) -> tuple[_Keyed, bool]:
    """Insert `row`, or return the row already stored under its idempotency key.

    The unique constraint decides, not a read beforehand: of two concurrent inserts with the
    same key exactly one commits, and the other reads the winner's row.
    """
    try:
        async with sessions.begin() as session:
            session.add(row)
        return row, True
    except IntegrityError:
        model = type(row)
        async with sessions() as session:
            existing = await session.scalar(
                select(model).where(model.idempotency_key == row.idempotency_key)
            )
        if existing is None:
            raise  # another constraint failed (e.g. an unknown family), not the key
        return existing, False


class FamilyRepository:
    """Families and what the sequences need to know about them."""

    def __init__(self, sessions: Sessions) -> None:
        self._sessions = sessions

    async def upsert(
        self,
        family_id: str,
        name: str,
        *,
        email: str | None | _Unset = UNSET,
        phone: str | None | _Unset = UNSET,
        timezone: str | _Unset = UNSET,
        preferred_channel: str | None | _Unset = UNSET,
        opted_out: Iterable[str] | _Unset = UNSET,
        engagement_score: float | None | _Unset = UNSET,
        attributes: dict[str, Any] | None | _Unset = UNSET,
    ) -> Family:
        """Insert the family, or update it with the fields given.

        Fields not given keep their stored value on update (so re-importing contact details
        never clears an opt-out) and take the column default on insert: no email, phone or
        preferred channel, "America/New_York", no opt-outs, no score, `{}` attributes.
        """
        given: dict[str, Any] = {"name": name}
        if email is not UNSET:
            given["email"] = email
        if phone is not UNSET:
            given["phone"] = phone
        if timezone is not UNSET:
            given["timezone"] = timezone
        if preferred_channel is not UNSET:
            given["preferred_channel"] = (
                None if preferred_channel is None else str(preferred_channel)
            )
        if opted_out is not UNSET:
            given["opted_out"] = _channels(opted_out)
        if engagement_score is not UNSET:
            given["engagement_score"] = engagement_score
        if attributes is not UNSET:
            given["attributes"] = dict(attributes or {})

        for attempt in range(_RACE_ATTEMPTS):
            try:
                async with self._sessions.begin() as session:
                    family = await session.get(Family, family_id, with_for_update=True)
                    if family is None:
                        family = Family(family_id=family_id, **given)
                        session.add(family)
                    else:
                        for field, value in given.items():
                            setattr(family, field, value)
                return family
            except IntegrityError:
                # Another upsert inserted the same id first; the next pass updates it.
                if attempt == _RACE_ATTEMPTS - 1:
                    raise
        raise AssertionError("unreachable")

    async def get(self, family_id: str) -> Family | None:
        """The family, or None."""
        async with self._sessions() as session:
            return await session.get(Family, family_id)

    async def opt_out(self, family_id: str, channel: str) -> None:
        """Record that the family must not be contacted on `channel` again."""
        async with self._sessions.begin() as session:
            # Locked so two opt-outs arriving together do not overwrite each other's list.
            family = await session.get(Family, family_id, with_for_update=True)
            if family is None:
                raise LookupError(f"no family {family_id!r}")
            if str(channel) not in family.opted_out:
                family.opted_out = [*family.opted_out, str(channel)]

    async def list(self) -> builtins.list[Family]:
        """Every family, by id."""
        async with self._sessions() as session:
            return builtins.list(await session.scalars(select(Family).order_by(Family.family_id)))


def _channels(channels: Iterable[str]) -> list[str]:
    # str() turns a Channel member into its value; dict.fromkeys drops repeats, keeps order.
    return list(dict.fromkeys(str(channel) for channel in channels))


class PredictionRepository:
    """Predictions received, and the trigger's decision on each."""

    def __init__(self, sessions: Sessions) -> None:
        self._sessions = sessions

    async def add(
        self,
        family_id: str,
        probability: float,
        confidence: float,
        *,
        window_days: int | None = None,
        model_version: str = "unknown",
    ) -> Prediction:
        """Store a prediction; its outcome is set once the trigger has decided."""
        prediction = Prediction(
            family_id=family_id,
            probability=probability,
            confidence=confidence,
            window_days=window_days,
            model_version=model_version,
        )
        async with self._sessions.begin() as session:
            session.add(prediction)
        return prediction

    async def set_outcome(
        self, prediction_id: int, *, template: str | None, workflow_id: str | None, outcome: str
    ) -> None:
        """Record what the trigger did: e.g. "started", "already_running", "below_threshold"."""
        async with self._sessions.begin() as session:
            prediction = await session.get(Prediction, prediction_id)
            if prediction is None:
                raise LookupError(f"no prediction {prediction_id}")
            prediction.template = template
            prediction.workflow_id = workflow_id
            prediction.outcome = outcome


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
        for attempt in range(_RACE_ATTEMPTS):
            try:
                async with self._sessions.begin() as session:
                    latest = await session.scalar(_latest_query(params.name))
                    if latest is not None and _content(_params(latest)) == _content(params):
                        return _params(latest), False
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
                return _params(row), True
            except IntegrityError:
                # A concurrent save took this version number; compare with that one instead.
                if attempt == _RACE_ATTEMPTS - 1:
                    raise
        raise AssertionError("unreachable")

    async def latest(self, name: str) -> SequenceParams | None:
        """The highest version of `name`, active or not."""
        async with self._sessions() as session:
            row = await session.scalar(_latest_query(name))
        return None if row is None else _params(row)

    async def active(self, name: str) -> SequenceParams | None:
        """The highest active version of `name`: what new sequences start with."""
        async with self._sessions() as session:
            row = await session.scalar(_latest_query(name).where(Template.active.is_(True)))
        return None if row is None else _params(row)

    async def get(self, name: str, version: int) -> SequenceParams | None:
        """One exact version, e.g. the one a running sequence is pinned to."""
        async with self._sessions() as session:
            row = await session.scalar(
                select(Template).where(Template.name == name, Template.version == version)
            )
        return None if row is None else _params(row)

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
        async with self._sessions() as session:
            rows = await session.scalars(query)
            return [_params(row) for row in rows]

    async def set_active(self, name: str, active: bool, version: int | None = None) -> None:
        """Switch a version (the latest when not given) on or off."""
        async with self._sessions.begin() as session:
            query = _latest_query(name)
            if version is not None:
                query = query.where(Template.version == version)
            row = await session.scalar(query)
            if row is None:
                which = "any version" if version is None else f"version {version}"
                raise LookupError(f"no template {name!r} with {which}")
            row.active = active


def _latest_query(name: str) -> Select[Template]:
    return select(Template).where(Template.name == name).order_by(Template.version.desc()).limit(1)


class TaskRepository:
    """Coordinator tasks: opened by sequences, closed by people or by the sequence."""

    def __init__(self, sessions: Sessions) -> None:
        self._sessions = sessions

    async def open(
        self,
        *,
        idempotency_key: str,
        family_id: str,
        workflow_id: str,
        kind: str,
        reason: str,
        assign_to: str,
        details: dict[str, Any],
    ) -> tuple[CoordinatorTask, bool]:
        """Open a task, or return the one already opened under this key (and False)."""
        task = CoordinatorTask(
            idempotency_key=idempotency_key,
            family_id=family_id,
            workflow_id=workflow_id,
            kind=TaskKind(kind).value,
            reason=reason,
            assign_to=assign_to,
            details=dict(details),
            status="open",
        )
        return await _insert_once(self._sessions, task)

    async def cancel(self, task_id: int, *, reason: str, by: str = "workflow") -> CoordinatorTask:
        """Cancel an open task. A task already cancelled or done is returned unchanged."""
        return await self._close(task_id, status="cancelled", by=by, note=reason)

    async def complete(self, task_id: int, *, by: str, note: str = "") -> CoordinatorTask:
        """Mark an open task done. A task already cancelled or done is returned unchanged."""
        return await self._close(task_id, status="done", by=by, note=note)

    async def _close(self, task_id: int, *, status: str, by: str, note: str) -> CoordinatorTask:
        async with self._sessions.begin() as session:
            # Conditional on "open", so a cancel racing a completion cannot overwrite it.
            await session.execute(
                update(CoordinatorTask)
                .where(CoordinatorTask.id == task_id, CoordinatorTask.status == "open")
                .values(status=status, closed_at=utcnow(), closed_by=by, close_note=note)
                .execution_options(synchronize_session=False)
            )
            task = await session.get(CoordinatorTask, task_id)
            if task is None:
                raise LookupError(f"no coordinator task {task_id}")
            return task

    async def get(self, task_id: int) -> CoordinatorTask | None:
        """The task, or None."""
        async with self._sessions() as session:
            return await session.get(CoordinatorTask, task_id)

    async def list_open(self, kind: str | None = None) -> list[CoordinatorTask]:
        """Open tasks, optionally of one kind, oldest first."""
        query = select(CoordinatorTask).where(CoordinatorTask.status == "open")
        if kind is not None:
            query = query.where(CoordinatorTask.kind == str(kind))
        query = query.order_by(CoordinatorTask.created_at, CoordinatorTask.id)
        async with self._sessions() as session:
            return list(await session.scalars(query))

    async def for_workflow(self, workflow_id: str) -> list[CoordinatorTask]:
        """Every task a sequence opened, oldest first."""
        query = (
            select(CoordinatorTask)
            .where(CoordinatorTask.workflow_id == workflow_id)
            .order_by(CoordinatorTask.created_at, CoordinatorTask.id)
        )
        async with self._sessions() as session:
            return list(await session.scalars(query))


class MessageRepository:
    """The outbox: what was sent, to whom, through which provider."""

    def __init__(self, sessions: Sessions) -> None:
        self._sessions = sessions

    async def get_by_key(self, key: str) -> Message | None:
        """The message recorded under an idempotency key: a retry checks this before sending."""
        async with self._sessions() as session:
            return await session.scalar(select(Message).where(Message.idempotency_key == key))

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
    ) -> tuple[Message, bool]:
        """Record a sent message, or return the one recorded under this key (and False)."""
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
        )
        return await _insert_once(self._sessions, message)

    async def for_family(self, family_id: str) -> list[Message]:
        """Messages sent to a family, oldest first."""
        return await self._where(Message.family_id == family_id)

    async def for_workflow(self, workflow_id: str) -> list[Message]:
        """Messages a sequence sent, oldest first."""
        return await self._where(Message.workflow_id == workflow_id)

    async def _where(self, condition: Any) -> list[Message]:
        query = select(Message).where(condition).order_by(Message.created_at, Message.id)
        async with self._sessions() as session:
            return list(await session.scalars(query))


class StepExecutionRepository:
    """The PII-free audit trail: one row per step a sequence finished."""

    def __init__(self, sessions: Sessions) -> None:
        self._sessions = sessions

    async def record(
        self,
        *,
        idempotency_key: str,
        workflow_id: str,
        run_id: str,
        step_id: str,
        family_id: str,
        template: str,
        template_version: int,
        prediction_id: int | None,
        kind: str,
        channel: str | None,
        provider_message_id: str | None,
        attempts: int,
        outcome: str,
        error_type: str | None,
    ) -> tuple[StepExecution, bool]:
        """Record a step, or return the one recorded under this key (and False)."""
        step = StepExecution(
            idempotency_key=idempotency_key,
            workflow_id=workflow_id,
            run_id=run_id,
            step_id=step_id,
            family_id=family_id,
            template=template,
            template_version=template_version,
            prediction_id=prediction_id,
            kind=str(kind),
            channel=None if channel is None else str(channel),
            provider_message_id=provider_message_id,
            attempts=attempts,
            outcome=str(outcome),
            error_type=error_type,
        )
        return await _insert_once(self._sessions, step)

    async def for_family(self, family_id: str) -> list[StepExecution]:
        """A family's steps across all sequences, in time order."""
        return await self._where(StepExecution.family_id == family_id)

    async def for_workflow(self, workflow_id: str) -> list[StepExecution]:
        """One sequence's steps, in time order."""
        return await self._where(StepExecution.workflow_id == workflow_id)

    async def _where(self, condition: Any) -> list[StepExecution]:
        query = (
            select(StepExecution)
            .where(condition)
            .order_by(StepExecution.created_at, StepExecution.id)
        )
        async with self._sessions() as session:
            return list(await session.scalars(query))


class Store:
    """One repository per table over a shared sessionmaker; what activities are built with."""

    def __init__(self, sessions: Sessions, engine: AsyncEngine | None = None) -> None:
        self.sessions = sessions
        # The engine `close()` disposes: the one given, else the one the sessions are bound to.
        bind = sessions.kw.get("bind")
        self.engine: AsyncEngine | None = engine or (
            bind if isinstance(bind, AsyncEngine) else None
        )
        self.families = FamilyRepository(sessions)
        self.predictions = PredictionRepository(sessions)
        self.templates = TemplateRepository(sessions)
        self.tasks = TaskRepository(sessions)
        self.messages = MessageRepository(sessions)
        self.steps = StepExecutionRepository(sessions)

    @classmethod
    def from_url(cls, url: str) -> Store:
        """A store on its own engine. The schema must exist: run `store.migrate` first."""
        engine = make_engine(url)
        return cls(make_sessionmaker(engine), engine)

    async def close(self) -> None:
        """Close the engine's pooled connections."""
        if self.engine is not None:
            await self.engine.dispose()

    async def __aenter__(self) -> Store:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()
