"""The registry's typed application state, and the dependency that gives it to a route."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated

from fastapi import Depends

from services.common.idempotency import Idempotency
from services.common.runtime import Runtime, runtime_dependency
from services.common.settings import RegistrySettings
from services.registry.fast_paths.index_reads import IndexZoneReads
from services.registry.readmodel import ReadModel
from services.registry.zone_reads import SqlZoneReads


@dataclass(eq=False)
class RegistryRuntime(Runtime):
    """What a running registry holds besides the common parts, made by its lifespan."""

    settings: RegistrySettings
    readmodel: ReadModel[IndexZoneReads] | None = field(default=None, init=False)
    """The in-memory copy of the zone projection the hot reads are answered from; ``None`` when
    it is switched off (``REGISTRY_MEMORY_INDEX=false``)."""
    sql_reads: SqlZoneReads = field(init=False)
    """The plain path of the hot reads (one per app: it holds nothing but the database)."""
    idempotency: Idempotency = field(init=False)
    """The ``Idempotency-Key`` policy of the act writes, over this service's key table."""


RuntimeDep = Annotated[RegistryRuntime, Depends(runtime_dependency(RegistryRuntime))]
