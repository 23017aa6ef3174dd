"""The CLI's tests run the real `followthrough` app on the test's own store."""

from __future__ import annotations

from pathlib import Path

import pytest

from store import Store


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, store: Store, tmp_path: Path) -> None:
    monkeypatch.setenv("DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'store.db'}")
