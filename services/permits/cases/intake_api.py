"""The intake route, ``POST /v1/applications``: declared for FastAPI and, unless
``PERMITS_HOT_INTAKE`` is off, also served as a hot route (:mod:`services.common.hot`).

Both take the same steps in the same order (the caller, then the header and the body) and call
the same use case with the same context (:func:`_intake`); ``tests/permits/test_hot_intake.py``
holds them to the same answers.

An intake with an ``Idempotency-Key`` runs under the shared policy
(:mod:`services.common.idempotency`): the key is claimed, the case written in the request's own
transaction together with the answer a retry gets (201 and the case as first answered), never
through the group-commit writer."""

from __future__ import annotations

from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Header, Request, Response
from pydantic import StringConstraints, TypeAdapter

from libs.domain.kernel.contracts import Actor
from libs.domain.permits.contracts import ApplicationCreate, ApplicationRead
from services.common.auth import authenticate
from services.common.hot import HotRoute, header, json_body
from services.common.idempotency import Keyed, idempotent
from services.common.problems import problems
from services.permits.cases.commands import FileApplication
from services.permits.cases.context import IntakeContext
from services.permits.cases.documents import dump_document
from services.permits.cases.fast_paths.group_commit import IntakeWriter
from services.permits.cases.filing import create_application as file_application
from services.permits.dependencies import FILERS, Filer, registry_for
from services.permits.runtime import PermitsRuntime, permits_runtime
from services.permits.shared import etag
from services.permits.sql import OnDemandSession

router = APIRouter(prefix="/v1")

IDEMPOTENCY_KEY_MAX = 200
"""The longest ``Idempotency-Key`` header taken."""

IDEMPOTENCY_KEY = TypeAdapter(Annotated[str, StringConstraints(max_length=IDEMPOTENCY_KEY_MAX)])
"""The header as the hot intake route validates it (as the declared route does)."""


@router.post(
    "/applications",
    operation_id="submitApplication",
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
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key", max_length=IDEMPOTENCY_KEY_MAX)] = None,
) -> Response:
    return await _intake(request, actor, body, idempotency_key)


async def create_application_hot(request: Request) -> Response:
    """``POST /v1/applications`` as a hot route: the same checks in the same order as the route above."""
    actor = await authenticate(request, *FILERS)
    key = header(request, "Idempotency-Key", IDEMPOTENCY_KEY)
    body = json_body(ApplicationCreate, request, await request.body())
    return await _intake(request, actor, body, key)


HOT_ROUTES = (HotRoute("POST", "/v1/applications", create_application_hot),)
"""The window's intake is the permits service's hot path."""


def _context(
    request: Request, runtime: PermitsRuntime, sessions: OnDemandSession, actor: Actor, writer: IntakeWriter | None
) -> IntakeContext:
    return IntakeContext(
        sessions=sessions,
        official=runtime.official_calendar,
        cache=runtime.read_cache,
        writer=writer,
        registry=registry_for(request, runtime),
        zone_cache=runtime.zone_cache,
        actor=actor,
        today=runtime.today(),
        one_statement_writes=runtime.settings.one_statement_writes,
    )


def _created(case: dict[str, Any]) -> Response:
    return Response(
        dump_document(case),
        status_code=201,
        media_type="application/json",
        headers={"Location": f"/v1/applications/{case['id']}", "ETag": etag(case["version"])},
    )


async def _intake(request: Request, actor: Actor, body: ApplicationCreate, key: str | None) -> Response:
    # The answer is the use case's read model as a plain dict, serialised here, not validated
    # through the response model. The session is opened only if the intake needs one, and ended
    # before the answer as the shared session dependency ends it.
    runtime = permits_runtime(request)
    if key is not None:
        return await _keyed_intake(request, runtime, actor, body, key)
    sessions = OnDemandSession(runtime.db.sessions)
    ctx = _context(request, runtime, sessions, actor, runtime.intake_writer)
    ok = False
    try:
        case = await file_application(FileApplication(body), ctx)
        ok = True
    finally:
        await sessions.finish(ok=ok)
    return _created(case)


async def _keyed_intake(
    request: Request, runtime: PermitsRuntime, actor: Actor, body: ApplicationCreate, key: str
) -> Response:
    """The intake under an ``Idempotency-Key`` (see the module docstring); a replay carries the
    ``Location`` and ``ETag`` of the case it answers, as the first answer did."""
    sessions = OnDemandSession(runtime.db.sessions)
    ctx = _context(request, runtime, sessions, actor, None)  # no group commit: see the module docstring
    keyed = Keyed.of(actor.sub, key, body)
    ok = False
    try:
        case = await idempotent(
            runtime.idempotency,
            sessions(),
            keyed,
            lambda: file_application(FileApplication(body), ctx),
            lambda document: (201, orjson.loads(dump_document(document))),
        )
        ok = True
    finally:
        await sessions.finish(ok=ok)
    if isinstance(case, Response):  # a replay
        stored = orjson.loads(case.body)
        case.headers["Location"] = f"/v1/applications/{stored['id']}"
        case.headers["ETag"] = etag(stored["version"])
        return case
    return _created(case)
