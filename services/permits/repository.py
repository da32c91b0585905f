"""All of the permits service's queries."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.permits.tables import CalendarOverride


class CalendarRepository:
    """The bureau's calendar overrides."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def all(self) -> list[CalendarOverride]:
        """Every override."""
        return list(await self.session.scalars(select(CalendarOverride).order_by(CalendarOverride.day)))

    async def get(self, day: date) -> CalendarOverride | None:
        """The override of ``day``, if any."""
        return await self.session.get(CalendarOverride, day)

    async def add(self, row: CalendarOverride) -> None:
        """Insert an override."""
        self.session.add(row)
        await self.session.flush()
