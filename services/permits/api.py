"""The permits service's HTTP routes."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request

from libs.domain.calendar import MAX_WORKING_DAYS, OfficialCalendar
from libs.domain.contracts.common import Actor
from libs.domain.contracts.permits import CalendarDay, CalendarOverride, DeadlineRead
from libs.domain.values import Role
from services.common.auth import PUBLIC, require
from services.common.db import SessionDep
from services.common.problems import problems
from services.permits import service as permits_service

router = APIRouter(prefix="/v1")


def official(request: Request) -> OfficialCalendar:
    """The official calendar loaded at start-up."""
    cal: OfficialCalendar = request.app.state.official_calendar
    return cal


OfficialDep = Annotated[OfficialCalendar, Depends(official)]
CalendarAdmin = Annotated[Actor, Depends(require(Role.CITY_ADMIN, Role.BUREAU_ADMIN))]


@router.get(
    "/calendar/deadline",
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
    return await permits_service.deadline(session=session, official=cal, start=start, working_days=working_days)


@router.get(
    "/calendar/days",
    response_model=list[CalendarDay],
    tags=["calendar"],
    openapi_extra=PUBLIC,
    summary="What the service's clock says about each day of a range (at most two years)",
)
async def get_days(
    session: SessionDep,
    cal: OfficialDep,
    from_: Annotated[date, Query(alias="from")],
    to: date,
) -> list[CalendarDay]:
    return await permits_service.days(session=session, official=cal, start=from_, end=to)


@router.put(
    "/calendar/days/{day}",
    response_model=CalendarDay,
    tags=["calendar"],
    summary="Override one day (the bureau's calendar adjustments)",
    responses=problems(401, 403),
)
async def put_day(
    session: SessionDep, cal: OfficialDep, actor: CalendarAdmin, day: date, body: CalendarOverride
) -> CalendarDay:
    return await permits_service.set_override(session=session, official=cal, actor=actor, day=day, body=body)
