"""The metrics service's app factory."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import structlog
from fastapi import FastAPI
from sqlalchemy.exc import DBAPIError, OperationalError, ProgrammingError

from libs.domain.metrics.contracts import ObservationBatch
from services.common.app import build_app
from services.common.idempotency import Idempotency
from services.common.openapi_info import Tag
from services.common.runtime import runtime_of
from services.common.settings import MetricsSettings
from services.metrics.api import router
from services.metrics.indicators.service import CatalogCache, seed_catalog
from services.metrics.jurisdiction import Jurisdiction
from services.metrics.runtime import MetricsRuntime
from services.metrics.tables import AuditLog, IdempotencyKey

log = structlog.get_logger("devzones.metrics")


TAGS: list[Tag] = [
    Tag(
        name="indicators",
        description=("指标目录：指标代码、中英文名称、单位、方向与公式，带版本 (the indicator catalog, versioned)."),
    ),
    Tag(
        name="observations",
        description=(
            "统计数据：县区系统推送、文件导入、模板、修订历史 "
            "(values pushed or imported by county systems, the template, revision history)."
        ),
    ),
    Tag(
        name="ledger",
        description=("电子台账：修订记录的哈希链校验 (the revision ledger's hash chain, verified)."),
    ),
    Tag(
        name="locks",
        description=("期别锁定：考评使用后锁定期别，不再接受修改 (period locks once an assessment uses a period)."),
    ),
    Tag(
        name="matrix",
        description=(
            "数据矩阵：某期全部开发区或区划的基础、存量与派生值 "
            "(every zone's or division's base, stock and derived values for a period)."
        ),
    ),
    Tag(
        name="quality",
        description=(
            "数据质量：报送完整性、质量发现与报送期限 (completeness, data-quality findings and reporting deadlines)."
        ),
    ),
]
"""The OpenAPI tags of the service's routes, in the order the docs show them."""


@contextlib.asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Create the registry and catalog caches and the key policy, and make sure the seed indicator
    catalog is present."""
    runtime = runtime_of(app, MetricsRuntime)
    runtime.jurisdiction = Jurisdiction()
    runtime.catalogs = CatalogCache()
    runtime.idempotency = Idempotency(runtime.db, IdempotencyKey)
    db = runtime.db
    try:
        async with db.sessions() as session:
            added = await seed_catalog(session=session)
            await session.commit()
        if added:
            log.info("indicator_catalog_seeded", added=added)
    except (OSError, DBAPIError, OperationalError, ProgrammingError) as exc:
        # Not migrated yet, or the database is down: /readyz says so; the seed runs at the next start.
        log.warning("indicator_catalog_not_seeded", error_type=type(exc).__name__)
    yield


def _with_batch_schema(app: FastAPI) -> None:
    """Add ObservationBatch (read by a dependency, not a body parameter) to the OpenAPI components."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        spec = build()
        schemas = spec.setdefault("components", {}).setdefault("schemas", {})
        batch = ObservationBatch.model_json_schema(ref_template="#/components/schemas/{model}")
        for name, schema in batch.pop("$defs", {}).items():
            schemas.setdefault(name, schema)
        schemas["ObservationBatch"] = batch
        app.openapi_schema = spec
        return spec

    app.openapi = openapi  # type: ignore[method-assign]


def create_app(settings: MetricsSettings | None = None) -> FastAPI:
    """Build the metrics app; settings default to the environment."""
    app = build_app(
        settings or MetricsSettings(),
        title="devzones metrics",
        description="Indicator catalog and zone statistics pushed by county systems: attributable, versioned, checked.",
        tags=TAGS,
        audit_log=AuditLog,
        routers=[router],
        lifespan_hook=_lifespan,
        runtime=MetricsRuntime,
    )
    _with_batch_schema(app)
    return app
