"""The worker image: built from the project, run as a non-root user, with a lean context."""

from __future__ import annotations

import json
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def dockerfile_instructions(path: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs with line continuations joined, comments dropped."""
    logical: list[str] = []
    buffer = ""
    for line in path.read_text().splitlines():
        stripped = line.strip()
        if not buffer and (not stripped or stripped.startswith("#")):
            continue
        if stripped.endswith("\\"):
            buffer += stripped[:-1] + " "
            continue
        logical.append(buffer + stripped)
        buffer = ""
    if buffer:
        logical.append(buffer)
    result = []
    for item in logical:
        keyword, _, rest = item.partition(" ")
        result.append((keyword.upper(), rest.strip()))
    return result


def test_dockerfile() -> None:
    instructions = dockerfile_instructions(ROOT / "Dockerfile")
    by_kind: dict[str, list[str]] = {}
    for kind, args in instructions:
        by_kind.setdefault(kind, []).append(args)

    assert by_kind["FROM"] == ["python:3.11-slim"]
    assert any(re.search(r"pip install --no-cache-dir \.(\s|$)", r) for r in by_kind["RUN"])

    user = by_kind["USER"][-1]
    assert user not in {"root", "0"} and not user.startswith(("root:", "0:"))
    last_user_at = max(i for i, (kind, _) in enumerate(instructions) if kind == "USER")
    assert all(kind != "RUN" for kind, _ in instructions[last_user_at:])

    cmd = json.loads(by_kind["CMD"][-1])
    assert cmd == ["python", "worker.py"]


def test_dockerignore() -> None:
    patterns = {
        line.strip().rstrip("/")
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    }
    assert {".venv", ".data", ".git", ".env"} <= patterns
    assert {".pytest_cache", ".mypy_cache", ".ruff_cache"} <= patterns
    # The image runs `pip install .`: everything it needs must reach the context.
    for needed in ("pyproject.toml", "README.md", "worker.py", "contracts", "workflows", "store"):
        assert needed not in patterns
