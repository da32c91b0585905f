"""The registry service's app factory."""

from __future__ import annotations

from fastapi import FastAPI

from services.common.app import build_app
from services.common.settings import RegistrySettings
from services.registry.api import router


def create_app(settings: RegistrySettings | None = None) -> FastAPI:
    """Build the registry app; settings default to the environment."""
    return build_app(
        settings or RegistrySettings(),
        title="devzones registry",
        description="Development zones, divisions and their whole reorganisation history, as of any date.",
        routers=[router],
    )
