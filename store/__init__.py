"""Persistence for Follow-through: families, predictions, templates, tasks, outbox, audit trail.

`await migrate(url)` brings the schema up to date; `Store.from_url(url)` gives the repositories.
"""

from store.db import DEFAULT_DATABASE_URL, database_url, make_engine, make_sessionmaker
from store.migrate import migrate
from store.models import (
    Base,
    CoordinatorTask,
    Family,
    Message,
    Prediction,
    StepExecution,
    Template,
)
from store.repositories import (
    UNSET,
    FamilyRepository,
    MessageRepository,
    PredictionRepository,
    StepExecutionRepository,
    Store,
    TaskRepository,
    TemplateRepository,
)

__all__ = [
    "DEFAULT_DATABASE_URL",
    "UNSET",
    "Base",
    "CoordinatorTask",
    "Family",
    "FamilyRepository",
    "Message",
    "MessageRepository",
    "Prediction",
    "PredictionRepository",
    "StepExecution",
    "StepExecutionRepository",
    "Store",
    "TaskRepository",
    "Template",
    "TemplateRepository",
    "database_url",
    "make_engine",
    "make_sessionmaker",
    "migrate",
]
