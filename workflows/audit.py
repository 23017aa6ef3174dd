"""How an audit row names the failure of a step that wrote no row of its own.

Sends, condition checks and tasks record their own row inside their activity; a wait, a
skip or a fallback would leave a gap in "what happened to this family", so the sequence
hands their rows to the next activity (`InterventionRuntime.audit_step`).
"""

from __future__ import annotations

import re

_ERROR_TYPE = re.compile(r"^([A-Z][A-Za-z]+):")


def error_type(error: str | None) -> str | None:
    """`HardBounce` from `HardBounce: provider refused ...`; a named reason for the rest."""
    if not error:
        return None
    match = _ERROR_TYPE.match(error)
    if match:
        return match.group(1)
    return "NoUsableChannel" if "no usable" in error else "StepFailed"
