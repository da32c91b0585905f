"""The app factory every service builds on: lifespan, errors, middleware, health, metrics."""

from __future__ import annotations

import contextlib
import gc
from collections.abc import AsyncIterator, Callable, Sequence

import httpx
import structlog
from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.middleware.cors import CORSMiddleware
from fastapi.routing import APIRoute
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from libs.domain.kernel.contracts import Health, Readiness
from libs.domain.kernel.errors import UpstreamUnavailable
from libs.domain.kernel.i18n import Text
from services.common.audit import AuditLogColumns
from services.common.audit_api import AUDIT_TAG, audit_router
from services.common.auth import PUBLIC
from services.common.db import Database
from services.common.docs import install_docs
from services.common.hot import HotRoute, HotRoutesMiddleware, hot_routes
from services.common.logging import configure_logging
from services.common.middleware import RequestContextMiddleware, RequestMetrics
from services.common.migrations import current_revision_async, head_revision
from services.common.oidc import OidcVerifier
from services.common.openapi_info import Tag, openapi_metadata
from services.common.problems import document_problems, install_problem_handlers, problems
from services.common.ratelimit import RateLimiter
from services.common.runtime import Runtime
from services.common.security import SHARED_SECRET_WARNING, signing_key
from services.common.settings import ServiceSettings

Hook = Callable[[FastAPI], contextlib.AbstractAsyncContextManager[None]]

GC_THRESHOLDS = (20_000, 20, 20)
"""Generation sizes of the cyclic garbage collector while a service runs. A large request (a
10,000-row push, a national assessment) allocates some 100,000 container objects that survive
until the response; with Python's default (700, 10, 10) that is ~150 young collections and a full
one per request, a quarter of its time. Almost nothing a request makes forms cycles (reference
counting frees it), so rarer collections cost little memory (peak RSS of the benchmarks unchanged)."""

CORS_REQUEST_HEADERS = (
    "Authorization",
    "Content-Type",
    "Idempotency-Key",
    "If-Match",
    "X-Request-ID",
    "Accept-Language",
)
"""The request headers a browser frontend may send beyond the CORS-safelisted ones."""
CORS_EXPOSED_HEADERS = ("Retry-After", "Content-Disposition", "ETag", "Location", "X-Request-ID", "Idempotent-Replayed")
"""The response headers a frontend's script may read: when to retry (429, 503), a download's file
name, the version for ``If-Match``, a created resource, the id to quote in a support call, a replay."""


def build_app(
    settings: ServiceSettings,
    *,
    title: str,
    description: str,
    routers: Sequence[APIRouter],
    lifespan_hook: Hook | None = None,
    tags: Sequence[Tag] = (),
    audit_log: type[AuditLogColumns],
    hot: Sequence[HotRoute] = (),
    runtime: type[Runtime] = Runtime,
) -> FastAPI:
    """Assemble a service: its routers plus everything every service shares.

    ``hot``: handlers of routes that skip FastAPI's routing and dependency solving (see
    :mod:`services.common.hot`); each must also be declared as a route of ``routers``.
    ``tags``: the service's OpenAPI tags with their descriptions (the probes' and the audit log's are added here).
    ``audit_log``: the service's ``audit_log`` table, which every committed write adds a row to
    (:mod:`services.common.audit`) and ``GET /v1/audit`` reads.
    ``runtime``: the service's :class:`~services.common.runtime.Runtime` class, made here and kept
    as ``app.state.runtime``."""
    configure_logging(level=settings.log_level, json=settings.log_json, stream=settings.log_stream)
    # With OIDC, tokens are verified against the identity provider's keys and no shared key is used;
    # without, signing_key refuses insecure keys outside development, before anything starts.
    verifier = OidcVerifier(settings) if settings.oidc_enabled else None
    key = "" if verifier is not None else signing_key(settings)
    if verifier is None and settings.env != "development":
        structlog.get_logger("devzones.security").warning(
            "shared_secret_in_production", service=settings.service, detail=SHARED_SECRET_WARNING
        )
    app = FastAPI(
        title=title,
        description=description,
        **openapi_metadata(settings, [*tags, AUDIT_TAG]),
        lifespan=_lifespan(settings, lifespan_hook),
        responses=problems(422, 429, 500),
        telemetry=None if settings.otel else {"tracing": False, "metrics": False, "logs": False},
        docs_url=None,  # FastAPI's pages load their assets from a CDN: install_docs serves ours
        redoc_url=None,
    )
    metrics = RequestMetrics(settings.service)
    app.state.runtime = runtime(settings=settings, signing_key=key, metrics=metrics, verifier=verifier)
    install_problem_handlers(app)
    document_problems(app, without_database={"/healthz"})
    _add_middleware(app, settings, key, metrics, hot, verifier)
    install_docs(app)
    app.include_router(_ops_router(settings.service))
    for router in routers:
        app.include_router(router)
    app.include_router(audit_router(audit_log))
    declared = {
        (m, r.path) for router in routers for r in router.routes if isinstance(r, APIRoute) for m in r.methods or ()
    }
    for h in hot:
        if (h.method, h.path) not in declared:
            raise ValueError(f"hot route {h.method} {h.path} is not declared by any router")
    return app


def _lifespan(settings: ServiceSettings, hook: Hook | None) -> Hook:
    """The lifespan every service shares: the database and the HTTP client on the runtime while the
    app runs, the service's own ``hook`` inside, the collector's thresholds while it runs."""

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        state: Runtime = app.state.runtime
        thresholds = gc.get_threshold()
        gc.set_threshold(*GC_THRESHOLDS)  # restored when the app stops
        db = Database.open(settings.resolved_database_url, pool_size=settings.db_pool_size)
        limits = httpx.Limits(max_connections=100, max_keepalive_connections=20)
        async with httpx.AsyncClient(limits=limits, timeout=settings.http_timeout_seconds) as http:
            state.db = db
            state.http = http
            if state.verifier is not None:
                await state.verifier.refresh()  # a failure is logged; /readyz says why until a fetch succeeds
            try:
                if hook is not None:
                    async with hook(app):
                        yield
                else:
                    yield
            finally:
                await db.close()
                gc.set_threshold(*thresholds)

    return lifespan


def _add_middleware(
    app: FastAPI,
    settings: ServiceSettings,
    key: str,
    metrics: RequestMetrics,
    hot: Sequence[HotRoute],
    verifier: OidcVerifier | None,
) -> None:
    """Hot routes innermost (inside the request context and CORS, like the routes they stand in
    for), then the request context (ids, logs, metrics, limits), then CORS outermost: the 429 and
    413 problems the request context answers itself must carry the CORS headers too, or a browser
    hides them (and their ``Retry-After``) from the frontend as a network error."""
    if hot:
        app.add_middleware(HotRoutesMiddleware, routes=hot_routes(*hot))
    app.add_middleware(
        RequestContextMiddleware,
        service=settings.service,
        max_body_bytes=settings.max_body_bytes,
        metrics=metrics,
        limiter=RateLimiter.from_settings(settings.rate_limit, key, settings.jwt_algorithm, verifier),
    )
    if settings.cors_origins:
        # No credentials: the APIs authenticate with a bearer token the frontend sends itself, never
        # with cookies, so a browser need not attach (and an allowed origin cannot ride on) any.
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_credentials=False,
            allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"],
            allow_headers=CORS_REQUEST_HEADERS,
            expose_headers=CORS_EXPOSED_HEADERS,
            max_age=600,
        )


def _ops_router(service: str) -> APIRouter:
    router = APIRouter(tags=["operations"])

    @router.get(
        "/healthz",
        operation_id="getHealth",
        response_model=Health,
        openapi_extra=PUBLIC,
        summary="Liveness: the process answers",
    )
    async def healthz() -> Health:
        return Health(service=service)

    @router.get(
        "/readyz",
        operation_id="getReadiness",
        response_model=Readiness,
        openapi_extra=PUBLIC,
        summary="Readiness: the database answers, its migrations are at head, the identity provider's keys are known",
        responses=problems(503),
    )
    async def readyz(request: Request) -> Readiness:
        verifier = request.app.state.runtime.verifier
        if verifier is not None and not verifier.ready:
            await verifier.refresh()  # at most one fetch per refetch interval
            if not verifier.ready:
                raise UpstreamUnavailable(
                    Text(
                        f"尚未取得身份提供方的签名密钥：{verifier.last_error}",
                        f"the identity provider's signing keys were never fetched: {verifier.last_error}",
                    ),
                    code="identity_provider_unavailable",
                    service="identity_provider",
                )
        db = request.app.state.runtime.db
        await db.ping()
        try:
            async with db.engine.connect() as conn:
                revision = await current_revision_async(conn)
        except Exception as exc:
            raise UpstreamUnavailable(
                Text(f"数据库无法连接：{type(exc).__name__}", f"database unreachable: {type(exc).__name__}"),
                code="database_unavailable",
                service="database",
            ) from exc
        head = head_revision(service)
        if revision != head:
            raise UpstreamUnavailable(
                Text(
                    f"数据库结构版本为 {revision or '无'}，应为 {head}：请运行 `devzones migrate {service}`",
                    f"database schema at {revision or 'none'}, expected {head}: run `devzones migrate {service}`",
                ),
                code="schema_not_at_head",
                service="database",
            )
        return Readiness(service=service, revision=revision)

    @router.get("/metrics", operation_id="getMetrics", include_in_schema=False)
    async def prometheus_metrics(request: Request) -> Response:
        return Response(generate_latest(request.app.state.runtime.metrics.registry), media_type=CONTENT_TYPE_LATEST)

    return router
