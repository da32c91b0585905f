"""The metrics service's typed application state, and the dependency that gives it to a route."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated

from fastapi import Depends

from services.common.idempotency import Idempotency
from services.common.runtime import Runtime, runtime_dependency
from services.common.settings import MetricsSettings
from services.metrics.indicators.service import CatalogCache
from services.metrics.jurisdiction import Jurisdiction


@dataclass(eq=False)
class MetricsRuntime(Runtime):
    """What a running metrics app holds besides the common parts; the caches and the key policy
    are made by the lifespan, so each start of the app begins with empty caches."""

    settings: MetricsSettings
    jurisdiction: Jurisdiction = field(init=False)
    """The registry's answers, kept fresh from its change feed."""
    catalogs: CatalogCache = field(init=False)
    """The indicator catalog, read again only once the indicator table changed."""
    idempotency: Idempotency = field(init=False)
    """The ``Idempotency-Key`` policy of the pushes and imports, over this service's key table."""


RuntimeDep = Annotated[MetricsRuntime, Depends(runtime_dependency(MetricsRuntime))]
