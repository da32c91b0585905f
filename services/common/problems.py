"""RFC 9457 problem details for every error a service returns."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Collection
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


PROBLEM_SCHEMA_REF = "#/components/schemas/Problem"


def problems(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses=`` entries declaring problem+json answers for ``codes``.

    The schema is a reference, not a ``model``: FastAPI files a ``model`` under the route's own
    media type (``application/json``), which no error is ever sent as. :func:`document_problems`
    puts ``Problem`` in the components."""
    return {
        code: {
            "description": _DESCRIPTIONS.get(code, HTTPStatus(code).phrase),
            "content": {PROBLEM_JSON: {"schema": {"$ref": PROBLEM_SCHEMA_REF}}},
        }
        for code in codes
    }


BODY_PROBLEMS = (400, 413)
"""What any operation that reads a body may answer before its own code runs: 400 when the body
cannot be read at all (bytes that are not UTF-8 text, a broken multipart form), 413 when it is
over the service's limit (:class:`~services.common.middleware.RequestContextMiddleware`)."""


def document_problems(app: FastAPI, *, without_database: Collection[str] = ()) -> None:
    """Make the app's OpenAPI tell the truth about its errors (done once, where the document is built).

    - ``Problem`` and ``ProblemError`` are components, referenced by every error response;
    - every error response is ``application/problem+json`` only (FastAPI's default 422
      ``HTTPValidationError``, should a route get it, is replaced by the problem);
    - every operation with a request body documents 400 and 413 (:data:`BODY_PROBLEMS`);
    - every operation that takes an ``Idempotency-Key`` documents 409 (the same key still in flight);
    - every operation but those on the paths ``without_database`` documents 503: any of them can
      meet a database that is down (:func:`_unexpected`)."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        spec = build()
        schemas = spec.setdefault("components", {}).setdefault("schemas", {})
        problem = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
        schemas.update(problem.pop("$defs", {}))
        schemas["Problem"] = problem
        for path, item in spec.get("paths", {}).items():
            for operation in item.values():
                _truthful_errors(operation, database=path not in without_database)
        for unused in ("HTTPValidationError", "ValidationError"):
            if unused not in json.dumps(spec.get("paths", {})):
                schemas.pop(unused, None)
        app.openapi_schema = spec
        return spec

    app.openapi = openapi  # type: ignore[method-assign]


def _truthful_errors(operation: dict[str, Any], *, database: bool) -> None:
    responses: dict[str, Any] = operation.setdefault("responses", {})
    headers = {p["name"].lower() for p in operation.get("parameters", ()) if p.get("in") == "header"}
    implied = [
        *(BODY_PROBLEMS if "requestBody" in operation else ()),
        *((409,) if "idempotency-key" in headers else ()),
        *((503,) if database else ()),
    ]
    for code, entry in problems(*implied).items():
        responses.setdefault(str(code), entry)
    for code, response in responses.items():
        if code[0] in "45":
            content = response.setdefault("content", {})
            content.clear()
            content[PROBLEM_JSON] = {"schema": {"$ref": PROBLEM_SCHEMA_REF}}
