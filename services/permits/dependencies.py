"""Dependencies and helpers shared by the permits service's routers (the case use cases' contexts
are in :mod:`services.permits.cases.dependencies`)."""

from __future__ import annotations

from datetime import date
from typing import Annotated, NoReturn

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
from services.common.pagination import decode_cursor, malformed_cursor
from services.common.problems import problems
from services.permits.cache import ReadCache
from services.permits.runtime import PermitsRuntime, RuntimeDep
from services.permits.shared import etag


async def official(runtime: RuntimeDep) -> OfficialCalendar:
    """The official calendar loaded at start-up."""
    return runtime.official_calendar


async def today(runtime: RuntimeDep) -> date:
    """Today in Asia/Shanghai, by the app's clock (tests pin ``runtime.today``)."""
    return runtime.today()


async def registry_client(request: Request, runtime: RuntimeDep) -> RegistryClient:
    """The registry client over the app's pooled HTTP client (overridable in tests)."""
    return registry_for(request, runtime)


def registry_for(request: Request, runtime: PermitsRuntime) -> RegistryClient:
    """:func:`registry_client` as a plain call (for the intake's hot path), honouring a test's
    ``dependency_overrides`` of it (a fake registry) just as the dependency would."""
    override = request.app.dependency_overrides.get(registry_client)
    if override is not None:
        client: RegistryClient = override()
        return client
    return RegistryClient(runtime.http, runtime.settings.registry_url)


async def zone_cache(runtime: RuntimeDep) -> dict[str, float]:
    """The app's short-lived memory of zones the registry confirmed."""
    return runtime.zone_cache


async def read_cache(runtime: RuntimeDep) -> ReadCache:
    """The app's cache of catalog items and the effective calendar (see :mod:`services.permits.cache`)."""
    return runtime.read_cache


OfficialDep = Annotated[OfficialCalendar, Depends(official)]
ReadCacheDep = Annotated[ReadCache, Depends(read_cache)]
TodayDep = Annotated[date, Depends(today)]
RegistryDep = Annotated[RegistryClient, Depends(registry_client)]
ZoneCacheDep = Annotated[dict[str, float], Depends(zone_cache)]
IfMatch = Annotated[
    str | None,
    Header(
        alias="If-Match", max_length=200, description="The ETag read before (optimistic concurrency); 412 if stale."
    ),
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


def date_cursor(cursor: str | None) -> date | None:
    """A cursor made of one day (422 if malformed)."""
    value = decode_cursor(cursor)
    if value is None:
        return None
    try:
        return date.fromisoformat(value) if isinstance(value, str) else _raise(malformed_cursor())
    except ValueError:
        raise malformed_cursor() from None


def _raise(exc: Exception) -> NoReturn:
    raise exc
