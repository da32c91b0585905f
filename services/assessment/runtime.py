"""The assessment service's runtime: what its app holds while it runs, typed."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated

from fastapi import Depends, FastAPI

from services.assessment.runs.commands import utc_now
from services.assessment.tables import IdempotencyKey
from services.common.idempotency import Idempotency
from services.common.runtime import Runtime, runtime_dependency, runtime_of
from services.common.settings import AssessmentSettings


@dataclass(eq=False)
class AssessmentRuntime(Runtime):
    """The common parts, the assessment settings, and the Idempotency-Key policy of run creation
    (made in the lifespan, over the service's own ``idempotency_key`` table)."""

    settings: AssessmentSettings
    idempotency: Idempotency = field(init=False)
    clock: Callable[[], datetime] = utc_now
    """Now (UTC): when a run is stored, and which periods have ended (China's date). Tests set it."""


RuntimeDep = Annotated[AssessmentRuntime, Depends(runtime_dependency(AssessmentRuntime))]


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Make the parts that need the database (opened by the common lifespan before this runs)."""
    runtime = runtime_of(app, AssessmentRuntime)
    runtime.idempotency = Idempotency(runtime.db, IdempotencyKey)
    yield
