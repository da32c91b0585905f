"""``GET /v1/audit``: the audit log of a service's writes (:mod:`services.common.audit`), read-only
for ``city_admin``, registered by :func:`services.common.app.build_app` so every service has the same route."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from libs.domain.kernel.contracts import Actor, AuditEntry, Page
from libs.domain.kernel.values import Role
from services.common.audit import AuditLogColumns
from services.common.auth import require
from services.common.db import SessionDep
from services.common.openapi_info import Tag
from services.common.pagination import DEFAULT_LIMIT, CursorParam, LimitParam, encode_cursor, int_cursor
from services.common.problems import problems

CityAdmin = Annotated[Actor, Depends(require(Role.CITY_ADMIN))]
"""The audit log is the city's: only a city_admin reads it."""

AUDIT_TAG = Tag(
    name="audit",
    description="审计日志：每次写入由谁（令牌的主体、签发方、客户端）经哪个请求完成，仅市级管理员可读 "
    "(the audit log: who made each write, by the token's subject, issuer and client, through which "
    "request; city_admin only).",
)
"""The tag of ``GET /v1/audit``, the same in every service."""


def audit_router(model: type[AuditLogColumns]) -> APIRouter:
    """``GET /v1/audit`` over the service's ``audit_log`` table ``model``: the same route in every service."""
    router = APIRouter(prefix="/v1", tags=[AUDIT_TAG["name"]])

    @router.get(
        "/audit",
        operation_id="listAuditEntries",
        response_model=Page[AuditEntry],
        summary="审计日志：本服务的每次写入，最新的在前 (the audit log of this service's writes, newest first)",
        description=(
            "每个写入事务提交时，在同一事务中记下一条：时间、请求编号、方法、路由模板，以及令牌的 "
            "`sub`、签发方 `iss` 与客户端 `azp`/`client_id`，据此可区分县级系统的推送与个人的操作。"
            "只读，仅市级管理员可用。 (One entry per committed write transaction, written in that "
            "transaction: when, the request id, method and route template, and the token's subject, "
            "issuer and client, which tell a county system's push from a person's action. Read-only, "
            "city_admin only.)"
        ),
        responses=problems(401, 403, 422),
    )
    async def list_audit_entries(
        session: SessionDep,
        _actor: CityAdmin,
        sub: Annotated[
            str | None, Query(max_length=200, description="只看此主体的写入 (only this subject's writes).")
        ] = None,
        client_id: Annotated[
            str | None, Query(max_length=200, description="只看此客户端的写入 (only writes by this client).")
        ] = None,
        since: Annotated[
            datetime | None,
            Query(
                description="只看此时刻及之后的写入，无时区时按 UTC "
                "(only writes at or after this moment; UTC without an offset)."
            ),
        ] = None,
        limit: LimitParam = DEFAULT_LIMIT,
        cursor: CursorParam = None,
    ) -> Page[AuditEntry]:
        return await entries(session, model, sub=sub, client_id=client_id, since=since, limit=limit, cursor=cursor)

    return router


async def entries(
    session: AsyncSession,
    model: type[AuditLogColumns],
    *,
    sub: str | None,
    client_id: str | None,
    since: datetime | None,
    limit: int,
    cursor: str | None,
) -> Page[AuditEntry]:
    """A page of the audit log, newest first (keyset on the entry's number)."""
    after = int_cursor(cursor)
    m: Any = model
    q = select(m).order_by(m.id.desc()).limit(limit + 1)
    if after is not None:
        q = q.where(m.id < after)
    if sub is not None:
        q = q.where(m.sub == sub)
    if client_id is not None:
        q = q.where(m.client_id == client_id)
    if since is not None:
        q = q.where(m.at >= (since if since.tzinfo is not None else since.replace(tzinfo=UTC)))
    rows = list((await session.scalars(q)).all())
    more = len(rows) > limit
    rows = rows[:limit]
    return Page[AuditEntry](
        items=[_read(r) for r in rows], next_cursor=encode_cursor(rows[-1].id) if more and rows else None
    )


def _read(row: Any) -> AuditEntry:
    return AuditEntry(
        id=row.id,
        at=row.at,
        request_id=row.request_id,
        method=row.method,
        route=row.route,
        sub=row.sub,
        issuer=row.issuer,
        client_id=row.client_id,
    )
