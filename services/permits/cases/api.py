"""The case routes: applications, intake, special procedures, extensions, the decision, ratings."""

from __future__ import annotations

from typing import Annotated, cast

from fastapi import APIRouter, Header, Query, Request, Response
from pydantic import StringConstraints, TypeAdapter
from sqlalchemy.ext.asyncio import AsyncSession

from libs.domain.kernel.contracts import Actor, Page
from libs.domain.kernel.errors import Unprocessable
from libs.domain.permits.contracts import (
    AcceptCreate,
    ApplicationCreate,
    ApplicationRead,
    ClockStopRead,
    DecisionCreate,
    DeclineCreate,
    ExtensionCreate,
    MessageRead,
    RatingCreate,
    RatingRead,
    SpecialProcedureCreate,
    SpecialProcedureEnd,
    SupplementNotice,
    SupplementsCreate,
    TransitionRead,
)
from libs.domain.permits.states import CaseState
from services.common.auth import authenticate
from services.common.db import SessionDep
from services.common.hot import HotRoute, header, json_body
from services.common.pagination import DEFAULT_LIMIT, CursorParam, LimitParam, decode_cursor, encode_cursor
from services.common.problems import problems
from services.permits.cases import service as cases_service
from services.permits.cases.repository import CaseFilter
from services.permits.dependencies import (
    CASE_ERRORS,
    FILERS,
    AnyCaseReader,
    Applicant,
    BureauAdmin,
    CaseId,
    Clerk,
    Filer,
    IfMatch,
    OfficialDep,
    ReadCacheDep,
    Staff,
    TodayDep,
    case_answer,
    registry_for,
)
from services.permits.shared import etag
from services.permits.sql import LazySession

router = APIRouter(prefix="/v1")

IDEMPOTENCY_KEY_MAX = 200


@router.post(
    "/applications",
    response_model=ApplicationRead,
    status_code=201,
    tags=["applications"],
    summary="Hand in an application at the window (an applicant for themselves, or a window clerk)",
    description=(
        "A retry with the same `Idempotency-Key` header answers the application made first. "
        "With `accept` a window clerk accepts it on the spot (当场受理): submitted and accepted in one "
        "transaction, answered with the accepted case (clock started, first stage's tasks open)."
    ),
    responses=problems(401, 403, 422, 503),
)
async def create_application(
    request: Request,
    actor: Filer,
    body: ApplicationCreate,
    idempotency_key: Annotated[str | None, Header(max_length=IDEMPOTENCY_KEY_MAX)] = None,
) -> Response:
    return await _intake(request, actor, body, idempotency_key)


_IDEMPOTENCY_KEY = TypeAdapter(Annotated[str, StringConstraints(max_length=IDEMPOTENCY_KEY_MAX)])


async def create_application_hot(request: Request) -> Response:
    """``POST /v1/applications`` as a hot route (:mod:`services.common.hot`): the same checks in
    the same order as the route above (the caller, then the header and the body)."""
    actor = authenticate(request, *FILERS)
    key = header(request, "idempotency-key", _IDEMPOTENCY_KEY)
    return await _intake(request, actor, json_body(ApplicationCreate, request, await request.body()), key)


HOT_ROUTES = (HotRoute("POST", "/v1/applications", create_application_hot),)
"""The window's intake is the permits service's hot path."""


async def _intake(request: Request, actor: Actor, body: ApplicationCreate, idempotency_key: str | None) -> Response:
    # The answer is the use case's read model as a plain dict (``case_document``), serialised
    # here, not validated through the response model.
    state = request.app.state
    lazy = LazySession(state.db.sessions)  # a session is opened only if the intake needs one
    session = cast(AsyncSession, lazy)
    ok = False
    try:
        case = await cases_service.create_application(
            session=session,
            official=state.official_calendar,
            cache=state.read_cache,
            writer=getattr(state, "intake_writer", None),
            registry=registry_for(request),
            zone_cache=state.zone_cache,
            actor=actor,
            body=body,
            idempotency_key=idempotency_key,
            today=state.today(),
        )
        ok = True
    finally:
        await lazy.finish(ok=ok)
    return Response(
        cases_service.dump_document(case),
        status_code=201,
        media_type="application/json",
        headers={"Location": f"/v1/applications/{case['id']}", "ETag": etag(case["version"])},
    )


@router.get(
    "/applications",
    response_model=Page[ApplicationRead],
    tags=["applications"],
    summary="The cases the caller may see (an applicant: their own; a clerk: their zone's)",
    responses=problems(401, 403),
)
async def list_applications(
    session: SessionDep,
    cal: OfficialDep,
    actor: AnyCaseReader,
    now: TodayDep,
    zone: Annotated[str | None, Query(max_length=64)] = None,
    state: CaseState | None = None,
    item: Annotated[str | None, Query(max_length=64)] = None,
    limit: LimitParam = DEFAULT_LIMIT,
    cursor: CursorParam = None,
) -> Page[ApplicationRead]:
    after = decode_cursor(cursor)
    if after is not None and not (isinstance(after, list) and len(after) == 2):
        raise Unprocessable(
            "malformed cursor",
            errors=[{"loc": ["query", "cursor"], "msg": "not a cursor from this API", "type": "cursor"}],
        )
    items, nxt = await cases_service.list_applications(
        session=session,
        official=cal,
        actor=actor,
        filters=CaseFilter(zone=zone, state=state.value if state else None, item=item),
        after=(str(after[0]), str(after[1])) if after else None,
        limit=limit,
        today=now,
    )
    return Page(items=items, next_cursor=encode_cursor(list(nxt)) if nxt else None)


@router.get(
    "/applications/{case_id}",
    response_model=ApplicationRead,
    tags=["applications"],
    summary="One case: state, stage, tasks, deadline, working days used and left, decision",
    responses=problems(401, 403, 404),
)
async def get_application(
    session: SessionDep, cal: OfficialDep, actor: AnyCaseReader, now: TodayDep, case_id: CaseId, response: Response
) -> ApplicationRead:
    case = await cases_service.get_application(session=session, official=cal, actor=actor, case_id=case_id, today=now)
    return case_answer(response, case)


@router.post(
    "/applications/{case_id}/accept",
    response_model=ApplicationRead,
    tags=["intake"],
    summary="Accept (受理): the clock starts and the first stage's departments get their tasks",
    responses=CASE_ERRORS,
)
async def accept(
    session: SessionDep,
    cal: OfficialDep,
    read_cache: ReadCacheDep,
    actor: Clerk,
    now: TodayDep,
    case_id: CaseId,
    body: AcceptCreate,
    response: Response,
    if_match: IfMatch = None,
) -> ApplicationRead:
    case = await cases_service.accept(
        session=session,
        official=cal,
        cache=read_cache,
        actor=actor,
        case_id=case_id,
        body=body,
        if_match=if_match,
        today=now,
    )
    return case_answer(response, case)


@router.post(
    "/applications/{case_id}/request-supplements",
    response_model=ApplicationRead,
    tags=["intake"],
    summary="Ask for everything missing or defective in one notice (一次性告知)",
    responses=CASE_ERRORS,
)
async def request_supplements(
    session: SessionDep,
    cal: OfficialDep,
    actor: Clerk,
    now: TodayDep,
    case_id: CaseId,
    body: SupplementNotice,
    response: Response,
    if_match: IfMatch = None,
) -> ApplicationRead:
    case = await cases_service.request_intake_supplements(
        session=session, official=cal, actor=actor, case_id=case_id, body=body, if_match=if_match, today=now
    )
    return case_answer(response, case)


@router.post(
    "/applications/{case_id}/decline",
    response_model=ApplicationRead,
    tags=["intake"],
    summary="Decline as out of scope (不予受理), with reasons",
    responses=CASE_ERRORS,
)
async def decline(
    session: SessionDep,
    cal: OfficialDep,
    actor: Clerk,
    now: TodayDep,
    case_id: CaseId,
    body: DeclineCreate,
    response: Response,
    if_match: IfMatch = None,
) -> ApplicationRead:
    case = await cases_service.decline(
        session=session, official=cal, actor=actor, case_id=case_id, body=body, if_match=if_match, today=now
    )
    return case_answer(response, case)


@router.post(
    "/applications/{case_id}/supplements",
    response_model=ApplicationRead,
    tags=["applications"],
    summary="Hand in supplements (the applicant, or the window on their behalf); a stopped clock restarts",
    responses=CASE_ERRORS,
)
async def supplements(
    session: SessionDep,
    cal: OfficialDep,
    actor: Filer,
    now: TodayDep,
    case_id: CaseId,
    body: SupplementsCreate,
    response: Response,
    if_match: IfMatch = None,
) -> ApplicationRead:
    case = await cases_service.supplement(
        session=session, official=cal, actor=actor, case_id=case_id, body=body, if_match=if_match, today=now
    )
    return case_answer(response, case)


@router.post(
    "/applications/{case_id}/special-procedures",
    response_model=ClockStopRead,
    status_code=201,
    tags=["review"],
    summary="Start a special procedure (hearing, expert review, on-site inspection, public notice): the clock stops",
    responses=CASE_ERRORS,
)
async def start_special_procedure(
    session: SessionDep,
    cal: OfficialDep,
    actor: BureauAdmin,
    now: TodayDep,
    case_id: CaseId,
    body: SpecialProcedureCreate,
    if_match: IfMatch = None,
) -> ClockStopRead:
    return await cases_service.start_special_procedure(
        session=session, official=cal, actor=actor, case_id=case_id, body=body, if_match=if_match, today=now
    )


@router.get(
    "/applications/{case_id}/special-procedures",
    response_model=list[ClockStopRead],
    tags=["review"],
    summary="Every clock stop of a case (special procedures and supplements during review)",
    responses=problems(401, 403, 404),
)
async def list_special_procedures(session: SessionDep, actor: Staff, case_id: CaseId) -> list[ClockStopRead]:
    return await cases_service.list_procedures(session=session, actor=actor, case_id=case_id)


@router.post(
    "/applications/{case_id}/special-procedures/{procedure_id}/end",
    response_model=ApplicationRead,
    tags=["review"],
    summary="End a special procedure: the clock runs again where it stopped",
    responses=CASE_ERRORS,
)
async def end_special_procedure(
    session: SessionDep,
    cal: OfficialDep,
    actor: BureauAdmin,
    now: TodayDep,
    case_id: CaseId,
    procedure_id: int,
    body: SpecialProcedureEnd,
    response: Response,
    if_match: IfMatch = None,
) -> ApplicationRead:
    case = await cases_service.end_special_procedure(
        session=session,
        official=cal,
        actor=actor,
        case_id=case_id,
        procedure_id=procedure_id,
        body=body,
        if_match=if_match,
        today=now,
    )
    return case_answer(response, case)


@router.post(
    "/applications/{case_id}/extensions",
    response_model=ApplicationRead,
    tags=["review"],
    summary="Grant the case's one extension (up to the item's statutory maximum), with a reason",
    responses=CASE_ERRORS,
)
async def extend(
    session: SessionDep,
    cal: OfficialDep,
    actor: BureauAdmin,
    now: TodayDep,
    case_id: CaseId,
    body: ExtensionCreate,
    response: Response,
    if_match: IfMatch = None,
) -> ApplicationRead:
    case = await cases_service.extend(
        session=session, official=cal, actor=actor, case_id=case_id, body=body, if_match=if_match, today=now
    )
    return case_answer(response, case)


@router.post(
    "/applications/{case_id}/decision",
    response_model=ApplicationRead,
    tags=["decision"],
    summary="Issue the decision at the window (统一反馈), numbered and sealed by the bureau",
    responses=CASE_ERRORS,
)
async def decide(
    session: SessionDep,
    cal: OfficialDep,
    actor: Clerk,
    now: TodayDep,
    case_id: CaseId,
    body: DecisionCreate,
    response: Response,
    if_match: IfMatch = None,
) -> ApplicationRead:
    case = await cases_service.decide(
        session=session, official=cal, actor=actor, case_id=case_id, body=body, if_match=if_match, today=now
    )
    return case_answer(response, case)


@router.post(
    "/applications/{case_id}/rating",
    response_model=RatingRead,
    status_code=201,
    tags=["decision"],
    summary="Rate the service (好差评, 1-5); 2 or lower opens a rectification due in 15 working days",
    responses=problems(401, 403, 404, 409, 422),
)
async def rate(
    session: SessionDep, cal: OfficialDep, actor: Applicant, now: TodayDep, case_id: CaseId, body: RatingCreate
) -> RatingRead:
    return await cases_service.rate_case(
        session=session, official=cal, actor=actor, case_id=case_id, body=body, today=now
    )


@router.get(
    "/applications/{case_id}/history",
    response_model=list[TransitionRead],
    tags=["applications"],
    summary="Every transition of a case: who, when, from, to, note (staff only)",
    responses=problems(401, 403, 404),
)
async def history(session: SessionDep, actor: Staff, case_id: CaseId) -> list[TransitionRead]:
    return await cases_service.history(session=session, actor=actor, case_id=case_id)


@router.get(
    "/applications/{case_id}/messages",
    response_model=list[MessageRead],
    tags=["applications"],
    summary="Every message addressed to the applicant",
    responses=problems(401, 403, 404),
)
async def messages(session: SessionDep, actor: AnyCaseReader, case_id: CaseId) -> list[MessageRead]:
    return await cases_service.messages(session=session, actor=actor, case_id=case_id)
