"""The registry's HTTP routes: parse, authorise, call the use case, return a contract."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query

from libs.domain.contracts.common import Actor, Page
from libs.domain.contracts.registry import DivisionCreate, DivisionRead, ZoneRead
from libs.domain.values import Role, today_in_china
from services.common.auth import PUBLIC, require
from services.common.db import SessionDep
from services.common.pagination import DEFAULT_LIMIT, CursorParam, LimitParam, decode_cursor, encode_cursor
from services.common.problems import problems
from services.registry import service as registry_service

router = APIRouter(prefix="/v1")

AsOf = Annotated[date | None, Query(description="Date to answer for (Asia/Shanghai); default today.")]
CityAdmin = Annotated[Actor, Depends(require(Role.CITY_ADMIN))]


@router.post(
    "/divisions",
    response_model=DivisionRead,
    status_code=201,
    tags=["divisions"],
    summary="Record a division or a change of one",
    responses=problems(401, 403, 422),
)
async def create_division(body: DivisionCreate, session: SessionDep, actor: CityAdmin) -> DivisionRead:
    return await registry_service.record_division(session=session, actor=actor, body=body)


@router.get(
    "/divisions",
    response_model=Page[DivisionRead],
    tags=["divisions"],
    summary="Divisions in force on a date",
    openapi_extra=PUBLIC,
)
async def list_divisions(
    session: SessionDep, as_of: AsOf = None, limit: LimitParam = DEFAULT_LIMIT, cursor: CursorParam = None
) -> Page[DivisionRead]:
    after = decode_cursor(cursor)
    items, last = await registry_service.list_divisions(
        session=session, as_of=as_of or today_in_china(), after=str(after) if after is not None else None, limit=limit
    )
    return Page(items=items, next_cursor=encode_cursor(last) if last else None)


@router.get(
    "/zones/{zone_id}",
    response_model=ZoneRead,
    tags=["zones"],
    summary="A zone as it stood on a date",
    openapi_extra=PUBLIC,
    responses=problems(404),
)
async def get_zone(session: SessionDep, zone_id: Annotated[str, Path(max_length=32)], as_of: AsOf = None) -> ZoneRead:
    return await registry_service.get_zone(session=session, zone_id=zone_id, as_of=as_of or today_in_china())
