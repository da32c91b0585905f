"""The case routes: applications, intake, special procedures, extensions, the decision, ratings.

Each route parses, lets its context dependency authorise the caller, builds the use case's
command and returns its contract; ``POST /v1/applications`` is :mod:`.intake_api`."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response

from libs.domain.kernel.contracts import Page
from libs.domain.kernel.errors import Unprocessable
from libs.domain.kernel.i18n import Text
from libs.domain.kernel.values import SerialId
from libs.domain.permits.contracts import (
    AcceptCreate,
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
from services.common.pagination import DEFAULT_LIMIT, CursorParam, LimitParam, decode_cursor, encode_cursor, int_cursor
from services.common.problems import problems
from services.permits.cases import decisions, intake, procedures, reads
from services.permits.cases.commands import (
    AcceptCase,
    DecideCase,
    DeclineCase,
    EndSpecialProcedure,
    ExtendCase,
    HandInSupplements,
    ListCases,
    RateCase,
    RequestIntakeSupplements,
    StartSpecialProcedure,
)
from services.permits.cases.dependencies import (
    ApplicantContext,
    BureauAdminContext,
    ClerkContext,
    FilerContext,
    ReaderContext,
    StaffContext,
)
from services.permits.cases.repository import CaseFilter
from services.permits.dependencies import CASE_ERRORS, CaseId, IfMatch, case_answer

router = APIRouter(prefix="/v1")


@router.get(
    "/applications",
    operation_id="listApplications",
    response_model=Page[ApplicationRead],
    tags=["applications"],
    summary="The cases the caller may see (an applicant: their own; a clerk: their zone's)",
    responses=problems(401, 403),
)
async def list_applications(
    ctx: ReaderContext,
    zone_id: Annotated[str | None, Query(max_length=64)] = None,
    state: CaseState | None = None,
    item: Annotated[str | None, Query(max_length=64)] = None,
    limit: LimitParam = DEFAULT_LIMIT,
    cursor: CursorParam = None,
) -> Page[ApplicationRead]:
    after = decode_cursor(cursor)
    if after is not None and not (isinstance(after, list) and len(after) == 2):
        raise Unprocessable(
            Text("游标格式有误", "malformed cursor"),
            errors=[
                {
                    "loc": ["query", "cursor"],
                    "msg": Text("不是本接口给出的游标", "not a cursor from this API"),
                    "type": "cursor",
                    "code": "bad_cursor",
                }
            ],
            code="bad_cursor",
        )
    query = ListCases(
        filters=CaseFilter(zone=zone_id, state=state.value if state else None, item=item),
        after=(str(after[0]), str(after[1])) if after else None,
        limit=limit,
    )
    items, nxt = await reads.list_applications(query, ctx)
    return Page(items=items, next_cursor=encode_cursor(list(nxt)) if nxt else None)


@router.get(
    "/applications/{case_id}",
    operation_id="getApplication",
    response_model=ApplicationRead,
    tags=["applications"],
    summary="One case: state, stage, tasks, deadline, working days used and left, decision",
    responses=problems(401, 403, 404),
)
async def get_application(ctx: ReaderContext, case_id: CaseId, response: Response) -> ApplicationRead:
    return case_answer(response, await reads.get_application(case_id, ctx))


@router.post(
    "/applications/{case_id}/accept",
    operation_id="acceptApplication",
    response_model=ApplicationRead,
    tags=["intake"],
    summary="Accept (受理): the clock starts and the first stage's departments get their tasks",
    responses=CASE_ERRORS,
)
async def accept(
    ctx: ClerkContext, case_id: CaseId, body: AcceptCreate, response: Response, if_match: IfMatch = None
) -> ApplicationRead:
    return case_answer(response, await intake.accept(AcceptCase(case_id, body, if_match), ctx))


@router.post(
    "/applications/{case_id}/request-supplements",
    operation_id="requestApplicationSupplements",
    response_model=ApplicationRead,
    tags=["intake"],
    summary="Ask for everything missing or defective in one notice (一次性告知)",
    responses=CASE_ERRORS,
)
async def request_supplements(
    ctx: ClerkContext, case_id: CaseId, body: SupplementNotice, response: Response, if_match: IfMatch = None
) -> ApplicationRead:
    command = RequestIntakeSupplements(case_id, body, if_match)
    return case_answer(response, await intake.request_intake_supplements(command, ctx))


@router.post(
    "/applications/{case_id}/decline",
    operation_id="declineApplication",
    response_model=ApplicationRead,
    tags=["intake"],
    summary="Decline as out of scope (不予受理), with reasons",
    responses=CASE_ERRORS,
)
async def decline(
    ctx: ClerkContext, case_id: CaseId, body: DeclineCreate, response: Response, if_match: IfMatch = None
) -> ApplicationRead:
    return case_answer(response, await intake.decline(DeclineCase(case_id, body, if_match), ctx))


@router.post(
    "/applications/{case_id}/supplements",
    operation_id="submitSupplements",
    response_model=ApplicationRead,
    tags=["applications"],
    summary="Hand in supplements (the applicant, or the window on their behalf); a stopped clock restarts",
    responses=CASE_ERRORS,
)
async def supplements(
    ctx: FilerContext, case_id: CaseId, body: SupplementsCreate, response: Response, if_match: IfMatch = None
) -> ApplicationRead:
    return case_answer(response, await intake.supplement(HandInSupplements(case_id, body, if_match), ctx))


@router.post(
    "/applications/{case_id}/special-procedures",
    operation_id="startSpecialProcedure",
    response_model=ClockStopRead,
    status_code=201,
    tags=["review"],
    summary="Start a special procedure (hearing, expert review, on-site inspection, public notice): the clock stops",
    responses=CASE_ERRORS,
)
async def start_special_procedure(
    ctx: BureauAdminContext, case_id: CaseId, body: SpecialProcedureCreate, if_match: IfMatch = None
) -> ClockStopRead:
    return await procedures.start_special_procedure(StartSpecialProcedure(case_id, body, if_match), ctx)


@router.get(
    "/applications/{case_id}/special-procedures",
    operation_id="listClockStops",
    response_model=Page[ClockStopRead],
    tags=["review"],
    summary="Every clock stop of a case (special procedures and supplements during review), oldest first",
    responses=problems(401, 403, 404, 422),
)
async def list_special_procedures(
    ctx: StaffContext, case_id: CaseId, limit: LimitParam = DEFAULT_LIMIT, cursor: CursorParam = None
) -> Page[ClockStopRead]:
    items, nxt = await procedures.list_procedures(case_id, ctx, after=int_cursor(cursor), limit=limit)
    return Page(items=items, next_cursor=encode_cursor(nxt) if nxt is not None else None)


@router.post(
    "/applications/{case_id}/special-procedures/{procedure_id}/end",
    operation_id="endSpecialProcedure",
    response_model=ApplicationRead,
    tags=["review"],
    summary="End a special procedure: the clock runs again where it stopped",
    responses=CASE_ERRORS,
)
async def end_special_procedure(
    ctx: BureauAdminContext,
    case_id: CaseId,
    procedure_id: Annotated[SerialId, Path(description="The special procedure's id (`id` of its clock stop).")],
    body: SpecialProcedureEnd,
    response: Response,
    if_match: IfMatch = None,
) -> ApplicationRead:
    command = EndSpecialProcedure(case_id, body, if_match, procedure_id=procedure_id)
    return case_answer(response, await procedures.end_special_procedure(command, ctx))


@router.post(
    "/applications/{case_id}/extensions",
    operation_id="grantExtension",
    response_model=ApplicationRead,
    tags=["review"],
    summary="Grant the case's one extension (up to the item's statutory maximum), with a reason",
    responses=CASE_ERRORS,
)
async def extend(
    ctx: BureauAdminContext, case_id: CaseId, body: ExtensionCreate, response: Response, if_match: IfMatch = None
) -> ApplicationRead:
    return case_answer(response, await procedures.extend(ExtendCase(case_id, body, if_match), ctx))


@router.post(
    "/applications/{case_id}/decision",
    operation_id="issueDecision",
    response_model=ApplicationRead,
    tags=["decision"],
    summary="Issue the decision at the window (统一反馈), numbered and sealed by the bureau",
    responses=CASE_ERRORS,
)
async def decide(
    ctx: ClerkContext, case_id: CaseId, body: DecisionCreate, response: Response, if_match: IfMatch = None
) -> ApplicationRead:
    return case_answer(response, await decisions.decide(DecideCase(case_id, body, if_match), ctx))


@router.post(
    "/applications/{case_id}/rating",
    operation_id="rateApplication",
    response_model=RatingRead,
    status_code=201,
    tags=["decision"],
    summary="Rate the service (好差评, 1-5); 2 or lower opens a rectification due in 15 working days",
    responses=problems(401, 403, 404, 409, 422),
)
async def rate(ctx: ApplicantContext, case_id: CaseId, body: RatingCreate) -> RatingRead:
    return await decisions.rate_case(RateCase(case_id, body), ctx)


@router.get(
    "/applications/{case_id}/history",
    operation_id="listApplicationHistory",
    response_model=Page[TransitionRead],
    tags=["applications"],
    summary="Every transition of a case, oldest first: who, when, from, to, note (staff only)",
    responses=problems(401, 403, 404, 422),
)
async def history(
    ctx: StaffContext, case_id: CaseId, limit: LimitParam = DEFAULT_LIMIT, cursor: CursorParam = None
) -> Page[TransitionRead]:
    items, nxt = await reads.history(case_id, ctx, after=int_cursor(cursor), limit=limit)
    return Page(items=items, next_cursor=encode_cursor(nxt) if nxt is not None else None)


@router.get(
    "/applications/{case_id}/messages",
    operation_id="listApplicationMessages",
    response_model=Page[MessageRead],
    tags=["applications"],
    summary="Every message addressed to the applicant, oldest first",
    responses=problems(401, 403, 404, 422),
)
async def messages(
    ctx: ReaderContext, case_id: CaseId, limit: LimitParam = DEFAULT_LIMIT, cursor: CursorParam = None
) -> Page[MessageRead]:
    items, nxt = await reads.messages(case_id, ctx, after=int_cursor(cursor), limit=limit)
    return Page(items=items, next_cursor=encode_cursor(nxt) if nxt is not None else None)
