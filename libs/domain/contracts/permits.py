"""The HTTP API of the permits service."""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel, ConfigDict, Field

from libs.domain.calendar import DayKind


class DeadlineRead(BaseModel):
    """The N-th working day after a start date."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"start": "2026-02-12", "working_days": 5, "deadline": "2026-02-26", "provisional": False}]
        }
    )

    start: date
    working_days: int
    deadline: date
    provisional: bool = Field(description="True if the count crossed a year the official calendar does not cover yet.")


class CalendarDay(BaseModel):
    """What the service's clock says about one day."""

    date: date
    working: bool
    kind: DayKind
    name: str | None = None
    provisional: bool
    overridden: bool


class CalendarOverride(BaseModel):
    """The bureau's override of one day."""

    working: bool
    note: str | None = Field(None, max_length=200)
