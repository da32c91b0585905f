"""The calendar use cases: deadlines, days, the bureau's overrides and loaded notices.

A change of the calendar moves the stored deadlines it touches through the port
:class:`DeadlineRecompute` (the use case above the calendar, the cases and the supervision,
:mod:`services.permits.deadlines_recompute`), so the calendar knows nothing of either."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from libs.domain.kernel.calendar import MAX_WORKING_DAYS, OfficialCalendar
from libs.domain.kernel.contracts import Actor
from libs.domain.kernel.errors import (
    Conflict,
    Unprocessable,
)
from libs.domain.kernel.i18n import Text
from libs.domain.permits.contracts import (
    CalendarDay,
    CalendarOverride,
    CalendarYearCreate,
    CalendarYearRead,
    DeadlineRead,
    NamedDay,
)
from services.permits.calendar.repository import CalendarRepository
from services.permits.shared import utcnow

MAX_DAYS_RANGE = 732

RECTIFICATION_DAYS = 15


class DeadlineRecompute(Protocol):
    """Moves the stored deadlines after the calendar changed, on the effective calendar ``cal``
    (every open case accepted before ``touched_day``); returns how many cases moved."""

    async def __call__(self, session: AsyncSession, cal: OfficialCalendar, today: date, *, touched_day: date) -> int:
        """Recompute (see the class docstring)."""
        ...


@dataclass(frozen=True, slots=True)
class CalendarEdit:
    """What a change of the calendar is given besides the change itself: the request's session,
    the official calendar, who edits and on which day, and the port that moves the deadlines the
    change touches."""

    session: AsyncSession
    official: OfficialCalendar
    recompute: DeadlineRecompute
    actor: Actor
    today: date


async def calendar(*, session: AsyncSession, official: OfficialCalendar) -> OfficialCalendar:
    """The official calendar with the loaded notices and the bureau's overrides applied."""
    repo = CalendarRepository(session)
    cal = official
    for y in await repo.years():
        if y.year in official.covered_years:
            continue  # the packaged data now carries the year: it wins over a hand-loaded notice
        cal = cal.with_year(
            y.year,
            {date.fromisoformat(d): n for d, n in y.holidays},
            {date.fromisoformat(d): n for d, n in y.makeup_workdays},
        )
    rows = await repo.all()
    return cal.with_overrides({r.day: (r.working, r.note) for r in rows})


async def deadline(
    *, session: AsyncSession, official: OfficialCalendar, start: date, working_days: int
) -> DeadlineRead:
    """The ``working_days``-th working day after ``start``."""
    if working_days > MAX_WORKING_DAYS:
        raise Unprocessable(
            Text("工作日数过多", "too many working days"),
            errors=[
                {
                    "loc": ["query", "working_days"],
                    "msg": Text(f"至多 {MAX_WORKING_DAYS}", f"at most {MAX_WORKING_DAYS}"),
                    "type": "range",
                    "code": "too_many_working_days",
                }
            ],
            code="too_many_working_days",
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
            Text("日期范围有误", "bad date range"),
            errors=[
                {
                    "loc": ["query", "to"],
                    "msg": Text(
                        f"`to` 不得早于 `from`，且相隔不超过 {MAX_DAYS_RANGE} 天",
                        f"`to` must be on or after `from` and within {MAX_DAYS_RANGE} days",
                    ),
                    "type": "range",
                    "code": "bad_date_range",
                }
            ],
            code="bad_date_range",
        )
    cal = await calendar(session=session, official=official)
    return [
        CalendarDay(
            date=i.day, working=i.working, kind=i.kind, name=i.name, provisional=i.provisional, overridden=i.overridden
        )
        for i in cal.days(start, end)
    ]


async def set_override(day: date, body: CalendarOverride, ctx: CalendarEdit) -> CalendarDay:
    """Record the bureau's override of one day (the last word wins) and move the deadlines it touches."""
    session = ctx.session
    await CalendarRepository(session).upsert_override(
        {"day": day, "working": body.working, "note": body.note, "updated_at": utcnow(), "updated_by": ctx.actor.sub}
    )
    cal = await calendar(session=session, official=ctx.official)
    await ctx.recompute(session, cal, ctx.today, touched_day=day)
    info = cal.info(day)
    return CalendarDay(
        date=info.day,
        working=info.working,
        kind=info.kind,
        name=info.name,
        provisional=info.provisional,
        overridden=info.overridden,
    )


async def load_year(year: int, body: CalendarYearCreate, ctx: CalendarEdit) -> CalendarYearRead:
    """Load a year's holiday notice and recompute every provisional deadline (never while the package covers it)."""
    session, official = ctx.session, ctx.official
    if year in official.covered_years:
        raise Conflict(
            Text(
                f"官方日历已包含 {year} 年，不能手工替换",
                f"the official calendar already covers {year}; it cannot be replaced by hand",
            ),
            code="year_already_covered",
            year=year,
        )
    faults = [
        {
            "loc": ["body", part, i, "date"],
            "msg": Text(f"不在 {year} 年内", f"not in {year}"),
            "type": "value_error",
            "code": "date_outside_year",
        }
        for part, days_ in (("holidays", body.holidays), ("makeup_workdays", body.makeup_workdays))
        for i, d in enumerate(days_)
        if d.date.year != year
    ]
    both = {d.date for d in body.holidays} & {d.date for d in body.makeup_workdays}
    faults += [
        {
            "loc": ["body", "makeup_workdays"],
            "msg": Text(f"{d} 同时被列为节假日", f"{d} is also listed as a holiday"),
            "type": "value_error",
            "code": "workday_also_holiday",
        }
        for d in sorted(both)
    ]
    if faults:
        raise Unprocessable(
            Text("放假通知与所载年份不符", "the notice does not fit the year"),
            errors=faults,
            code="notice_year_mismatch",
        )
    repo = CalendarRepository(session)
    row = await repo.upsert_year(
        {
            "year": year,
            "source": body.source,
            "holidays": [[d.date.isoformat(), d.name] for d in body.holidays],
            "makeup_workdays": [[d.date.isoformat(), d.name] for d in body.makeup_workdays],
            "loaded_at": utcnow(),
            "loaded_by": ctx.actor.sub,
        }
    )
    cal = await calendar(session=session, official=official)
    count = await ctx.recompute(session, cal, ctx.today, touched_day=date(year, 1, 1))
    return CalendarYearRead(
        year=year,
        source=row.source,
        holidays=[NamedDay(date=date.fromisoformat(d), name=n) for d, n in row.holidays],
        makeup_workdays=[NamedDay(date=date.fromisoformat(d), name=n) for d, n in row.makeup_workdays],
        loaded_at=row.loaded_at,
        loaded_by=row.loaded_by,
        recomputed_cases=count,
    )
