"""One pure-ASGI middleware: request id, body-size limit, access log line, Prometheus metrics.

Pure ASGI rather than ``BaseHTTPMiddleware`` because it sits on every request's hot path.
"""

from __future__ import annotations

import os
import re
import time
from typing import Any

import structlog
from prometheus_client import CollectorRegistry, Counter, Histogram
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from libs.domain.clients.base import request_id_var
from libs.domain.kernel.i18n import Text, negotiate, reset_lang, use_lang
from services.common.audit import close_request, open_request
from services.common.paths import route_path
from services.common.problems import problem_response
from services.common.ratelimit import EXEMPT_PATHS, RateLimiter

_SAFE_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")
access_log = structlog.get_logger("devzones.access")


class RequestMetrics:
    """Prometheus instruments of one app, in a registry of its own (no global state)."""

    def __init__(self, service: str) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "http_requests_total", "HTTP requests", ["service", "method", "route", "status"], registry=self.registry
        )
        self.latency = Histogram(
            "http_request_duration_seconds",
            "HTTP request latency",
            ["service", "method", "route"],
            registry=self.registry,
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
        )
        self.service = service
        self._children: dict[tuple[str, str, int], tuple[Any, Any]] = {}

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        """Count a request and record its latency (the labelled series are looked up once each)."""
        key = (method, route, status)
        pair = self._children.get(key)
        if pair is None:
            pair = self._children[key] = (
                self.requests.labels(self.service, method, route, str(status)),
                self.latency.labels(self.service, method, route),
            )
        pair[0].inc()
        pair[1].observe(seconds)


def _vary_on_language(headers: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    """The headers with ``Accept-Language`` in ``Vary``: messages in an answer follow it."""
    out, found = [], False
    for key, value in headers:
        if key.lower() == b"vary" and not found:
            found = True
            if b"accept-language" not in value.lower():
                value = value + b", Accept-Language"
        out.append((key, value))
    if not found:
        out.append((b"vary", b"Accept-Language"))
    return out


class RequestContextMiddleware:
    """Assigns the request id, enforces the body limit, logs and measures each request."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        service: str,
        max_body_bytes: int,
        metrics: RequestMetrics,
        limiter: RateLimiter | None = None,
    ) -> None:
        self.app = app
        self.service = service
        self.max_body = max_body_bytes
        self.metrics = metrics
        self.limiter = limiter

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or ())
        given = headers.get(b"x-request-id", b"").decode("latin-1")
        request_id = given if _SAFE_ID.match(given) else os.urandom(16).hex()  # 128 random bits, as uuid4
        token = request_id_var.set(request_id)
        audit_token = open_request(request_id, scope)
        lang_token = use_lang(negotiate(headers.get(b"accept-language", b"").decode("latin-1")))
        structlog.contextvars.bind_contextvars(request_id=request_id, service=self.service)
        started = time.perf_counter()
        status = 500
        response_started = False

        async def send_wrapper(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                status = message["status"]
                response_started = True
                headers_out = _vary_on_language(message.get("headers", []))
                message["headers"] = [*headers_out, (b"x-request-id", request_id.encode())]
            await send(message)

        try:
            if self.limiter is not None and route_path(scope) not in EXEMPT_PATHS:
                client = await self.limiter.client(headers.get(b"authorization"), (scope.get("client") or ("", 0))[0])
                wait = await self.limiter.retry_after(client)
                if wait is not None:
                    response = problem_response(
                        429,
                        code="rate_limited",
                        title=Text("请求过于频繁", "Too many requests"),
                        detail=Text(
                            f"本客户端已超过请求频率上限，请 {wait} 秒后重试",
                            f"this client has exceeded its request rate; retry in {wait} s",
                        ),
                        type_="urn:devzones:problem:rate-limited",
                        instance=scope.get("path"),
                        headers={"Retry-After": str(wait)},
                        retry_after_seconds=wait,
                    )
                    await response(scope, receive, send_wrapper)
                    return
            length = headers.get(b"content-length")
            if length is not None and length.isdigit() and int(length) > self.max_body:
                response = problem_response(
                    413,
                    code="payload_too_large",
                    title=Text("请求内容过大", "Payload too large"),
                    detail=Text(
                        f"请求内容 {int(length)} 字节，超过上限 {self.max_body} 字节",
                        f"request body of {int(length)} bytes exceeds the limit of {self.max_body} bytes",
                    ),
                    instance=scope.get("path"),
                    limit_bytes=self.max_body,
                )
                await response(scope, receive, send_wrapper)
                return
            received = 0

            async def receive_limited() -> Message:
                nonlocal received
                message = await receive()
                if message["type"] == "http.request":
                    received += len(message.get("body", b""))
                    if received > self.max_body:
                        raise HTTPException(413, detail=f"request body exceeds the limit of {self.max_body} bytes")
                return message

            await self.app(scope, receive_limited, send_wrapper)
        finally:
            elapsed = time.perf_counter() - started
            route = getattr(scope.get("route"), "path", None) or "unmatched"
            method = scope.get("method", "")
            self.metrics.observe(method, route, status, elapsed)
            fields: dict[str, Any] = {
                "method": method,
                "path": scope.get("path"),
                "route": route,
                "status": status,
                "duration_ms": round(elapsed * 1000, 2),
                "client": (scope.get("client") or ("", 0))[0],
            }
            if not response_started:
                fields["aborted"] = True
            access_log.info("request", **fields)
            structlog.contextvars.unbind_contextvars("request_id", "service")
            request_id_var.reset(token)
            close_request(audit_token)
            reset_lang(lang_token)
