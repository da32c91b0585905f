"""Queries of period locks."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import exists, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from services.metrics.tables import PeriodLock


class LockRepository:
    """Period locks."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, row: PeriodLock) -> bool:
        """Insert a lock; ``False`` when the same period and scope is already locked."""
        try:
            async with self.session.begin_nested():
                self.session.add(row)
                await self.session.flush()
        except IntegrityError:
            return False
        return True

    async def for_periods(self, periods: Iterable[str]) -> list[PeriodLock]:
        """Every lock on one of ``periods``."""
        wanted = sorted(set(periods))
        if not wanted:
            return []
        stmt = select(PeriodLock).where(PeriodLock.period.in_(wanted)).order_by(PeriodLock.id)
        return list(await self.session.scalars(stmt))

    async def any_on(self, periods: Iterable[str]) -> bool:
        """Whether any lock is on one of ``periods``."""
        wanted = sorted(set(periods))
        if not wanted:
            return False
        return bool(await self.session.scalar(select(exists().where(PeriodLock.period.in_(wanted)))))

    async def find(self, period: str, scope: str) -> PeriodLock | None:
        """The lock of ``period`` and ``scope``, if any."""
        stmt = select(PeriodLock).where(PeriodLock.period == period, PeriodLock.scope == scope)
        return (await self.session.scalars(stmt)).first()

    async def search(self, *, period: str | None, after_id: int | None, limit: int) -> list[PeriodLock]:
        """Locks by id."""
        stmt = select(PeriodLock).order_by(PeriodLock.id).limit(limit)
        if period is not None:
            stmt = stmt.where(PeriodLock.period == period)
        if after_id is not None:
            stmt = stmt.where(PeriodLock.id > after_id)
        return list(await self.session.scalars(stmt))
