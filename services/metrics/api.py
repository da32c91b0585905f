"""The metrics service's HTTP routes: one router gathering the features' routers."""

from __future__ import annotations

from fastapi import APIRouter

from services.metrics.analysis.api import router as analysis_router
from services.metrics.indicators.api import router as indicators_router
from services.metrics.ledger.api import router as ledger_router
from services.metrics.observations.api import router as observations_router

router = APIRouter()
for feature in (indicators_router, observations_router, ledger_router, analysis_router):
    router.include_router(feature)
