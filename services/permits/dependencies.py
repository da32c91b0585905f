"""Dependencies and helpers shared by the permits service's routers."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Annotated, Any

from fastapi import Depends, Header, Path, Request, Response
from sqlalchemy.ext.asyncio import AsyncSession

from libs.domain.clients.registry import RegistryClient
from libs.domain.kernel.calendar import OfficialCalendar
from libs.domain.kernel.contracts import Actor
from libs.domain.kernel.values import Role
from libs.domain.permits.contracts import (
    ApplicationRead,
    TaskRead,
)
from services.common.auth import require
from services.common.db import SessionDep
from services.common.pagination import decode_cursor
from services.common.problems import problems
from services.permits.cache import ReadCache
from services.permits.cases.context import CaseContext
from services.permits.cases.repository import CaseRepository
from services.permits.shared import etag


async def official(request: Request) -> OfficialCalendar:
    """The official calendar loaded at start-up."""
    cal: OfficialCalendar = request.app.state.official_calendar
    return cal


async def today(request: Request) -> date:
    """Today in Asia/Shanghai, by the app's clock (tests set ``app.state.today``)."""
    clock: Callable[[], date] = request.app.state.today
    return clock()


async def registry_client(request: Request) -> RegistryClient:
    """The registry client over the app's pooled HTTP client (overridable in tests)."""
    return registry_for(request)


def registry_for(request: Request) -> RegistryClient:
    """:func:`registry_client` as a plain call (for the intake's hot path), honouring a test's
    ``dependency_overrides`` of it (a fake registry) just as the dependency would."""
    override = request.app.dependency_overrides.get(registry_client)
    if override is not None:
        client: RegistryClient = override()
        return client
    return RegistryClient(request.app.state.http, request.app.state.settings.registry_url)


async def zone_cache(request: Request) -> dict[str, float]:
    """The app's short-lived memory of zones the registry confirmed."""
    cache: dict[str, float] = request.app.state.zone_cache
    return cache


async def read_cache(request: Request) -> ReadCache:
    """The app's cache of catalog items and the effective calendar (see :mod:`services.permits.cache`)."""
    cache: ReadCache = request.app.state.read_cache
    return cache


OfficialDep = Annotated[OfficialCalendar, Depends(official)]
ReadCacheDep = Annotated[ReadCache, Depends(read_cache)]
TodayDep = Annotated[date, Depends(today)]
RegistryDep = Annotated[RegistryClient, Depends(registry_client)]
ZoneCacheDep = Annotated[dict[str, float], Depends(zone_cache)]
IfMatch = Annotated[
    str | None, Header(max_length=200, description="The ETag read before (optimistic concurrency); 412 if stale.")
]
CaseId = Annotated[str, Path(max_length=64)]
CalendarAdmin = Annotated[Actor, Depends(require(Role.CITY_ADMIN, Role.BUREAU_ADMIN))]
BureauAdmin = Annotated[Actor, Depends(require(Role.CITY_ADMIN, Role.BUREAU_ADMIN))]
FILERS = (Role.APPLICANT, Role.WINDOW_CLERK, Role.CITY_ADMIN)
"""Who may hand in an application."""
Filer = Annotated[Actor, Depends(require(*FILERS))]
Clerk = Annotated[Actor, Depends(require(Role.WINDOW_CLERK, Role.CITY_ADMIN))]
Reviewer = Annotated[Actor, Depends(require(Role.REVIEWER, Role.CITY_ADMIN))]
Applicant = Annotated[Actor, Depends(require(Role.APPLICANT))]
READERS = (Role.APPLICANT, Role.WINDOW_CLERK, Role.REVIEWER, Role.BUREAU_ADMIN, Role.CITY_ADMIN)
"""Who may read cases (each what their role lets them see)."""
STAFF = (Role.WINDOW_CLERK, Role.REVIEWER, Role.BUREAU_ADMIN, Role.CITY_ADMIN)
"""The bureau's people."""
AnyCaseReader = Annotated[Actor, Depends(require(*READERS))]
Staff = Annotated[Actor, Depends(require(*STAFF))]
TaskReader = Staff

CASE_ERRORS = problems(401, 403, 404, 409, 412, 422)


def case_context(request: Request, session: AsyncSession, actor: Actor) -> CaseContext:
    """The context of a case use case for this request (see :func:`context_of`)."""
    state = request.app.state
    return CaseContext(
        session=session,
        repo=CaseRepository(session, one_statement_writes=state.settings.one_statement_writes),
        official=state.official_calendar,
        cache=state.read_cache,
        actor=actor,
        today=state.today(),
    )


def context_of(*roles: Role) -> Callable[..., Any]:
    """A dependency giving the :class:`CaseContext` of a caller holding one of ``roles``: the
    request's session is opened first, then the caller checked, as each would be on its own."""
    check = require(*roles)

    async def context(request: Request, session: SessionDep, actor: Actor = Depends(check)) -> CaseContext:
        return case_context(request, session, actor)

    return context


ClerkContext = Annotated[CaseContext, Depends(context_of(Role.WINDOW_CLERK, Role.CITY_ADMIN))]
BureauAdminContext = Annotated[CaseContext, Depends(context_of(Role.CITY_ADMIN, Role.BUREAU_ADMIN))]
FilerContext = Annotated[CaseContext, Depends(context_of(*FILERS))]
ReviewerContext = Annotated[CaseContext, Depends(context_of(Role.REVIEWER, Role.CITY_ADMIN))]
ApplicantContext = Annotated[CaseContext, Depends(context_of(Role.APPLICANT))]
ReaderContext = Annotated[CaseContext, Depends(context_of(*READERS))]
StaffContext = Annotated[CaseContext, Depends(context_of(*STAFF))]


def etag_header(response: Response, version: int) -> None:
    """Set the ``ETag`` of the version answered."""
    response.headers["ETag"] = etag(version)


def case_answer(response: Response, case: ApplicationRead) -> ApplicationRead:
    """A case answer with its ``ETag``."""
    etag_header(response, case.version)
    return case


def task_answer(response: Response, task: TaskRead) -> TaskRead:
    """A task answer with its ``ETag``."""
    etag_header(response, task.version)
    return task


def str_cursor(cursor: str | None) -> str | None:
    """A cursor made of one string key (422 if malformed)."""
    value = decode_cursor(cursor)
    return None if value is None else str(value)
