"""The registry service's app factory."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from fastapi import FastAPI

from services.common.app import build_app
from services.common.idempotency import Idempotency
from services.common.runtime import runtime_of
from services.common.settings import RegistrySettings
from services.registry.api import router
from services.registry.conversions import zone_read
from services.registry.fast_paths.index_reads import IndexZoneReads
from services.registry.readmodel import ReadModel
from services.registry.runtime import RegistryRuntime
from services.registry.tables import IdempotencyKey
from services.registry.zone_reads import SqlZoneReads


@contextlib.asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    runtime = runtime_of(app, RegistryRuntime)
    runtime.idempotency = Idempotency(runtime.db, IdempotencyKey)
    runtime.sql_reads = SqlZoneReads(runtime.db)
    if not runtime.settings.memory_index:  # every read from SQL; writes have no index to tell
        runtime.readmodel = None
        yield
        return
    model = ReadModel(runtime.db, zone_read, IndexZoneReads)
    runtime.readmodel = model
    await model.start()
    try:
        yield
    finally:
        await model.stop()


def create_app(settings: RegistrySettings | None = None) -> FastAPI:
    """Build the registry app; settings default to the environment."""
    return build_app(
        settings or RegistrySettings(),
        title="devzones registry",
        description="Development zones, divisions and their whole reorganisation history, as of any date.",
        routers=[router],
        lifespan_hook=_lifespan,
        runtime=RegistryRuntime,
    )
