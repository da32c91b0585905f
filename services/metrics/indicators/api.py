"""Routes of the indicator catalog."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Response

from libs.domain.kernel.contracts import Page
from libs.domain.metrics.contracts import IndicatorCreate, IndicatorRead
from services.common.auth import PUBLIC
from services.common.db import SessionDep
from services.common.pagination import DEFAULT_LIMIT, CursorParam, LimitParam, decode_cursor, encode_cursor
from services.common.problems import problems
from services.metrics.dependencies import CityAdmin
from services.metrics.indicators import service as indicator_service

router = APIRouter(prefix="/v1", tags=["indicators"])


@router.get(
    "/indicators",
    operation_id="listIndicators",
    response_model=Page[IndicatorRead],
    status_code=200,
    openapi_extra=PUBLIC,
    summary="The indicator catalog (latest version of each)",
    responses=problems(422),
)
async def list_indicators(
    session: SessionDep, limit: LimitParam = DEFAULT_LIMIT, cursor: CursorParam = None
) -> Page[IndicatorRead]:
    after = decode_cursor(cursor)
    items, last = await indicator_service.list_indicators(
        session=session, after=str(after) if after is not None else None, limit=limit
    )
    return Page(items=items, next_cursor=encode_cursor(last) if last else None)


@router.get(
    "/indicators/{code}/versions",
    operation_id="listIndicatorVersions",
    response_model=Page[IndicatorRead],
    status_code=200,
    openapi_extra=PUBLIC,
    summary="Every version of one indicator, oldest first (paginated)",
    responses=problems(404, 422),
)
async def indicator_versions(
    session: SessionDep,
    code: Annotated[str, Path(max_length=64)],
    limit: LimitParam = DEFAULT_LIMIT,
    cursor: CursorParam = None,
) -> Page[IndicatorRead]:
    after = decode_cursor(cursor)
    items, last = await indicator_service.indicator_versions(
        session=session, code=code, after=after if isinstance(after, int) else None, limit=limit
    )
    return Page(items=items, next_cursor=encode_cursor(last) if last is not None else None)


@router.post(
    "/indicators",
    operation_id="createIndicator",
    response_model=IndicatorRead,
    status_code=201,
    summary="Add an indicator or a new version of one",
    description="Versions are never edited. A new version of an indicator that already has values keeps its "
    "unit and kind (409 otherwise). A derived indicator's formula reads other codes with `+ - * /`, "
    "parentheses and `city(code)` (the city's own total), e.g. `gdp / city(gdp) * 100`.",
    responses={
        200: {
            "description": "The latest version already defines exactly this (a retry): that version",
            "model": IndicatorRead,
        },
        **problems(401, 403, 409, 422),
    },
)
async def create_indicator(
    actor: CityAdmin, body: IndicatorCreate, session: SessionDep, response: Response
) -> IndicatorRead:
    read, existing = await indicator_service.create_indicator(session=session, actor=actor, body=body)
    if existing:
        response.status_code = 200
    return read
