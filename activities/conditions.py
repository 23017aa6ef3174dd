"""Evaluate a `Condition` against a flat mapping of facts (pure, no I/O)."""

from __future__ import annotations

from typing import Any

from contracts import Condition

_MISSING = object()


def _lookup(facts: dict[str, Any], path: str) -> Any:
    value: Any = facts
    for part in path.split("."):
        if not isinstance(value, dict) or part not in value:
            return _MISSING
        value = value[part]
    return value


def evaluate(condition: Condition, facts: dict[str, Any]) -> tuple[bool, str]:
    """Return the truth of `condition` and a one-line explanation of why."""
    if condition.all is not None:
        parts = [evaluate(c, facts) for c in condition.all]
        return all(v for v, _ in parts), "all(" + ", ".join(e for _, e in parts) + ")"
    if condition.any is not None:
        parts = [evaluate(c, facts) for c in condition.any]
        return any(v for v, _ in parts), "any(" + ", ".join(e for _, e in parts) + ")"
    if condition.not_ is not None:
        value, why = evaluate(condition.not_, facts)
        return not value, f"not({why})"
    if condition.field is None:
        raise ValueError("a condition needs a field, or one of all / any / not")
    actual = _lookup(facts, condition.field)
    if condition.op == "exists":
        result = actual is not _MISSING and actual is not None
        return result == bool(condition.value if condition.value is not None else True), (
            f"{condition.field} {'exists' if result else 'is missing'}"
        )
    if actual is _MISSING:
        return False, f"{condition.field} is missing"
    result = _compare(actual, condition.op, condition.value)
    return result, f"{condition.field}={actual!r} {condition.op} {condition.value!r}"


def _compare(actual: Any, op: str, expected: Any) -> bool:
    try:
        if op == "==":
            return bool(actual == expected)
        if op == "!=":
            return bool(actual != expected)
        if op == "in":
            return actual in expected
        if op == ">":
            return bool(actual > expected)
        if op == ">=":
            return bool(actual >= expected)
        if op == "<":
            return bool(actual < expected)
        if op == "<=":
            return bool(actual <= expected)
    except TypeError:
        return False
    raise ValueError(f"unknown operator {op!r}")
