"""The assessment service's HTTP routes, gathered from its feature folders."""

from __future__ import annotations

from fastapi import APIRouter

from services.assessment.dependencies import metrics_client, registry_client
from services.assessment.methodologies.api import router as methodologies
from services.assessment.reports.api import router as reports
from services.assessment.runs.api import router as runs
from services.assessment.sanctions.api import router as sanctions

router = APIRouter()
for part in (methodologies, runs, sanctions, reports):
    router.include_router(part)

__all__ = ["metrics_client", "registry_client", "router"]
