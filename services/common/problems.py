"""RFC 9457 problem details for every error a service returns."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from http import HTTPStatus
from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from libs.domain.kernel.contracts import Problem
from libs.domain.kernel.errors import DomainError

PROBLEM_JSON = "application/problem+json"
log = structlog.get_logger("devzones.problems")


def problem_response(
    status: int,
    *,
    title: str | None = None,
    detail: str | None = None,
    type_: str = "about:blank",
    instance: str | None = None,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    """Build an ``application/problem+json`` response."""
    body: dict[str, Any] = {
        "type": type_,
        "title": title or HTTPStatus(status).phrase,
        "status": status,
    }
    if detail is not None:
        body["detail"] = detail
    if instance is not None:
        body["instance"] = instance
    body.update(extra)
    return JSONResponse(jsonable_encoder(body), status_code=status, media_type=PROBLEM_JSON, headers=headers)


async def _domain_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, DomainError)
    headers = {"WWW-Authenticate": 'Bearer realm="devzones"'} if exc.status == 401 else None
    return problem_response(
        exc.status,
        title=exc.title,
        detail=exc.detail,
        type_=exc.type_uri,
        instance=request.url.path,
        headers=headers,
        **exc.extra,
    )


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [
        {"loc": list(e.get("loc", ())), "msg": str(e.get("msg", "")), "type": str(e.get("type", ""))}
        for e in exc.errors()
    ]
    fields = ", ".join(".".join(str(p) for p in e["loc"]) for e in errors[:10])
    return problem_response(
        422,
        title="Request validation failed",
        detail=f"{len(errors)} invalid field(s): {fields}",
        type_="urn:devzones:problem:validation",
        instance=request.url.path,
        errors=errors,
    )


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    detail = exc.detail if isinstance(exc.detail, str) else None
    if exc.status_code == 404 and detail == "Not Found":
        detail = f"no route matches {request.url.path}"
    if exc.status_code == 405:
        detail = f"method {request.method} is not allowed on {request.url.path}"
    return problem_response(
        exc.status_code, detail=detail, instance=request.url.path, headers=getattr(exc, "headers", None)
    )


def _database_unreachable(exc: Exception) -> bool:
    """True for failures to reach the database (as opposed to bugs or bad SQL)."""
    from sqlalchemy.exc import DBAPIError
    from sqlalchemy.exc import TimeoutError as PoolTimeout

    if isinstance(exc, PoolTimeout | ConnectionError | TimeoutError):
        return True
    if isinstance(exc, DBAPIError):
        if exc.connection_invalidated:
            return True
        orig = exc.orig
        name = type(orig).__name__ if orig is not None else ""
        cause = getattr(orig, "__cause__", None)
        return (
            isinstance(orig, OSError | ConnectionError)
            or isinstance(cause, OSError)
            or any(k in name for k in ("Connection", "CannotConnect", "InvalidCatalogName", "TooManyConnections"))
        )
    return False


def _value_out_of_range(exc: Exception) -> bool:
    """True when the database driver refused a value (SQLSTATE class 22, or an integer too wide).

    Routes validate their input; this is the safety net for a value that passed validation but
    cannot be stored or compared (an id beyond 64 bits, a NUL character in text on PostgreSQL).
    """
    from sqlalchemy.exc import DataError

    if isinstance(exc, OverflowError | DataError):
        return True
    orig = getattr(exc, "orig", None)
    sqlstate = getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)
    return isinstance(sqlstate, str) and sqlstate.startswith("22")


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    if _value_out_of_range(exc):
        log.warning("value_refused_by_database", path=request.url.path, error_type=type(exc).__name__)
        return problem_response(
            422,
            title="A value in this request cannot be stored or compared",
            detail="a number is out of range or a text contains a character the database refuses "
            "(such as NUL); correct the value and retry",
            type_="urn:devzones:problem:value-out-of-range",
            instance=request.url.path,
        )
    if _database_unreachable(exc):
        log.warning("database_unreachable", path=request.url.path, error_type=type(exc).__name__)
        return problem_response(
            503,
            title="A service this request needs is unavailable",
            detail="the database cannot be reached; retry later",
            type_="urn:devzones:problem:upstream-unavailable",
            instance=request.url.path,
            service="database",
        )
    # Never leak a stack trace, SQL or parameters: log them, answer generically.
    log.exception("unhandled_exception", path=request.url.path, error_type=type(exc).__name__)
    return problem_response(
        500,
        title="Internal server error",
        detail="The server failed to handle this request; it has been logged with the request id.",
        instance=request.url.path,
    )


_HANDLERS: tuple[tuple[type[Exception], Callable[[Request, Exception], Awaitable[JSONResponse]]], ...] = (
    (DomainError, _domain_error),
    (RequestValidationError, _validation_error),
    (StarletteHTTPException, _http_error),
    (Exception, _unexpected),
)
"""Which handler answers which error; the first that matches wins (the most specific first)."""


def install_problem_handlers(app: FastAPI) -> None:
    """Route every error a service can produce through a problem document."""
    for kind, handler in _HANDLERS:
        app.add_exception_handler(kind, handler)


async def problem_for(request: Request, exc: Exception) -> JSONResponse:
    """The problem document the app's handlers answer ``exc`` with, for code that runs outside
    FastAPI's exception handling (:mod:`services.common.hot`)."""
    for kind, handler in _HANDLERS:
        if isinstance(exc, kind):
            return await handler(request, exc)
    raise exc  # pragma: no cover - Exception matches everything


_DESCRIPTIONS = {
    400: "Bad request",
    401: "No or invalid bearer token",
    403: "The token lacks the role or scope this action needs",
    404: "Not found",
    409: "Not allowed in the current state",
    412: "Precondition failed",
    413: "Request body or batch too large",
    422: "Validation failed or a domain rule is broken; `errors` lists each fault",
    423: "Locked",
    429: "Too many requests from this client (see `Retry-After`)",
    502: "Another service answered unusably",
    503: "A service or database this request needs is unavailable",
}


def problems(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses=`` entries declaring problem+json answers for ``codes``."""
    return {
        code: {
            "model": Problem,
            "description": _DESCRIPTIONS.get(code, HTTPStatus(code).phrase),
            "content": {PROBLEM_JSON: {}},
        }
        for code in codes
    }
