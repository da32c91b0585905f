"""The registry's HTTP routes: parse, authorise, call the use case, return a contract."""

from __future__ import annotations

import json
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Path, Query, Request, Response
from fastapi.responses import JSONResponse

from libs.domain.kernel.contracts import Actor, Page
from libs.domain.kernel.values import DivisionCode, Role, SerialId, ZoneKind, ZoneLevel, ZoneStatus, today_in_china
from libs.domain.registry.contracts import (
    Annulment,
    ChangeFeed,
    ComplianceReport,
    DivisionCreate,
    DivisionList,
    DivisionRead,
    HistoryBulk,
    Lineage,
    LineageBulk,
    ReorganisationCreate,
    ReorganisationRead,
    ReorganisationSummary,
    ResolveResult,
    ZoneCounts,
    ZoneHistory,
    ZoneIds,
    ZoneRead,
)
from services.common.auth import PUBLIC, require
from services.common.db import SessionDep
from services.common.idempotency import Keyed, idempotent
from services.common.pagination import DEFAULT_LIMIT, CursorParam, LimitParam, encode_cursor, int_cursor, str_cursor
from services.common.problems import problems
from services.common.runtime import runtime_of
from services.registry import changes as change_service
from services.registry import compliance as compliance_service
from services.registry import divisions as division_service
from services.registry import reorganisations as reorganisation_service
from services.registry import zone_reads
from services.registry import zones as zone_service
from services.registry.context import WriteContext
from services.registry.fast_paths.index_reads import index_reads
from services.registry.reorganisations import AnnulReorganisation, RecordReorganisation
from services.registry.runtime import RegistryRuntime, RuntimeDep

router = APIRouter(prefix="/v1")


async def reads(request: Request) -> zone_reads.ZoneReads:
    """The hot zone reads: the in-memory index's while it may answer, else the app's SQL reads.

    The hot routes call this themselves instead of declaring it a dependency: FastAPI's solving of
    a sub-dependency costs about a tenth of a read answered from memory."""
    runtime = runtime_of(request.app, RegistryRuntime)
    return await index_reads(runtime.readmodel) or runtime.sql_reads


def _json(body: bytes) -> Response:
    return Response(content=body, media_type="application/json")


MAX_ZONE_PAGE = 5000
MAX_CHANGE_PAGE = 1000
AsOf = Annotated[date | None, Query(description="Date to answer for (Asia/Shanghai); default today.")]
ZoneId = Annotated[str, Path(max_length=32, description="A zone's stable id.")]
ActId = Annotated[SerialId, Path(description="A recorded act's id (decimal digits).")]
CityAdmin = Annotated[Actor, Depends(require(Role.CITY_ADMIN))]
IdempotencyKeyHeader = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        max_length=200,
        description="Optional: a retry with the same key and body returns the act recorded the first time.",
    ),
]


# --- reorganisations -----------------------------------------------------------------------


@router.post(
    "/reorganisations",
    operation_id="recordReorganisation",
    response_model=ReorganisationRead,
    status_code=201,
    tags=["reorganisations"],
    summary="Record a legal act of reorganisation (all operations or none)",
    description="Refused as a whole with a 422 problem whose `errors` list every failing operation by index "
    "and reason (`type`). With `?dry_run=true` the resulting states are returned (200) and nothing is saved.",
    responses={**problems(401, 403, 422), 200: {"model": ReorganisationRead, "description": "Dry run or replay"}},
)
async def create_reorganisation(
    body: ReorganisationCreate,
    session: SessionDep,
    actor: CityAdmin,
    response: Response,
    runtime: RuntimeDep,
    idempotency_key: IdempotencyKeyHeader = None,
    dry_run: bool = False,
) -> ReorganisationRead | JSONResponse:
    command = RecordReorganisation(body=body, dry_run=dry_run)
    ctx = WriteContext(session=session, actor=actor, readmodel=runtime.readmodel)
    key = None if dry_run else idempotency_key or None  # a dry run never claims a key
    keyed = Keyed.of(actor.sub, key, body)
    result = await idempotent(
        runtime.idempotency, session, keyed, lambda: reorganisation_service.record_reorganisation(command, ctx), _replay
    )
    if isinstance(result, JSONResponse):  # a retry: the act recorded the first time, as answered then
        result.headers["Location"] = f"/v1/reorganisations/{json.loads(bytes(result.body))['id']}"
        return result
    if dry_run:
        response.status_code = 200
    if result.id is not None:
        response.headers["Location"] = f"/v1/reorganisations/{result.id}"
    return result


def _replay(act: ReorganisationRead) -> tuple[int, Any]:
    """What a retry of a recorded act answers: 200 and the act as answered the first time."""
    return 200, act.model_dump(mode="json", by_alias=True)


@router.get(
    "/reorganisations",
    operation_id="listReorganisations",
    response_model=Page[ReorganisationSummary],
    tags=["reorganisations"],
    summary="Recorded acts, oldest first (annulled ones included and marked)",
    openapi_extra=PUBLIC,
)
async def list_reorganisations(
    session: SessionDep,
    zone_id: Annotated[str | None, Query(max_length=32, description="Only acts that touched this zone.")] = None,
    limit: LimitParam = DEFAULT_LIMIT,
    cursor: CursorParam = None,
) -> Page[ReorganisationSummary]:
    items, last = await reorganisation_service.list_reorganisations(
        session=session, zone_id=zone_id, after=int_cursor(cursor), limit=limit
    )
    return Page(items=items, next_cursor=encode_cursor(last) if last is not None else None)


@router.get(
    "/reorganisations/{act_id}",
    operation_id="getReorganisation",
    response_model=ReorganisationRead,
    tags=["reorganisations"],
    summary="One recorded act",
    openapi_extra=PUBLIC,
    responses=problems(404),
)
async def get_reorganisation(session: SessionDep, act_id: ActId) -> ReorganisationRead:
    return await reorganisation_service.get_reorganisation(session=session, act_id=act_id)


@router.post(
    "/reorganisations/{act_id}/annul",
    operation_id="annulReorganisation",
    response_model=ReorganisationRead,
    tags=["reorganisations"],
    summary="Annul an act that is still the latest on every zone it touched (recorded, never erased)",
    responses=problems(401, 403, 404, 409, 422),
)
async def annul_reorganisation(
    session: SessionDep, actor: CityAdmin, act_id: ActId, body: Annulment, runtime: RuntimeDep
) -> ReorganisationRead:
    return await reorganisation_service.annul_reorganisation(
        AnnulReorganisation(act_id=act_id, reason=body.reason),
        WriteContext(session=session, actor=actor, readmodel=runtime.readmodel),
    )


# --- zones ---------------------------------------------------------------------------------


@router.get(
    "/zones",
    operation_id="listZones",
    response_model=Page[ZoneRead],
    tags=["zones"],
    summary="Zones in force on a date",
    description=f"All statuses unless `status` is given. `limit` up to {MAX_ZONE_PAGE} on this list.",
    openapi_extra=PUBLIC,
)
async def list_zones(
    request: Request,
    as_of: AsOf = None,
    kind: ZoneKind | None = None,
    level: ZoneLevel | None = None,
    status: ZoneStatus | None = None,
    authority: DivisionCode | None = None,
    entrusted_to: DivisionCode | None = None,
    q: Annotated[str | None, Query(max_length=100, description="Part of any name the zone answers to.")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_ZONE_PAGE, description=f"Page size (at most {MAX_ZONE_PAGE}).")] = 500,
    cursor: CursorParam = None,
) -> Response:
    filters = {
        "kind": kind.value if kind else None,
        "level": level.value if level else None,
        "status": status.value if status else None,
        "authority": authority,
        "entrusted_to": entrusted_to,
        "q": q,
    }
    body = await zone_reads.zones_page_json(
        await reads(request),
        as_of=as_of or today_in_china(),
        filters=filters,
        after=str_cursor(cursor),
        limit=limit,
    )
    return _json(body)


@router.get(
    "/zones/counts",
    operation_id="countZones",
    response_model=ZoneCounts,
    tags=["zones"],
    summary="Active zones by kind and level on a date (plaques never counted)",
    openapi_extra=PUBLIC,
)
async def zone_counts(request: Request, as_of: AsOf = None) -> ZoneCounts:
    return await (await reads(request)).counts(as_of or today_in_china())


@router.get(
    "/zones/resolve",
    operation_id="resolveZoneName",
    response_model=ResolveResult,
    tags=["zones"],
    summary="Which zones carry a name on a date: official, former name, plaque or park",
    description="Names are compared after normalisation (full-width forms, spaces, a leading province name "
    "such as 河北 are ignored). Per zone the strongest match is shown: official, plaque, former name, park.",
    openapi_extra=PUBLIC,
)
async def resolve(
    request: Request,
    name: Annotated[str, Query(min_length=1, max_length=200)],
    as_of: AsOf = None,
) -> Response:
    zones = await reads(request)
    return _json(await zones.resolve_json(name, as_of or today_in_china()))


@router.post(
    "/zones/lineages",
    operation_id="getZoneLineagesInBulk",
    response_model=LineageBulk,
    tags=["zones"],
    summary="Lineages of up to 5,000 zones in one call (a read; POST only for the size of the list)",
    openapi_extra=PUBLIC,
)
async def zone_lineages(request: Request, body: ZoneIds) -> LineageBulk:
    return await zone_reads.lineages_bulk(await reads(request), body.zone_ids)


@router.post(
    "/zones/histories",
    operation_id="getZoneHistoriesInBulk",
    response_model=HistoryBulk,
    tags=["zones"],
    summary="Histories of up to 5,000 zones in one call (a read; POST only for the size of the list)",
    openapi_extra=PUBLIC,
)
async def zone_histories(session: SessionDep, body: ZoneIds) -> HistoryBulk:
    return await zone_service.histories_bulk(session=session, zone_ids=body.zone_ids)


@router.get(
    "/zones/{zone_id}",
    operation_id="getZone",
    response_model=ZoneRead,
    tags=["zones"],
    summary="A zone as it stood on a date",
    openapi_extra=PUBLIC,
    responses=problems(404),
)
async def get_zone(request: Request, zone_id: ZoneId, as_of: AsOf = None) -> Response:
    zones = await reads(request)
    return _json(await zones.zone_json(zone_id, as_of or today_in_china()))


@router.get(
    "/zones/{zone_id}/history",
    operation_id="getZoneHistory",
    response_model=ZoneHistory,
    tags=["zones"],
    summary="Every state of a zone with the act that produced it",
    openapi_extra=PUBLIC,
    responses=problems(404),
)
async def zone_history(session: SessionDep, zone_id: ZoneId) -> ZoneHistory:
    return await zone_service.zone_history(session=session, zone_id=zone_id)


@router.get(
    "/zones/{zone_id}/lineage",
    operation_id="getZoneLineage",
    response_model=Lineage,
    tags=["zones"],
    summary="All predecessors of a zone (transitively) and its successors",
    openapi_extra=PUBLIC,
    responses=problems(404),
)
async def zone_lineage(request: Request, zone_id: ZoneId) -> Lineage:
    zones = await reads(request)
    return await zones.lineage(zone_id)


# --- divisions, compliance, changes ---------------------------------------------------------


@router.post(
    "/divisions",
    operation_id="recordDivision",
    response_model=DivisionRead,
    status_code=201,
    tags=["divisions"],
    summary="Record a division or a change of one",
    description="The same state sent again (a retry) changes nothing and answers 200 with the stored state.",
    responses={
        200: {"description": "Already recorded exactly so: the stored state", "model": DivisionRead},
        **problems(401, 403, 422),
    },
)
async def create_division(
    body: DivisionCreate, session: SessionDep, actor: CityAdmin, runtime: RuntimeDep, response: Response
) -> DivisionRead:
    read, replayed = await division_service.record_division(
        body, WriteContext(session=session, actor=actor, readmodel=runtime.readmodel)
    )
    if replayed:
        response.status_code = 200
    return read


@router.get(
    "/divisions",
    operation_id="listDivisions",
    response_model=DivisionList,
    tags=["divisions"],
    summary="Divisions in force on a date, the zones each administers or hosts, and those without a zone",
    openapi_extra=PUBLIC,
)
async def list_divisions(
    session: SessionDep, as_of: AsOf = None, limit: LimitParam = DEFAULT_LIMIT, cursor: CursorParam = None
) -> DivisionList:
    return await division_service.list_divisions(
        session=session, as_of=as_of or today_in_china(), after=str_cursor(cursor), limit=limit
    )


@router.get(
    "/divisions/{code}",
    operation_id="listDivisionVersions",
    response_model=Page[DivisionRead],
    tags=["divisions"],
    summary="Every recorded state of a division code, oldest first",
    openapi_extra=PUBLIC,
    responses=problems(404),
)
async def division_versions(
    session: SessionDep,
    code: Annotated[str, Path(pattern=r"^\d{6}$")],
    limit: LimitParam = DEFAULT_LIMIT,
    cursor: CursorParam = None,
) -> Page[DivisionRead]:
    return await division_service.division_versions(session=session, code=code, after=str_cursor(cursor), limit=limit)


@router.get(
    "/compliance",
    operation_id="getComplianceReport",
    response_model=ComplianceReport,
    tags=["compliance"],
    summary="Findings against the policy's rules on a date (never refusals)",
    openapi_extra=PUBLIC,
)
async def compliance(session: SessionDep, as_of: AsOf = None) -> ComplianceReport:
    return await compliance_service.compliance(session=session, as_of=as_of or today_in_china())


@router.get(
    "/changes",
    operation_id="listChanges",
    response_model=ChangeFeed,
    tags=["changes"],
    summary="The ordered feed of registry changes, for other services' caches",
    description="Start without `cursor`; pass back `next_cursor` to continue. `next_cursor` is always set, "
    "also on the last page, so a follower keeps polling from it; a page with fewer than `limit` items "
    f"is the end of the feed for now. `limit` up to {MAX_CHANGE_PAGE} on this list.",
    openapi_extra=PUBLIC,
)
async def changes(
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=MAX_CHANGE_PAGE, description=f"Page size (at most {MAX_CHANGE_PAGE}).")] = 500,
    cursor: CursorParam = None,
) -> ChangeFeed:
    return await change_service.change_feed(session=session, after=int_cursor(cursor) or 0, limit=limit)
