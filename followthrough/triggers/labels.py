"""What a run is called where people look for it: its search attributes and the summary the
Temporal Web UI shows at the top of its list and run page."""

from __future__ import annotations

import re
from typing import Any

from temporalio.common import SearchAttributePair, TypedSearchAttributes

from contracts import Event, PredictionRef, SequenceParams, State
from workflows.search_attributes import (
    FAMILY_ID,
    RISK_SCORE,
    STATE,
    TEMPLATE_NAME,
    TEMPLATE_VERSION,
)


def search_attributes(
    params: SequenceParams, family_id: str, prediction: PredictionRef | None
) -> TypedSearchAttributes:
    """The run's search attributes at start, for the Web UI's and the CLI's lists."""
    pairs: list[SearchAttributePair[Any]] = [
        # A run on today's code says `running` until it waits on a person or ends.
        SearchAttributePair(STATE, State.RUNNING.value),
        SearchAttributePair(FAMILY_ID, family_id),
        SearchAttributePair(TEMPLATE_NAME, params.name),
        SearchAttributePair(TEMPLATE_VERSION, params.version),
    ]
    if prediction is not None:
        # A manual or event start has no risk: none is set rather than a misleading 0.
        pairs.append(SearchAttributePair(RISK_SCORE, prediction.probability))
    return TypedSearchAttributes(pairs)


def run_summary(
    params: SequenceParams, family_id: str, prediction: PredictionRef | None, event: Event | None
) -> str:
    """What a run is, in words, for the Web UI's list and run page (no names or addresses):
    "High-risk intervention · family F1001 · risk 0.87 · v3"."""
    title = re.sub(r"\b(high|medium|low) risk\b", r"\1-risk", params.name.replace("_", " "))
    parts = [title[:1].upper() + title[1:], f"family {family_id}"]
    if prediction is not None:
        parts.append(f"risk {prediction.probability:.2f}")
    if event is not None:
        parts.append(f"event {event.name}")
    return " · ".join([*parts, f"v{params.version}"])
