"""The permits service's app factory."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from fastapi import FastAPI

from libs.domain.kernel.calendar import official_calendar
from services.common.app import build_app
from services.common.idempotency import Idempotency
from services.common.runtime import runtime_of
from services.common.settings import PermitsSettings
from services.permits.cache import CacheSettings, ReadCache
from services.permits.calendar.api import router as calendar_router
from services.permits.calendar.service import calendar
from services.permits.cases.api import router as cases_router
from services.permits.cases.fast_paths.group_commit import IntakeWriter
from services.permits.cases.intake_api import HOT_ROUTES
from services.permits.cases.intake_api import router as intake_router
from services.permits.catalog.api import router as catalog_router
from services.permits.deadlines_recompute import recompute_deadlines
from services.permits.files.api import router as files_router
from services.permits.runtime import PermitsRuntime
from services.permits.supervision.api import router as supervision_router
from services.permits.tables import IdempotencyKey
from services.permits.tasks.api import router as tasks_router
from services.permits.webhooks.api import router as webhooks_router
from services.permits.workers import Workers, WorkerSettings


def create_app(settings: PermitsSettings | None = None, workers: WorkerSettings | None = None) -> FastAPI:
    """Build the permits app; settings default to the environment.

    The lifespan loads the official calendar, then starts the overdue sweeper and the outbox
    dispatcher (``PERMITS_SWEEP_INTERVAL_SECONDS``, ``PERMITS_DISPATCH_INTERVAL_SECONDS``,
    ``PERMITS_WORKERS_ENABLED``).
    """
    settings = settings or PermitsSettings()
    worker_settings = workers or WorkerSettings()
    # In the test environment the jobs run only when asked for: tests drive them directly.
    enabled = worker_settings.workers_enabled
    if enabled is None:
        enabled = settings.env != "test"

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        runtime = runtime_of(app, PermitsRuntime)
        runtime.official_calendar = official_calendar()
        runtime.zone_cache = {}
        db = runtime.db
        runtime.idempotency = Idempotency(db, IdempotencyKey)
        # Group commit is for PostgreSQL; without it each intake writes in its own transaction.
        writer = IntakeWriter(db.engine) if settings.group_commit and not db.sqlite else None
        runtime.intake_writer = writer
        background = Workers(runtime, worker_settings, enabled=enabled)
        runtime.workers = background
        await background.startup()
        background.start()
        if writer is not None:
            writer.start()
        try:
            yield
        finally:
            if writer is not None:
                await writer.stop()
            await background.stop()

    app = build_app(
        settings,
        title="devzones permits",
        description="The approval bureau's single window: intake, internal routing, working-day clock, one reply.",
        # Routes are matched in this order (no two routes of the service overlap): the cases, with
        # the intake, first.
        routers=[
            intake_router,
            cases_router,
            calendar_router,
            catalog_router,
            files_router,
            tasks_router,
            supervision_router,
            webhooks_router,
        ],
        lifespan_hook=lifespan,
        hot=HOT_ROUTES if settings.hot_intake else (),
        runtime=PermitsRuntime,
    )
    runtime = runtime_of(app, PermitsRuntime)
    runtime.read_cache = ReadCache(CacheSettings().cache_seconds, load_calendar=calendar)
    runtime.recompute_deadlines = recompute_deadlines
    return app
