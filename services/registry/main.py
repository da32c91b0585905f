"""The registry service's app factory."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from fastapi import FastAPI

from services.common.app import build_app
from services.common.settings import RegistrySettings
from services.registry.api import router
from services.registry.conversions import zone_read
from services.registry.readmodel import ReadModel


@contextlib.asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings: RegistrySettings = app.state.settings
    if not settings.memory_index:  # every read from SQL; writes have no index to tell
        app.state.readmodel = None
        yield
        return
    model = ReadModel(app.state.db, zone_read)
    app.state.readmodel = model
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
    )
