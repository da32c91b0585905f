"""All of the registry's queries. Repositories flush; the request's session commits."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from services.registry.tables import Change, Division, ZoneState


def _valid_on(model: Any, as_of: date) -> ColumnElement[bool]:
    return and_(model.valid_from <= as_of, or_(model.valid_to.is_(None), model.valid_to > as_of))


class DivisionRepository:
    """Divisions and their validity intervals."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def versions(self, code: str) -> list[Division]:
        """Every recorded state of ``code``, oldest first."""
        rows = await self.session.scalars(select(Division).where(Division.code == code).order_by(Division.valid_from))
        return list(rows)

    async def valid_on(self, as_of: date, *, after_code: str | None = None, limit: int | None = None) -> list[Division]:
        """Divisions in force on ``as_of``, ordered by code, after the cursor."""
        stmt = select(Division).where(_valid_on(Division, as_of)).order_by(Division.code)
        if after_code is not None:
            stmt = stmt.where(Division.code > after_code)
        if limit is not None:
            stmt = stmt.limit(limit)
        return list(await self.session.scalars(stmt))

    async def get_valid(self, code: str, as_of: date) -> Division | None:
        """The state of ``code`` in force on ``as_of``."""
        stmt = select(Division).where(Division.code == code, _valid_on(Division, as_of))
        return (await self.session.scalars(stmt)).first()

    async def add(self, division: Division) -> None:
        """Insert a division state."""
        self.session.add(division)
        await self.session.flush()


class ZoneStateRepository:
    """The projection of zone states."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, zone_id: str, as_of: date) -> ZoneState | None:
        """The state of ``zone_id`` in force on ``as_of``."""
        stmt = select(ZoneState).where(ZoneState.zone_id == zone_id, _valid_on(ZoneState, as_of))
        return (await self.session.scalars(stmt)).first()

    async def exists(self, zone_id: str) -> bool:
        """True if ``zone_id`` has any recorded state."""
        return (
            await self.session.scalar(select(ZoneState.id).where(ZoneState.zone_id == zone_id).limit(1))
        ) is not None


class ChangeRepository:
    """The change feed."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def append(self, type_: str, payload: dict[str, Any], at: datetime) -> None:
        """Record a change in the current transaction."""
        self.session.add(Change(type=type_, payload=payload, occurred_at=at))
        await self.session.flush()

    async def after(self, after_id: int, limit: int) -> list[Change]:
        """Changes after ``after_id``, oldest first."""
        rows = await self.session.scalars(select(Change).where(Change.id > after_id).order_by(Change.id).limit(limit))
        return list(rows)
