"""The catalog routes: bureaus, approval items, the public power list."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response

from libs.domain.kernel.contracts import Page
from libs.domain.permits.contracts import (
    BureauRead,
    BureauWrite,
    ItemCreate,
    ItemRead,
    PowerListEntry,
)
from services.common.auth import PUBLIC
from services.common.db import SessionDep
from services.common.pagination import DEFAULT_LIMIT, CursorParam, LimitParam, encode_cursor, str_cursor
from services.common.problems import problems
from services.permits.catalog import service as catalog_service
from services.permits.dependencies import (
    BureauAdmin,
    IfMatch,
    ReadCacheDep,
    RegistryDep,
    ZoneCacheDep,
    etag_header,
)

router = APIRouter(prefix="/v1")


@router.put(
    "/catalog/bureaus/{zone_id}",
    operation_id="setBureau",
    response_model=BureauRead,
    tags=["catalog"],
    summary="Configure a zone's approval bureau (name, document prefix, seal)",
    responses=problems(401, 403, 422, 503),
)
async def put_bureau(
    session: SessionDep,
    actor: BureauAdmin,
    registry: RegistryDep,
    cache: ZoneCacheDep,
    zone_id: Annotated[str, Path(max_length=64)],
    body: BureauWrite,
) -> BureauRead:
    return await catalog_service.put_bureau(
        session=session, registry=registry, zone_cache=cache, actor=actor, zone=zone_id, body=body
    )


@router.get(
    "/catalog/bureaus/{zone_id}",
    operation_id="getBureau",
    response_model=BureauRead,
    tags=["catalog"],
    summary="A zone's approval bureau",
    openapi_extra=PUBLIC,
    responses=problems(404),
)
async def get_bureau(session: SessionDep, zone_id: Annotated[str, Path(max_length=64)]) -> BureauRead:
    return await catalog_service.get_bureau(session=session, zone=zone_id)


@router.post(
    "/catalog/items",
    operation_id="createCatalogItem",
    response_model=ItemRead,
    status_code=201,
    tags=["catalog"],
    summary="Add an approval item to a zone bureau's catalog",
    responses=problems(401, 403, 409, 422, 503),
)
async def create_item(
    session: SessionDep,
    actor: BureauAdmin,
    registry: RegistryDep,
    cache: ZoneCacheDep,
    body: ItemCreate,
    response: Response,
) -> ItemRead:
    item = await catalog_service.create_item(
        session=session, registry=registry, zone_cache=cache, actor=actor, body=body
    )
    etag_header(response, item.version)
    response.headers["Location"] = f"/v1/catalog/items/{item.id}"
    return item


@router.put(
    "/catalog/items/{item_id}",
    operation_id="replaceCatalogItem",
    response_model=ItemRead,
    tags=["catalog"],
    summary="Replace an approval item (cases already submitted keep the version they were submitted under)",
    responses=problems(401, 403, 404, 409, 412, 422),
)
async def update_item(
    session: SessionDep,
    read_cache: ReadCacheDep,
    actor: BureauAdmin,
    item_id: Annotated[str, Path(max_length=64)],
    body: ItemCreate,
    response: Response,
    if_match: IfMatch = None,
) -> ItemRead:
    read_cache.invalidate_on_commit(session)  # this replica's intake sees the change at once
    item = await catalog_service.update_item(
        session=session, actor=actor, item_id=item_id, body=body, if_match=if_match
    )
    etag_header(response, item.version)
    return item


@router.get(
    "/catalog/items/{item_id}",
    operation_id="getCatalogItem",
    response_model=ItemRead,
    tags=["catalog"],
    summary="One approval item",
    openapi_extra=PUBLIC,
    responses=problems(404),
)
async def get_item(session: SessionDep, item_id: Annotated[str, Path(max_length=64)]) -> ItemRead:
    return await catalog_service.get_item(session=session, item_id=item_id)


@router.get(
    "/catalog",
    operation_id="listCatalogItems",
    response_model=Page[ItemRead],
    tags=["catalog"],
    summary="The catalog of approval items (of one zone)",
    openapi_extra=PUBLIC,
)
async def list_items(
    session: SessionDep,
    zone_id: Annotated[str | None, Query(max_length=64)] = None,
    limit: LimitParam = DEFAULT_LIMIT,
    cursor: CursorParam = None,
) -> Page[ItemRead]:
    items, nxt = await catalog_service.list_items(session=session, zone=zone_id, after=str_cursor(cursor), limit=limit)
    return Page(items=items, next_cursor=encode_cursor(nxt) if nxt else None)


@router.get(
    "/catalog/power-list",
    operation_id="getPowerList",
    response_model=Page[PowerListEntry],
    tags=["catalog"],
    summary="The public list of powers and responsibilities (权力清单、责任清单)",
    openapi_extra=PUBLIC,
)
async def power_list(
    session: SessionDep,
    zone_id: Annotated[str | None, Query(max_length=64)] = None,
    limit: LimitParam = DEFAULT_LIMIT,
    cursor: CursorParam = None,
) -> Page[PowerListEntry]:
    items, nxt = await catalog_service.power_list(session=session, zone=zone_id, after=str_cursor(cursor), limit=limit)
    return Page(items=items, next_cursor=encode_cursor(nxt) if nxt else None)
