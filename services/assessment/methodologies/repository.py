"""Queries on methodologies."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.assessment.tables import Assessment, Methodology


async def get(session: AsyncSession, code: str, version: int) -> Methodology | None:
    """A version of ``code``."""
    result = await session.execute(select(Methodology).where(Methodology.code == code, Methodology.version == version))
    return result.scalar_one_or_none()


async def latest(session: AsyncSession, code: str) -> Methodology | None:
    """The highest version of ``code``."""
    result = await session.execute(
        select(Methodology).where(Methodology.code == code).order_by(Methodology.version.desc()).limit(1)
    )
    return result.scalar_one_or_none()


async def by_id(session: AsyncSession, methodology_id: int) -> Methodology | None:
    """A methodology by its id."""
    return await session.get(Methodology, methodology_id)


async def insert(session: AsyncSession, **values: Any) -> Methodology:
    """Store a new version (flushed, not committed)."""
    row = Methodology(**values)
    session.add(row)
    await session.flush()
    return row


async def page(session: AsyncSession, *, code: str | None, after: int | None, limit: int) -> Sequence[Methodology]:
    """Versions ordered by id, after the cursor ``after``."""
    query = select(Methodology).order_by(Methodology.id).limit(limit)
    if code is not None:
        query = query.where(Methodology.code == code)
    if after is not None:
        query = query.where(Methodology.id > after)
    return (await session.execute(query)).scalars().all()


async def run_counts(session: AsyncSession, ids: Sequence[int]) -> dict[int, int]:
    """How many runs used each methodology id."""
    if not ids:
        return {}
    result = await session.execute(
        select(Assessment.methodology_id, func.count())
        .where(Assessment.methodology_id.in_(ids))
        .group_by(Assessment.methodology_id)
    )
    return {int(mid): int(n) for mid, n in result.all()}
