"""Routes: publish and read methodology versions."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response

from libs.domain.assessment.contracts import MethodologyCreate, MethodologyRead, MethodologySummary
from libs.domain.kernel.contracts import Page
from libs.domain.kernel.values import ZoneKind
from services.assessment.dependencies import FastCanonicalJson, MetricsDep, Writer
from services.assessment.methodologies import service
from services.common.auth import PUBLIC
from services.common.db import SessionDep
from services.common.pagination import DEFAULT_LIMIT, CursorParam, LimitParam, encode_cursor, int_cursor
from services.common.problems import problems

router = APIRouter(prefix="/v1/methodologies", tags=["methodologies"])
Code = Annotated[str, Path(max_length=64, description="The methodology's code, e.g. econ-annual.")]


@router.post(
    "",
    operation_id="publishMethodology",
    response_model=MethodologyRead,
    status_code=201,
    summary="Publish a methodology version (immutable; omit `version` for the next one)",
    description="Validated against the metrics catalog: unknown indicators, empty groups, non-positive weights, "
    "goalposts with min ≥ max, a geometric group that could receive negative values — every fault is listed "
    "in one 422 problem with its JSON path. Re-sending an identical version answers 200 with the stored one.",
    responses={**problems(401, 403, 409, 422, 503), 200: {"model": MethodologyRead, "description": "Identical retry"}},
)
async def publish(
    body: MethodologyCreate,
    session: SessionDep,
    metrics: MetricsDep,
    actor: Writer,
    response: Response,
    fast_canonical_json: FastCanonicalJson,
) -> MethodologyRead:
    result, created = await service.publish(
        session=session, metrics=metrics, actor=actor, body=body, fast_canonical_json=fast_canonical_json
    )
    if not created:
        response.status_code = 200
    response.headers["Location"] = f"/v1/methodologies/{result.code}/{result.version}"
    return result


@router.get(
    "",
    operation_id="listMethodologies",
    response_model=Page[MethodologySummary],
    status_code=200,
    summary="Published methodology versions",
    openapi_extra=PUBLIC,
    responses=problems(422),
)
async def list_versions(
    session: SessionDep,
    code: Annotated[str | None, Query(max_length=64)] = None,
    kind: ZoneKind | None = None,
    limit: LimitParam = DEFAULT_LIMIT,
    cursor: CursorParam = None,
) -> Page[MethodologySummary]:
    items, last = await service.list_versions(
        session=session, code=code, kind=kind, after=int_cursor(cursor), limit=limit
    )
    return Page(items=items, next_cursor=encode_cursor(last) if last is not None else None)


@router.get(
    "/{code}",
    operation_id="getLatestMethodology",
    response_model=MethodologyRead,
    status_code=200,
    summary="The latest version of a methodology",
    openapi_extra=PUBLIC,
    responses=problems(404),
)
async def get_latest(session: SessionDep, code: Code) -> MethodologyRead:
    return await service.get(session=session, code=code, version=None)


@router.get(
    "/{code}/{version}",
    operation_id="getMethodologyVersion",
    response_model=MethodologyRead,
    status_code=200,
    summary="A methodology version",
    openapi_extra=PUBLIC,
    responses=problems(404),
)
async def get_version(
    session: SessionDep, code: Code, version: Annotated[int, Path(ge=1, le=1_000_000)]
) -> MethodologyRead:
    return await service.get(session=session, code=code, version=version)
