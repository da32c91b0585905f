"""Dependencies and helpers shared by the permits service's routers."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Annotated

from fastapi import Depends, Header, Path, Request, Response

from libs.domain.clients.registry import RegistryClient
from libs.domain.kernel.calendar import OfficialCalendar
from libs.domain.kernel.contracts import Actor
from libs.domain.kernel.values import Role
from libs.domain.permits.contracts import (
    ApplicationRead,
    TaskRead,
)
from services.common.auth import require
from services.common.pagination import decode_cursor
from services.common.problems import problems
from services.permits.cache import ReadCache
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
AnyCaseReader = Annotated[
    Actor,
    Depends(require(Role.APPLICANT, Role.WINDOW_CLERK, Role.REVIEWER, Role.BUREAU_ADMIN, Role.CITY_ADMIN)),
]
Staff = Annotated[Actor, Depends(require(Role.WINDOW_CLERK, Role.REVIEWER, Role.BUREAU_ADMIN, Role.CITY_ADMIN))]
TaskReader = Staff

CASE_ERRORS = problems(401, 403, 404, 409, 412, 422)


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
