"""Routes: sanction policies, a zone's outcomes, summons records."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query

from libs.domain.assessment.contracts import OutcomeRead, SanctionPolicyRead, SanctionPolicyWrite, SummonsRead
from libs.domain.kernel.contracts import Actor, Page
from libs.domain.kernel.errors import Unprocessable
from libs.domain.kernel.values import Role, SerialId, ZoneKind
from services.assessment.dependencies import MetricsDep, RegistryDep, Writer
from services.assessment.sanctions import service
from services.common.auth import PUBLIC, require
from services.common.db import SessionDep
from services.common.pagination import DEFAULT_LIMIT, CursorParam, LimitParam, decode_cursor, encode_cursor, int_cursor
from services.common.problems import problems

router = APIRouter(prefix="/v1")
SummonsReader = Annotated[
    Actor, Depends(require(Role.CITY_ADMIN, Role.COMMERCE_BUREAU, Role.SCIENCE_BUREAU, Role.ZONE_COMMITTEE))
]


@router.get(
    "/sanction-policies",
    operation_id="listSanctionPolicies",
    response_model=Page[SanctionPolicyRead],
    status_code=200,
    tags=["sanctions"],
    summary="The reward and warning rules of each zone kind, as they apply now",
    openapi_extra=PUBLIC,
    responses=problems(422),
)
async def list_policies(
    session: SessionDep, kind: ZoneKind | None = None, limit: LimitParam = DEFAULT_LIMIT, cursor: CursorParam = None
) -> Page[SanctionPolicyRead]:
    policies = [p for p in await service.list_policies(session=session) if kind is None or p.kind == kind]
    after = _kind_cursor(cursor)
    kinds = [p.kind.value for p in policies]
    start = kinds.index(after) + 1 if after in kinds else 0
    page = policies[start : start + limit]
    more = start + limit < len(policies)
    return Page(items=page, next_cursor=encode_cursor(page[-1].kind.value) if more and page else None)


def _kind_cursor(cursor: str | None) -> str | None:
    """The kind after which a page of policies starts, or a 422 problem."""
    value = decode_cursor(cursor)
    if value is not None and value not in {k.value for k in ZoneKind}:
        raise Unprocessable(
            "malformed cursor",
            errors=[{"loc": ["query", "cursor"], "msg": "not a cursor from this API", "type": "cursor"}],
        )
    return None if value is None else str(value)


@router.put(
    "/sanction-policies/{kind}",
    operation_id="setSanctionPolicy",
    response_model=SanctionPolicyRead,
    status_code=200,
    tags=["sanctions"],
    summary="Store a new version of a kind's rules (runs keep the version they used)",
    responses=problems(401, 403, 409, 422, 503),
)
async def write_policy(
    kind: ZoneKind, body: SanctionPolicyWrite, session: SessionDep, metrics: MetricsDep, actor: Writer
) -> SanctionPolicyRead:
    return await service.write_policy(session=session, metrics=metrics, actor=actor, kind=kind, body=body)


@router.get(
    "/zones/{zone_id}/outcomes",
    operation_id="listZoneOutcomes",
    response_model=Page[OutcomeRead],
    status_code=200,
    tags=["outcomes"],
    summary="Rewards and warnings of a zone in force (decided by published runs), newest first",
    description="Only published runs' outcomes are in force; a draft's are never listed. With "
    "`include_withdrawn=true` the outcomes of superseded and withdrawn runs are listed too, marked "
    "`withdrawn` with the reason.",
    openapi_extra=PUBLIC,
    responses=problems(404, 503),
)
async def zone_outcomes(
    session: SessionDep,
    registry: RegistryDep,
    zone_id: Annotated[str, Path(max_length=32)],
    include_withdrawn: bool = False,
    limit: LimitParam = DEFAULT_LIMIT,
    cursor: CursorParam = None,
) -> Page[OutcomeRead]:
    items, last = await service.zone_outcomes(
        session=session,
        registry=registry,
        zone_id=zone_id,
        include_withdrawn=include_withdrawn,
        after=int_cursor(cursor),
        limit=limit,
    )
    return Page(items=items, next_cursor=encode_cursor(last) if last is not None else None)


@router.get(
    "/summons",
    operation_id="listSummons",
    response_model=Page[SummonsRead],
    status_code=200,
    tags=["sanctions"],
    summary="Summons (约谈) of warned zones' leaders; a zone committee sees its own",
    responses=problems(401, 403),
)
async def list_summons(
    session: SessionDep,
    actor: SummonsReader,
    zone_id: Annotated[str | None, Query(max_length=32)] = None,
    assessment_id: Annotated[SerialId | None, Query()] = None,
    limit: LimitParam = DEFAULT_LIMIT,
    cursor: CursorParam = None,
) -> Page[SummonsRead]:
    items, last = await service.list_summons(
        session=session, actor=actor, zone=zone_id, assessment=assessment_id, after=int_cursor(cursor), limit=limit
    )
    return Page(items=items, next_cursor=encode_cursor(last) if last is not None else None)
