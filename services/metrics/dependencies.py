"""Dependencies the metrics routes share: the registry client and the roles."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from libs.domain.clients.registry import RegistryClient
from libs.domain.kernel.contracts import Actor
from libs.domain.kernel.values import Role
from services.common.auth import require
from services.metrics.jurisdiction import Registry
from services.metrics.runtime import RuntimeDep


async def registry_client(runtime: RuntimeDep) -> Registry:
    """The registry client over the app's pooled HTTP client (tests override it with the fake)."""
    return RegistryClient(runtime.http, runtime.settings.registry_url)


RegistryDep = Annotated[Registry, Depends(registry_client)]

CityAdmin = Annotated[Actor, Depends(require(Role.CITY_ADMIN))]
Locker = Annotated[Actor, Depends(require(Role.CITY_ADMIN, Role.COMMERCE_BUREAU, Role.SCIENCE_BUREAU))]
"""Who may lock a period: the city, or a bureau publishing its kind's assessment (the use case checks the kind)."""
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
