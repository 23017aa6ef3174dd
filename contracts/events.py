"""Outside events a sequence hears of (`record_event`), and the error type of template checks."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field, field_validator
from pydantic_core import PydanticCustomError

from contracts.bounds import check_event_data


def problem(text: str) -> PydanticCustomError:
    """A validation error whose text is shown as written."""
    # The detail goes through the context so braces in it (message templates) stay literal.
    return PydanticCustomError("template", "{detail}", {"detail": text})


class Event(BaseModel):
    """Signal `record_event`: something happened outside (an event trigger's payload)."""

    name: str = Field(min_length=1, max_length=100)
    data: dict[str, Any] = {}

    @field_validator("data")
    @classmethod
    def _data(cls, value: dict[str, Any]) -> dict[str, Any]:
        # Kept in the sequence's state and read by conditions: finite numbers, a few KB.
        try:
            return check_event_data(value)
        except ValueError as err:
            raise problem(str(err)) from None
