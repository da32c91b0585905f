"""The intake route, ``POST /v1/applications``: declared for FastAPI and, unless
``PERMITS_HOT_INTAKE`` is off, also served as a hot route (:mod:`services.common.hot`).

Both take the same steps in the same order (the caller, then the header and the body) and call
the same use case with the same context (:func:`_intake`); ``tests/permits/test_hot_intake.py``
holds them to the same answers."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Request, Response

from libs.domain.kernel.contracts import Actor
from libs.domain.permits.contracts import ApplicationCreate, ApplicationRead
from services.common.auth import authenticate
from services.common.hot import HotRoute, header, json_body
from services.common.problems import problems
from services.permits.cases.commands import FileApplication
from services.permits.cases.context import IntakeContext
from services.permits.cases.documents import dump_document
from services.permits.cases.filing import create_application as file_application
from services.permits.cases.idempotency import IDEMPOTENCY_KEY, IDEMPOTENCY_KEY_MAX
from services.permits.dependencies import FILERS, Filer, registry_for
from services.permits.shared import etag
from services.permits.sql import OnDemandSession

router = APIRouter(prefix="/v1")


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
    return await _intake(request, actor, FileApplication(body, idempotency_key))


async def create_application_hot(request: Request) -> Response:
    """``POST /v1/applications`` as a hot route: the same checks in the same order as the route above."""
    actor = authenticate(request, *FILERS)
    key = header(request, "idempotency-key", IDEMPOTENCY_KEY)
    body = json_body(ApplicationCreate, request, await request.body())
    return await _intake(request, actor, FileApplication(body, key))


HOT_ROUTES = (HotRoute("POST", "/v1/applications", create_application_hot),)
"""The window's intake is the permits service's hot path."""


async def _intake(request: Request, actor: Actor, command: FileApplication) -> Response:
    # The answer is the use case's read model as a plain dict, serialised here, not validated
    # through the response model. The session is opened only if the intake needs one, and ended
    # before the answer as the shared session dependency ends it.
    state = request.app.state
    sessions = OnDemandSession(state.db.sessions)
    ctx = IntakeContext(
        sessions=sessions,
        official=state.official_calendar,
        cache=state.read_cache,
        writer=state.intake_writer,
        registry=registry_for(request),
        zone_cache=state.zone_cache,
        actor=actor,
        today=state.today(),
        one_statement_writes=state.settings.one_statement_writes,
    )
    ok = False
    try:
        case = await file_application(command, ctx)
        ok = True
    finally:
        await sessions.finish(ok=ok)
    return Response(
        dump_document(case),
        status_code=201,
        media_type="application/json",
        headers={"Location": f"/v1/applications/{case['id']}", "ETag": etag(case["version"])},
    )
