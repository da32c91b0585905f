"""Queries of the indicator catalog."""

from __future__ import annotations

from sqlalchemy import exists, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.metrics.tables import Indicator, Observation


class IndicatorRepository:
    """Indicator versions."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def fingerprint(self) -> tuple[int, int]:
        """How many versions there are and the highest id: versions are only ever added, so the
        catalog is unchanged while both are."""
        row = (await self.session.execute(select(func.count(), func.max(Indicator.id)))).one()
        return int(row[0]), int(row[1] or 0)

    async def latest(self, *, after_code: str | None = None, limit: int | None = None) -> list[Indicator]:
        """The latest version of each indicator, ordered by code, after the cursor."""
        latest = select(Indicator.code, func.max(Indicator.version).label("v")).group_by(Indicator.code).subquery()
        stmt = (
            select(Indicator)
            .join(latest, (Indicator.code == latest.c.code) & (Indicator.version == latest.c.v))
            .order_by(Indicator.code)
        )
        if after_code is not None:
            stmt = stmt.where(Indicator.code > after_code)
        if limit is not None:
            stmt = stmt.limit(limit)
        return list(await self.session.scalars(stmt))

    async def versions(self, code: str) -> list[Indicator]:
        """Every version of ``code``, oldest first."""
        stmt = select(Indicator).where(Indicator.code == code).order_by(Indicator.version)
        return list(await self.session.scalars(stmt))

    async def latest_version(self, code: str) -> int:
        """The highest version of ``code`` (0 if unknown)."""
        value = await self.session.scalar(
            select(func.coalesce(func.max(Indicator.version), 0)).where(Indicator.code == code)
        )
        return int(value or 0)

    async def existing_codes(self) -> set[str]:
        """Every code with at least one version."""
        return set(await self.session.scalars(select(Indicator.code).distinct()))

    async def is_used(self, code: str) -> bool:
        """True when any value was ever pushed for ``code``."""
        return bool(await self.session.scalar(select(exists().where(Observation.indicator_code == code))))

    async def add(self, row: Indicator) -> None:
        """Insert an indicator version."""
        self.session.add(row)
        await self.session.flush()

    async def add_all(self, rows: list[Indicator]) -> None:
        """Insert several indicator versions."""
        self.session.add_all(rows)
        await self.session.flush()
