"""All of the metrics service's queries."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.metrics.tables import Indicator


class IndicatorRepository:
    """Indicator versions."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def latest(self, *, after_code: str | None, limit: int) -> list[Indicator]:
        """The latest version of each indicator, ordered by code, after the cursor."""
        latest = select(Indicator.code, func.max(Indicator.version).label("v")).group_by(Indicator.code).subquery()
        stmt = (
            select(Indicator)
            .join(latest, (Indicator.code == latest.c.code) & (Indicator.version == latest.c.v))
            .order_by(Indicator.code)
            .limit(limit)
        )
        if after_code is not None:
            stmt = stmt.where(Indicator.code > after_code)
        return list(await self.session.scalars(stmt))

    async def latest_version(self, code: str) -> int:
        """The highest version of ``code`` (0 if unknown)."""
        return int(
            await self.session.scalar(
                select(func.coalesce(func.max(Indicator.version), 0)).where(Indicator.code == code)
            )
            or 0
        )

    async def add(self, row: Indicator) -> None:
        """Insert an indicator version."""
        self.session.add(row)
        await self.session.flush()
