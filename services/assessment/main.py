"""The assessment service's app factory."""

from __future__ import annotations

from fastapi import FastAPI

from services.assessment.api import router
from services.assessment.runtime import AssessmentRuntime, lifespan
from services.common.app import build_app
from services.common.settings import AssessmentSettings


def create_app(settings: AssessmentSettings | None = None) -> FastAPI:
    """Build the assessment app; settings default to the environment."""
    return build_app(
        settings or AssessmentSettings(),
        title="devzones assessment",
        description="One published ruler: methodologies, reproducible rankings, bulletins, rewards and warnings.",
        routers=[router],
        lifespan_hook=lifespan,
        runtime=AssessmentRuntime,
    )
