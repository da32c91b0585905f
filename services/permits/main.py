"""The permits service's app factory."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from fastapi import FastAPI

from libs.domain.calendar import official_calendar
from services.common.app import build_app
from services.common.settings import PermitsSettings
from services.permits.api import router


@contextlib.asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    app.state.official_calendar = official_calendar()
    yield


def create_app(settings: PermitsSettings | None = None) -> FastAPI:
    """Build the permits app; settings default to the environment."""
    return build_app(
        settings or PermitsSettings(),
        title="devzones permits",
        description="The approval bureau's single window: intake, internal routing, working-day clock, one reply.",
        routers=[router],
        lifespan_hook=_lifespan,
    )
