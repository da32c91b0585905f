"""The metrics service's app factory."""

from __future__ import annotations

from fastapi import FastAPI

from services.common.app import build_app
from services.common.settings import MetricsSettings
from services.metrics.api import router


def create_app(settings: MetricsSettings | None = None) -> FastAPI:
    """Build the metrics app; settings default to the environment."""
    return build_app(
        settings or MetricsSettings(),
        title="devzones metrics",
        description="Indicator catalog and zone statistics pushed by county systems: attributable, versioned, checked.",
        routers=[router],
    )
