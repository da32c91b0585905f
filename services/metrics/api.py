"""The metrics service's HTTP routes."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from libs.domain.contracts.common import Actor, Page
from libs.domain.contracts.metrics import IndicatorCreate, IndicatorRead
from libs.domain.values import Role
from services.common.auth import PUBLIC, require
from services.common.db import SessionDep
from services.common.pagination import DEFAULT_LIMIT, CursorParam, LimitParam, decode_cursor, encode_cursor
from services.common.problems import problems
from services.metrics import service as metrics_service

router = APIRouter(prefix="/v1")
CityAdmin = Annotated[Actor, Depends(require(Role.CITY_ADMIN))]


@router.get(
    "/indicators",
    response_model=Page[IndicatorRead],
    tags=["indicators"],
    openapi_extra=PUBLIC,
    summary="The indicator catalog (latest version of each)",
)
async def list_indicators(
    session: SessionDep, limit: LimitParam = DEFAULT_LIMIT, cursor: CursorParam = None
) -> Page[IndicatorRead]:
    after = decode_cursor(cursor)
    items, last = await metrics_service.list_indicators(
        session=session, after=str(after) if after is not None else None, limit=limit
    )
    return Page(items=items, next_cursor=encode_cursor(last) if last else None)


@router.post(
    "/indicators",
    response_model=IndicatorRead,
    status_code=201,
    tags=["indicators"],
    summary="Add an indicator or a new version of one",
    responses=problems(401, 403, 422),
)
async def create_indicator(body: IndicatorCreate, session: SessionDep, actor: CityAdmin) -> IndicatorRead:
    return await metrics_service.create_indicator(session=session, actor=actor, body=body)
