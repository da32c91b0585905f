"""Queries of the calendar: the bureau's overrides and loaded holiday notices."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.permits.sql import dialect_insert
from services.permits.tables import (
    CalendarOverride,
    CalendarYear,
)


class CalendarRepository:
    """The bureau's calendar overrides and loaded holiday notices."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def all(self) -> list[CalendarOverride]:
        """Every override."""
        return list(await self.session.scalars(select(CalendarOverride).order_by(CalendarOverride.day)))

    async def years(self) -> list[CalendarYear]:
        """Every loaded holiday notice."""
        return list(await self.session.scalars(select(CalendarYear).order_by(CalendarYear.year)))

    async def upsert_override(self, values: dict[str, Any]) -> None:
        """Create or replace the override of a day in one statement (the last word wins)."""
        stmt = dialect_insert(self.session)(CalendarOverride).values(**values)
        changed = {k: v for k, v in values.items() if k != "day"}
        await self.session.execute(stmt.on_conflict_do_update(index_elements=["day"], set_=changed))

    async def upsert_year(self, values: dict[str, Any]) -> CalendarYear:
        """Create or replace a loaded notice in one statement; returns the stored row."""
        stmt = dialect_insert(self.session)(CalendarYear).values(**values)
        changed = {k: v for k, v in values.items() if k != "year"}
        await self.session.execute(stmt.on_conflict_do_update(index_elements=["year"], set_=changed))
        row = await self.session.scalar(
            select(CalendarYear).where(CalendarYear.year == values["year"]).execution_options(populate_existing=True)
        )
        assert row is not None
        return row
