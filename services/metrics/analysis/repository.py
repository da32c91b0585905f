"""Queries of the read side: one period's values, first push times, deadlines."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.metrics.tables import Batch, Deadline, Observation


class AnalysisRepository:
    """Reads for the matrix, completeness and quality."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def _asyncpg(self) -> Any:
        """The session's asyncpg connection, planning each query for its own parameters (a period's
        rows are a range of the key; see ``ObservationRepository.current``)."""
        conn = await self.session.connection()
        raw: Any = (await conn.get_raw_connection()).driver_connection
        await raw.execute("SET LOCAL plan_cache_mode = force_custom_plan")
        return raw

    async def period_values(self, period: str, codes: Sequence[str]) -> list[tuple[str, str, str, Any, str | None]]:
        """(subject_type, subject_id, indicator, value, pushing division: its batch's) of ``period`` for ``codes``.

        One query; on PostgreSQL straight through asyncpg (a period holds ~100,000 values).
        """
        if not codes:
            return []
        if self.session.bind.dialect.name == "postgresql":
            raw = await self._asyncpg()
            rows = await raw.fetch(
                "SELECT o.subject_type, o.subject_id, o.indicator_code, o.value, b.recorded_by_division "
                "FROM observation o JOIN batch b ON b.id = o.batch "
                "WHERE o.period = $1 AND o.indicator_code = ANY($2::text[])",
                period,
                list(codes),
            )
            return [(r[0], r[1], r[2], r[3], r[4]) for r in rows]
        stmt = (
            select(
                Observation.subject_type,
                Observation.subject_id,
                Observation.indicator_code,
                Observation.value,
                Batch.recorded_by_division,
            )
            .join(Batch, Batch.id == Observation.batch)
            .where(Observation.period == period, Observation.indicator_code.in_(list(codes)))
        )
        return [(r[0], r[1], r[2], r[3], r[4]) for r in await self.session.execute(stmt)]

    async def period_floats(self, period: str, codes: Sequence[str]) -> Sequence[Sequence[Any]]:
        """(subject_type, subject_id, indicator, value as a float) of ``period`` for ``codes``: the matrix.

        One query; on PostgreSQL straight through asyncpg, since the matrix reads ~100,000 rows
        (the server sends doubles, much cheaper to decode than numerics), its records returned
        as they are (each unpacks like the tuple it stands for).
        """
        if not codes:
            return []
        if self.session.bind.dialect.name == "postgresql":
            raw = await self._asyncpg()
            records: list[Any] = await raw.fetch(
                "SELECT subject_type, subject_id, indicator_code, value::float8 FROM observation "
                "WHERE period = $1 AND indicator_code = ANY($2::text[])",
                period,
                list(codes),
            )
            return records
        o = Observation
        stmt = select(o.subject_type, o.subject_id, o.indicator_code, o.value).where(
            o.period == period, o.indicator_code.in_(list(codes))
        )
        return [(r[0], r[1], r[2], float(r[3])) for r in await self.session.execute(stmt)]

    async def parts_floats(self, periods: Sequence[str], codes: Sequence[str]) -> Sequence[Sequence[Any]]:
        """(period, subject_type, subject_id, indicator, value as a float) of ``periods`` for ``codes``:
        the sub-periods a matrix builds its missing values from."""
        if not periods or not codes:
            return []
        if self.session.bind.dialect.name == "postgresql":
            raw = await self._asyncpg()
            records: list[Any] = await raw.fetch(
                "SELECT period, subject_type, subject_id, indicator_code, value::float8 FROM observation "
                "WHERE period = ANY($1::text[]) AND indicator_code = ANY($2::text[])",
                list(periods),
                list(codes),
            )
            return records
        o = Observation
        stmt = select(o.period, o.subject_type, o.subject_id, o.indicator_code, o.value).where(
            o.period.in_(list(periods)), o.indicator_code.in_(list(codes))
        )
        return [(r[0], r[1], r[2], r[3], float(r[4])) for r in await self.session.execute(stmt)]

    async def first_pushes(self, period: str, codes: Sequence[str]) -> list[tuple[str, str, datetime]]:
        """(zone, indicator, first recorded at) of the zones' values of ``period`` for ``codes``."""
        if not codes:
            return []
        first = func.coalesce(Observation.first_recorded_at, Batch.recorded_at)
        stmt = (
            select(Observation.subject_id, Observation.indicator_code, first)
            .join(Batch, Batch.id == Observation.batch)
            .where(
                Observation.period == period,
                Observation.subject_type == "zone",
                Observation.indicator_code.in_(list(codes)),
            )
        )
        return [(r[0], r[1], r[2]) for r in await self.session.execute(stmt)]

    async def deadline(self, period: str) -> Deadline | None:
        """The due date set for ``period``."""
        return await self.session.get(Deadline, period)

    async def set_deadline(self, row: Deadline) -> Deadline:
        """Set (or replace) a period's due date."""
        merged = await self.session.merge(row)
        await self.session.flush()
        return merged
