"""Queries on sanction policies, outcomes and summons."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.assessment.tables import Assessment, Outcome, SanctionPolicy, Summons


async def latest_policy(session: AsyncSession, kind: str) -> SanctionPolicy | None:
    """The newest stored policy of ``kind``."""
    query = select(SanctionPolicy).where(SanctionPolicy.kind == kind).order_by(SanctionPolicy.version.desc()).limit(1)
    return (await session.execute(query)).scalar_one_or_none()


async def insert_policy(session: AsyncSession, **values: Any) -> SanctionPolicy:
    """Store a policy version (flushed)."""
    row = SanctionPolicy(**values)
    session.add(row)
    await session.flush()
    return row


async def zone_outcomes(
    session: AsyncSession, zone: str, *, include_withdrawn: bool, after: int | None, limit: int
) -> Sequence[Outcome]:
    """A zone's outcomes of published runs (and, ``include_withdrawn``, of superseded and withdrawn
    ones), newest first, before the cursor ``after``."""
    statuses = ["published", "superseded", "withdrawn"] if include_withdrawn else ["published"]
    query = (
        select(Outcome)
        .join(Assessment, Assessment.id == Outcome.assessment_id)
        .where(Outcome.zone == zone, Assessment.status.in_(statuses))
        .order_by(Outcome.id.desc())
        .limit(limit)
    )
    if after is not None:
        query = query.where(Outcome.id < after)
    return (await session.execute(query)).scalars().all()


async def summons_of(session: AsyncSession, outcome_ids: Sequence[int]) -> dict[int, int]:
    """The summons id of each outcome that has one."""
    if not outcome_ids:
        return {}
    query = select(Summons.outcome_id, Summons.id).where(Summons.outcome_id.in_(list(outcome_ids)))
    return {int(o): int(s) for o, s in (await session.execute(query)).all()}


async def summons_page(
    session: AsyncSession, *, zone: str | None, assessment: int | None, after: int | None, limit: int
) -> Sequence[Summons]:
    """Summons records, newest first."""
    query = select(Summons).order_by(Summons.id.desc()).limit(limit)
    if zone is not None:
        query = query.where(Summons.zone == zone)
    if assessment is not None:
        query = query.where(Summons.assessment_id == assessment)
    if after is not None:
        query = query.where(Summons.id < after)
    return (await session.execute(query)).scalars().all()
