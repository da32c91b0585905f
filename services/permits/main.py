"""The permits service's app factory."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from fastapi import FastAPI

from libs.domain.kernel.calendar import official_calendar
from services.common.app import build_app
from services.common.idempotency import Idempotency
from services.common.openapi_info import Tag
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
from services.permits.tables import AuditLog, IdempotencyKey
from services.permits.tasks.api import router as tasks_router
from services.permits.webhooks.api import router as webhooks_router
from services.permits.workers import Workers, WorkerSettings

TAGS: list[Tag] = [
    Tag(
        name="applications",
        description=(
            "申请：窗口收件、查询、补正材料、办件记录与告知 "
            "(applications: hand-in, reads, supplements, history and messages)."
        ),
    ),
    Tag(
        name="intake",
        description=(
            "受理：受理、一次性告知补正、不予受理 (intake: accept, one notice of everything missing, decline)."
        ),
    ),
    Tag(
        name="review",
        description=(
            "审查：部门任务、特别程序与延期 "
            "(review: departments' tasks, special procedures that stop the clock, the extension)."
        ),
    ),
    Tag(
        name="decision",
        description=("办结：统一反馈决定与好差评 (the decision issued at the window, and the applicant's rating)."),
    ),
    Tag(
        name="calendar",
        description=(
            "工作日历：法定节假日、调休与本局调整 (the official working-day calendar and the bureau's overrides)."
        ),
    ),
    Tag(
        name="catalog",
        description=(
            "事项目录：审批局、审批事项与权责清单 (zone bureaus, approval items and the public list of powers)."
        ),
    ),
    Tag(
        name="files",
        description=("材料文件：上传、元数据与下载 (material files: upload, metadata, download)."),
    ),
    Tag(
        name="supervision",
        description=("监督：超期预警与整改 (supervision: overdue escalations and rectifications)."),
    ),
    Tag(
        name="statistics",
        description=("统计：按事项与部门的办件统计（公开） (public figures per item and department)."),
    ),
    Tag(
        name="webhooks",
        description=("回调：案件状态变化的推送订阅 (webhooks: case state changes delivered at least once)."),
    ),
]
"""The OpenAPI tags of the service's routes, in the order the docs show them."""


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
        tags=TAGS,
        audit_log=AuditLog,
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
    if settings.today is not None:
        fixed = settings.today
        runtime.today = lambda: fixed
    return app
