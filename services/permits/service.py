"""The permits service's use cases."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from libs.domain.calendar import MAX_WORKING_DAYS, OfficialCalendar
from libs.domain.contracts.common import Actor
from libs.domain.contracts.permits import CalendarDay, CalendarOverride, DeadlineRead
from libs.domain.errors import Unprocessable
from services.permits.repository import CalendarRepository
from services.permits.tables import CalendarOverride as OverrideRow

MAX_DAYS_RANGE = 732


async def calendar(*, session: AsyncSession, official: OfficialCalendar) -> OfficialCalendar:
    """The official calendar with the bureau's overrides applied."""
    rows = await CalendarRepository(session).all()
    return official.with_overrides({r.day: (r.working, r.note) for r in rows})


async def deadline(
    *, session: AsyncSession, official: OfficialCalendar, start: date, working_days: int
) -> DeadlineRead:
    """The ``working_days``-th working day after ``start``."""
    if working_days > MAX_WORKING_DAYS:
        raise Unprocessable(
            "too many working days",
            errors=[{"loc": ["query", "working_days"], "msg": f"at most {MAX_WORKING_DAYS}", "type": "range"}],
        )
    cal = await calendar(session=session, official=official)
    result = cal.add_working_days(start, working_days)
    return DeadlineRead(
        start=start, working_days=working_days, deadline=result.deadline, provisional=result.provisional
    )


async def days(*, session: AsyncSession, official: OfficialCalendar, start: date, end: date) -> list[CalendarDay]:
    """What the clock says about each day of ``[start, end]``."""
    if end < start or (end - start) > timedelta(days=MAX_DAYS_RANGE):
        raise Unprocessable(
            "bad date range",
            errors=[
                {
                    "loc": ["query", "to"],
                    "msg": f"`to` must be on or after `from` and within {MAX_DAYS_RANGE} days",
                    "type": "range",
                }
            ],
        )
    cal = await calendar(session=session, official=official)
    return [
        CalendarDay(
            date=i.day, working=i.working, kind=i.kind, name=i.name, provisional=i.provisional, overridden=i.overridden
        )
        for i in cal.days(start, end)
    ]


async def set_override(
    *, session: AsyncSession, official: OfficialCalendar, actor: Actor, day: date, body: CalendarOverride
) -> CalendarDay:
    """Record the bureau's override of one day (the last word wins; who and when are kept)."""
    repo = CalendarRepository(session)
    row = await repo.get(day)
    now = datetime.now(UTC)
    if row is None:
        await repo.add(OverrideRow(day=day, working=body.working, note=body.note, updated_at=now, updated_by=actor.sub))
    else:
        row.working, row.note, row.updated_at, row.updated_by = body.working, body.note, now, actor.sub
        await session.flush()
    cal = await calendar(session=session, official=official)
    info = cal.info(day)
    return CalendarDay(
        date=info.day,
        working=info.working,
        kind=info.kind,
        name=info.name,
        provisional=info.provisional,
        overridden=info.overridden,
    )
