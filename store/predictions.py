"""Predictions received from the model, and what the trigger did with each."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from store.db import read_session
from store.models import Prediction
from store.unique import Sessions


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

    async def last_started(self, family_id: str, template: str) -> datetime | None:
        """When a prediction last started `template` for the family (for cooldowns)."""
        async with read_session(self._sessions) as session:
            found: datetime | None = await session.scalar(
                select(Prediction.created_at)
                .where(
                    Prediction.family_id == family_id,
                    Prediction.template == template,
                    Prediction.outcome.in_(["started", "upgraded"]),
                )
                .order_by(Prediction.created_at.desc())
                .limit(1)
            )
        return found
