"""`Store`: one repository per table over a shared sessionmaker.

Every public repository method is its own transaction and returns detached objects (the
sessionmaker is built with `expire_on_commit=False`) or plain values. Rows written on behalf of
an activity carry an idempotency key; writing the same key twice returns the first row,
whoever won the race.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine

from store.accounts import AccountRepository
from store.audit import StepExecutionRepository
from store.db import make_engine, make_sessionmaker
from store.families import UNSET, FamilyRepository
from store.health import CircuitRepository, ProviderHealthRepository, SuspensionRepository
from store.outbox import MessageRepository
from store.outcomes import OutcomeRepository
from store.pacing import PaceRepository
from store.predictions import PredictionRepository
from store.reservations import ReservationRepository
from store.rollouts import RolloutRepository
from store.starts import StartRepository
from store.tasks import TaskRepository
from store.templates import TemplateRepository
from store.unique import Sessions


class Store:
    """One repository per table over a shared sessionmaker; what activities are built with."""

    def __init__(self, sessions: Sessions, engine: AsyncEngine | None = None) -> None:
        self.sessions = sessions
        # The engine `close()` disposes: the one given, else the one the sessions are bound to.
        bind = sessions.kw.get("bind")
        if engine is None and isinstance(bind, AsyncEngine):
            engine = bind
        self.engine = engine
        self.families = FamilyRepository(sessions)
        self.predictions = PredictionRepository(sessions)
        self.templates = TemplateRepository(sessions)
        self.tasks = TaskRepository(sessions)
        self.messages = MessageRepository(sessions)
        self.steps = StepExecutionRepository(sessions)
        self.health = ProviderHealthRepository(sessions)
        self.suspensions = SuspensionRepository(sessions)
        self.rollouts = RolloutRepository(sessions)
        self.starts = StartRepository(sessions)
        self.outcomes = OutcomeRepository(sessions)
        self.reservations = ReservationRepository(sessions)
        self.circuits = CircuitRepository(sessions)
        self.pacing = PaceRepository(sessions)
        self.accounts = AccountRepository(sessions)

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


__all__ = [
    "UNSET",
    "FamilyRepository",
    "MessageRepository",
    "PredictionRepository",
    "StepExecutionRepository",
    "Store",
    "TaskRepository",
    "TemplateRepository",
]
