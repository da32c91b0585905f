"""When a period's values are due: as set by the city, else a default rule."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from libs.domain.kernel.contracts import Actor
from libs.domain.kernel.errors import Unprocessable
from libs.domain.kernel.i18n import Text
from libs.domain.kernel.values import Period
from libs.domain.metrics.contracts import DeadlineRead, DeadlineSet
from services.metrics.analysis.repository import AnalysisRepository
from services.metrics.tables import Deadline

DEFAULT_DUE_DAYS = 30
"""Without a date set for a period, its values are due this many days after it ends."""


def default_due(period: Period) -> date:
    """The due date of a period nobody set one for: :data:`DEFAULT_DUE_DAYS` after its end."""
    return period.end + timedelta(days=DEFAULT_DUE_DAYS)


async def get_deadline(*, session: AsyncSession, period: Period) -> DeadlineRead:
    """The period's due date as set, else the default rule."""
    row = await AnalysisRepository(session).deadline(str(period))
    if row is None:
        return DeadlineRead(period=str(period), due_on=default_due(period), default=True)
    return DeadlineRead(
        period=row.period,
        due_on=row.due_on,
        default=False,
        set_by=row.set_by,
        set_at=row.set_at if row.set_at.tzinfo else row.set_at.replace(tzinfo=UTC),
    )


async def set_deadline(*, session: AsyncSession, actor: Actor, period: Period, body: DeadlineSet) -> DeadlineRead:
    """Set when a period's values are due."""
    if body.due_on < period.end:
        raise Unprocessable(
            Text("报送截止日不能早于报告期结束", "a period's values cannot be due before it ends"),
            errors=[
                {
                    "loc": ["body", "due_on"],
                    "msg": Text(f"早于报告期末 {period.end}", f"before {period.end}"),
                    "type": "range",
                    "code": "due_before_period_end",
                }
            ],
            code="due_before_period_end",
        )
    row = await AnalysisRepository(session).set_deadline(
        Deadline(period=str(period), due_on=body.due_on, set_by=actor.sub, set_at=datetime.now(UTC))
    )
    return DeadlineRead(period=row.period, due_on=row.due_on, default=False, set_by=row.set_by, set_at=row.set_at)
