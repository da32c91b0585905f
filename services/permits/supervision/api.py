"""The supervision routes: escalations, rectifications, statistics."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Path, Query

from libs.domain.kernel.contracts import Page
from libs.domain.permits.contracts import (
    EscalationRead,
    RectificationClose,
    RectificationRead,
    StatsRead,
)
from services.common.auth import PUBLIC
from services.common.db import SessionDep
from services.common.pagination import DEFAULT_LIMIT, CursorParam, LimitParam, decode_cursor, encode_cursor, str_cursor
from services.common.problems import problems
from services.permits.dependencies import BureauAdmin, OfficialDep, TodayDep
from services.permits.supervision import service as supervision_service

router = APIRouter(prefix="/v1")


@router.get(
    "/escalations",
    operation_id="listEscalations",
    response_model=Page[EscalationRead],
    tags=["supervision"],
    summary="Overdue events recorded by the sweeper (the bureau's head: their zone)",
    responses=problems(401, 403),
)
async def list_escalations(
    session: SessionDep,
    actor: BureauAdmin,
    zone_id: Annotated[str | None, Query(max_length=64)] = None,
    limit: LimitParam = DEFAULT_LIMIT,
    cursor: CursorParam = None,
) -> Page[EscalationRead]:
    after = decode_cursor(cursor)
    items, nxt = await supervision_service.list_escalations(
        session=session, actor=actor, zone=zone_id, after=int(after) if isinstance(after, int) else None, limit=limit
    )
    return Page(items=items, next_cursor=encode_cursor(nxt) if nxt else None)


@router.get(
    "/rectifications",
    operation_id="listRectifications",
    response_model=Page[RectificationRead],
    tags=["supervision"],
    summary="Rectification items opened by poor ratings",
    responses=problems(401, 403),
)
async def list_rectifications(
    session: SessionDep,
    actor: BureauAdmin,
    zone_id: Annotated[str | None, Query(max_length=64)] = None,
    state: Annotated[str | None, Query(pattern="^(open|closed)$")] = None,
    limit: LimitParam = DEFAULT_LIMIT,
    cursor: CursorParam = None,
) -> Page[RectificationRead]:
    items, nxt = await supervision_service.list_rectifications(
        session=session, actor=actor, zone=zone_id, state=state, after=str_cursor(cursor), limit=limit
    )
    return Page(items=items, next_cursor=encode_cursor(nxt) if nxt else None)


@router.post(
    "/rectifications/{rect_id}/close",
    operation_id="closeRectification",
    response_model=RectificationRead,
    tags=["supervision"],
    summary="Close a rectification item with what was done",
    responses=problems(401, 403, 404, 409),
)
async def close_rectification(
    session: SessionDep, actor: BureauAdmin, rect_id: Annotated[str, Path(max_length=64)], body: RectificationClose
) -> RectificationRead:
    return await supervision_service.close_rectification(session=session, actor=actor, rect_id=rect_id, body=body)


@router.get(
    "/stats",
    operation_id="getStatistics",
    response_model=StatsRead,
    tags=["statistics"],
    summary="Figures per item and per department of the cases submitted in a period (public)",
    openapi_extra=PUBLIC,
)
async def stats(
    session: SessionDep,
    cal: OfficialDep,
    now: TodayDep,
    zone_id: Annotated[str, Query(max_length=64)],
    from_: Annotated[date, Query(alias="from")],
    to: date,
) -> StatsRead:
    return await supervision_service.stats(session=session, official=cal, zone=zone_id, start=from_, end=to, today=now)
