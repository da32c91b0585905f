"""The registry service's app factory."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from fastapi import FastAPI

from services.common.app import build_app
from services.common.idempotency import Idempotency
from services.common.openapi_info import Tag
from services.common.runtime import runtime_of
from services.common.settings import RegistrySettings
from services.registry.api import router
from services.registry.conversions import zone_read
from services.registry.fast_paths.index_reads import IndexZoneReads
from services.registry.readmodel import ReadModel
from services.registry.runtime import RegistryRuntime
from services.registry.tables import AuditLog, IdempotencyKey
from services.registry.zone_reads import SqlZoneReads

TAGS: list[Tag] = [
    Tag(
        name="zones",
        description=(
            "开发区：按日期查询在册开发区、计数、名称解析、沿革与谱系 "
            "(zones in force on a date, counts, name look-ups, history and lineage)."
        ),
    ),
    Tag(
        name="reorganisations",
        description=(
            "整合调整：设立、合并、更名、挂牌、托管、撤销等法定文件，全部生效或全部不生效，只可撤回不可删除 "
            "(legal acts of reorganisation: all operations or none; annulled, never erased)."
        ),
    ),
    Tag(
        name="divisions",
        description=(
            "行政区划：区划代码及其变更，各区划管辖或承载的开发区 "
            "(divisions, their code changes, and the zones each administers or hosts)."
        ),
    ),
    Tag(
        name="compliance",
        description=(
            "合规检查：按政策规则给出的发现，仅提示不拒绝 (findings against the policy's rules; never refusals)."
        ),
    ),
    Tag(
        name="changes",
        description=("变更流：供其他服务同步缓存的有序变更记录 (the ordered change feed other services follow)."),
    ),
]
"""The OpenAPI tags of the service's routes, in the order the docs show them."""


@contextlib.asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    runtime = runtime_of(app, RegistryRuntime)
    runtime.idempotency = Idempotency(runtime.db, IdempotencyKey)
    runtime.sql_reads = SqlZoneReads(runtime.db)
    if not runtime.settings.memory_index:  # every read from SQL; writes have no index to tell
        runtime.readmodel = None
        yield
        return
    model = ReadModel(runtime.db, zone_read, IndexZoneReads)
    runtime.readmodel = model
    await model.start()
    try:
        yield
    finally:
        await model.stop()


def create_app(settings: RegistrySettings | None = None) -> FastAPI:
    """Build the registry app; settings default to the environment."""
    return build_app(
        settings or RegistrySettings(),
        title="devzones registry",
        description="Development zones, divisions and their whole reorganisation history, as of any date.",
        tags=TAGS,
        audit_log=AuditLog,
        routers=[router],
        lifespan_hook=_lifespan,
        runtime=RegistryRuntime,
    )
