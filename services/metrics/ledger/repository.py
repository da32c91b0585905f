"""Queries of the ledger (every batch and version, to verify the chain) and of period locks."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from typing import Any

from sqlalchemy import exists, literal, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from libs.domain.metrics.ledger import REVISION_FIELDS
from services.metrics.observations.repository import OBSERVATION_TABLE, REVISION_TABLE, VERSION_COLUMNS
from services.metrics.tables import Batch, PeriodLock


class LedgerRepository:
    """The whole ledger, read in chain order to verify it."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def batches(self) -> list[Batch]:
        """Every batch of the ledger, in chain order."""
        return list(await self.session.scalars(select(Batch).order_by(Batch.first_seq)))

    def _versions(self) -> Any:
        """Every version, history and current, as :data:`REVISION_FIELDS` plus ``current`` (1 for a current one)."""
        h = REVISION_TABLE.c
        c = OBSERVATION_TABLE.c
        history = select(*(h[name] for name in REVISION_FIELDS), literal(0).label("current"))
        currents = select(
            *(c[column].label(name) for name, column in zip(REVISION_FIELDS, VERSION_COLUMNS, strict=True)),
            literal(1).label("current"),
        )
        return history.union_all(currents).subquery("version")

    async def version_after(self, seq: int) -> dict[str, Any] | None:
        """The first version stored after ``seq``."""
        v = self._versions()
        row = (await self.session.execute(select(v).where(v.c.seq > seq).order_by(v.c.seq).limit(1))).mappings().first()
        return dict(row) if row is not None else None

    async def stream_versions(self, chunk: int = 5000) -> AsyncIterator[list[dict[str, Any]]]:
        """Every version (history and current) in seq order, a chunk at a time, as mappings of
        :data:`REVISION_FIELDS` plus ``current``; one sorted query read through a server-side cursor."""
        v = self._versions()
        result = await self.session.stream(select(v).order_by(v.c.seq).execution_options(yield_per=chunk))
        async for part in result.mappings().partitions(chunk):
            yield [dict(r) for r in part]


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
