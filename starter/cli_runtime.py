"""How every CLI command runs: its settings, its connections, and its errors as one line."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import date, datetime
from pathlib import Path
from typing import Any, TypeVar

import typer
from pydantic import ValidationError
from temporalio.client import Client
from temporalio.service import RPCError

from followthrough import operations
from followthrough.platform.codec import CodecError
from followthrough.platform.connection import TemporalConnectionError, connect
from followthrough.platform.settings import Settings, SettingsError
from followthrough.templates import TemplateFileError, format_errors
from followthrough.triggers import start as triggers
from store import Store, migrate

T = TypeVar("T")

KNOWN_ERRORS = (
    triggers.TriggerError,
    operations.OperationError,
    SettingsError,
    TemplateFileError,
    CodecError,
    TemporalConnectionError,
)

_settings: Settings | None = None


def settings() -> Settings:
    """The settings of the command being run, read from the environment once per command."""
    global _settings
    if _settings is None:
        _settings = Settings.from_env()
    return _settings


def fail(message: str) -> None:
    typer.secho(f"error: {message}", fg=typer.colors.RED, err=True)
    raise typer.Exit(1)


def run(work: Callable[[], Awaitable[T]]) -> T:
    """Run a command; known problems become one clear line and exit code 1."""
    global _settings
    _settings = None
    try:
        return asyncio.run(work())  # type: ignore[arg-type]
    except KNOWN_ERRORS as err:
        fail(str(err))
    except ValidationError as err:
        fail(format_errors(err))
    except RPCError as err:
        fail(f"Temporal refused the request: {err.message}")
    except (RuntimeError, ConnectionError, OSError) as err:
        text = str(err)
        if "connect" in text.lower() or isinstance(err, ConnectionError):
            fail(f"cannot reach Temporal at {settings().temporal_address}: is it running?")
        fail(text)
    finally:
        _settings = None
    raise AssertionError("unreachable")


@asynccontextmanager
async def session() -> AsyncIterator[tuple[Settings, Client, Store]]:
    """The settings, a Temporal client and the store, for commands that need all three."""
    current = settings()
    client = await connect(current)  # TemporalConnectionError: one line, exit 1
    store = Store.from_url(current.database_url)
    try:
        yield current, client, store
    finally:
        await store.close()


@asynccontextmanager
async def temporal() -> AsyncIterator[Client]:
    """A Temporal client, for commands that only signal or read sequences."""
    yield await connect(settings())  # TemporalConnectionError: one line, exit 1


@asynccontextmanager
async def open_store(*, migrated: bool = False) -> AsyncIterator[Store]:
    """The store at DATABASE_URL (migrated first when asked), for commands without Temporal."""
    url = settings().database_url
    if migrated:
        await migrate(url)
    store = Store.from_url(url)
    try:
        yield store
    finally:
        await store.close()


def require_file(path: Path) -> bool:
    """True when `path` is a file; otherwise one clear line and exit code 1."""
    if not path.is_file():
        fail(f"{path}: no such file")
    return True


# `--json` on the reading commands: one document on stdout, its keys listed in the README.
AS_JSON = typer.Option("--json", help="One JSON document for scripts (keys in the README).")


def dump(data: Any) -> str:
    """One JSON document for `--json`: dates and times in ISO 8601."""
    return json.dumps(data, indent=2, default=_plain)


def _plain(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value)
