"""The calendar routes: deadlines and days (public), the bureau's overrides and loaded notices."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query

from libs.domain.kernel.calendar import MAX_WORKING_DAYS
from libs.domain.kernel.contracts import Page
from libs.domain.permits.contracts import (
    CalendarDay,
    CalendarOverride,
    CalendarYearCreate,
    CalendarYearRead,
    DeadlineRead,
)
from services.common.auth import PUBLIC
from services.common.db import SessionDep
from services.common.pagination import DEFAULT_LIMIT, CursorParam, LimitParam, encode_cursor
from services.common.problems import problems
from services.permits.calendar import service as calendar_service
from services.permits.calendar.service import CalendarEdit
from services.permits.dependencies import CalendarAdmin, OfficialDep, TodayDep, date_cursor
from services.permits.runtime import RuntimeDep

router = APIRouter(prefix="/v1")


@router.get(
    "/calendar/deadline",
    operation_id="computeDeadline",
    response_model=DeadlineRead,
    tags=["calendar"],
    openapi_extra=PUBLIC,
    summary="The N-th working day after a date on the official calendar",
)
async def get_deadline(
    session: SessionDep,
    cal: OfficialDep,
    start: date,
    working_days: Annotated[int, Query(ge=0, le=MAX_WORKING_DAYS)],
) -> DeadlineRead:
    return await calendar_service.deadline(session=session, official=cal, start=start, working_days=working_days)


@router.get(
    "/calendar/days",
    operation_id="listCalendarDays",
    response_model=Page[CalendarDay],
    tags=["calendar"],
    openapi_extra=PUBLIC,
    summary="What the service's clock says about each day of a range (at most two years), in order",
    responses=problems(422),
)
async def get_days(
    session: SessionDep,
    cal: OfficialDep,
    from_: Annotated[date, Query(alias="from")],
    to: date,
    limit: LimitParam = DEFAULT_LIMIT,
    cursor: CursorParam = None,
) -> Page[CalendarDay]:
    after = date_cursor(cursor)
    days = await calendar_service.days(session=session, official=cal, start=from_, end=to)
    rows = [d for d in days if after is None or d.date > after]
    more = len(rows) > limit
    rows = rows[:limit]
    return Page(items=rows, next_cursor=encode_cursor(rows[-1].date.isoformat()) if more else None)


async def calendar_edit(session: SessionDep, runtime: RuntimeDep, actor: CalendarAdmin, now: TodayDep) -> CalendarEdit:
    """The context of a change of the calendar by an administrator of it."""
    return CalendarEdit(session, runtime.official_calendar, runtime.recompute_deadlines, actor, now)


EditContext = Annotated[CalendarEdit, Depends(calendar_edit)]


@router.put(
    "/calendar/days/{day}",
    operation_id="setCalendarDay",
    response_model=CalendarDay,
    tags=["calendar"],
    summary="Override one day (the bureau's calendar adjustments); open deadlines move with it",
    responses=problems(401, 403),
)
async def put_day(ctx: EditContext, runtime: RuntimeDep, day: date, body: CalendarOverride) -> CalendarDay:
    runtime.read_cache.invalidate_on_commit(ctx.session)  # this replica's intake sees the change at once
    return await calendar_service.set_override(day, body, ctx)


@router.put(
    "/calendar/years/{year}",
    operation_id="loadCalendarYear",
    response_model=CalendarYearRead,
    tags=["calendar"],
    summary="Load a year's State Council holiday notice before the packaged calendar carries it",
    description="Provisional deadlines in that year are recomputed in the same transaction. "
    "A year the packaged calendar already covers cannot be replaced (409).",
    responses=problems(401, 403, 409, 422),
)
async def put_year(
    ctx: EditContext, runtime: RuntimeDep, year: Annotated[int, Path(ge=2000, le=2100)], body: CalendarYearCreate
) -> CalendarYearRead:
    runtime.read_cache.invalidate_on_commit(ctx.session)  # this replica's intake sees the change at once
    return await calendar_service.load_year(year, body, ctx)
