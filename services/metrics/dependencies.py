"""Dependencies the metrics routes share: the registry client, the jurisdiction cache, roles."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from libs.domain.clients.registry import RegistryClient
from libs.domain.kernel.contracts import Actor
from libs.domain.kernel.values import Role
from services.common.auth import require
from services.common.db import Database
from services.metrics.indicators.service import CatalogCache
from services.metrics.jurisdiction import Jurisdiction, Registry


async def registry_client(request: Request) -> Registry:
    """The registry client over the app's pooled HTTP client (tests override it with the fake)."""
    return RegistryClient(request.app.state.http, request.app.state.settings.registry_url)


async def jurisdiction(request: Request) -> Jurisdiction:
    """The app's registry cache (created in the lifespan)."""
    cache: Jurisdiction = request.app.state.jurisdiction
    return cache


async def catalogs(request: Request) -> CatalogCache:
    """The app's indicator catalog cache (created in the lifespan)."""
    cache: CatalogCache = request.app.state.catalogs
    return cache


async def fast_copy(request: Request) -> bool:
    """Whether the push may try its speculative COPY path (``METRICS_FAST_COPY``)."""
    return bool(request.app.state.settings.fast_copy)


async def database(request: Request) -> Database:
    """The app's database, for the short transactions outside the request's session."""
    db: Database = request.app.state.db
    return db


RegistryDep = Annotated[Registry, Depends(registry_client)]
JurisdictionDep = Annotated[Jurisdiction, Depends(jurisdiction)]
DatabaseDep = Annotated[Database, Depends(database)]
CatalogsDep = Annotated[CatalogCache, Depends(catalogs)]
FastCopyDep = Annotated[bool, Depends(fast_copy)]

CityAdmin = Annotated[Actor, Depends(require(Role.CITY_ADMIN))]
Pusher = Annotated[Actor, Depends(require(Role.CITY_ADMIN, Role.STATISTICS_BUREAU, Role.COUNTY, Role.ZONE_COMMITTEE))]
Reader = Annotated[
    Actor,
    Depends(
        require(
            Role.CITY_ADMIN,
            Role.STATISTICS_BUREAU,
            Role.COMMERCE_BUREAU,
            Role.SCIENCE_BUREAU,
            Role.COUNTY,
            Role.ZONE_COMMITTEE,
        )
    ),
]
Supervisor = Annotated[Actor, Depends(require(Role.CITY_ADMIN, Role.STATISTICS_BUREAU))]
