"""The metrics service's use cases."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from libs.domain.contracts.common import Actor
from libs.domain.contracts.metrics import IndicatorCreate, IndicatorRead
from libs.domain.errors import Unprocessable
from services.metrics.repository import IndicatorRepository
from services.metrics.tables import Indicator


def indicator_read(row: Indicator) -> IndicatorRead:
    """Contract view of an indicator row."""
    return IndicatorRead(
        code=row.code,
        version=row.version,
        name_zh=row.name_zh,
        name_en=row.name_en,
        unit=row.unit,
        kind=row.kind,
        direction=row.direction,
        period_types=list(row.period_types),
        min=row.min,
        max=row.max,
        formula=row.formula,
        created_at=row.created_at,
    )


async def create_indicator(*, session: AsyncSession, actor: Actor, body: IndicatorCreate) -> IndicatorRead:
    """Add an indicator, or a new version of an existing code."""
    faults = []
    if (body.kind == "derived") != (body.formula is not None):
        faults.append(
            {
                "loc": ["body", "formula"],
                "msg": "a formula is required for derived indicators and only for them",
                "type": "formula",
            }
        )
    if body.min is not None and body.max is not None and body.min >= body.max:
        faults.append({"loc": ["body", "max"], "msg": "max must be greater than min", "type": "range"})
    if faults:
        raise Unprocessable("the indicator is not valid", errors=faults)
    repo = IndicatorRepository(session)
    version = await repo.latest_version(body.code) + 1
    row = Indicator(**body.model_dump(), version=version, created_at=datetime.now(UTC), created_by=actor.sub)
    await repo.add(row)
    return indicator_read(row)


async def list_indicators(
    *, session: AsyncSession, after: str | None, limit: int
) -> tuple[list[IndicatorRead], str | None]:
    """The latest version of each indicator, one page."""
    rows = await IndicatorRepository(session).latest(after_code=after, limit=limit + 1)
    more = len(rows) > limit
    rows = rows[:limit]
    return [indicator_read(r) for r in rows], (rows[-1].code if more and rows else None)
