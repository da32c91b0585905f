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
from libs.domain.kernel.i18n import CONTENT_LANGUAGE, Lang, Text, current_lang, localise, negotiate
from services.common.ratelimit import EXEMPT_PATHS
from services.common.validation_messages import validation_errors

PROBLEM_JSON = "application/problem+json"
log = structlog.get_logger("devzones.problems")


def request_lang(request: Request | None) -> Lang:
    """The language a problem for ``request`` is written in (docs/api-conventions.md#languages)."""
    if request is None:
        return current_lang()
    return negotiate(request.headers.get("accept-language"))


def problem_response(
    status: int,
    *,
    code: str,
    title: str | Text | None = None,
    detail: str | Text | None = None,
    type_: str = "about:blank",
    instance: str | None = None,
    headers: dict[str, str] | None = None,
    lang: Lang | None = None,
    **extra: Any,
) -> JSONResponse:
    """Build an ``application/problem+json`` response in ``lang`` (default: the current request's).

    Every :class:`Text` in it (title, detail, anything in ``extra``) is written in that language;
    ``code`` is the stable machine-readable code, and each of ``errors`` gets its own ``code``."""
    lang = lang or current_lang()
    body: dict[str, Any] = {
        "type": type_,
        "title": title or HTTPStatus(status).phrase,
        "status": status,
    }
    if detail is not None:
        body["detail"] = detail
    if instance is not None:
        body["instance"] = instance
    body["code"] = code
    body.update(extra)
    if isinstance(body.get("errors"), list):
        body["errors"] = [_with_code(e) for e in body["errors"]]
    all_headers = {"Content-Language": CONTENT_LANGUAGE[lang], "Vary": "Accept-Language", **(headers or {})}
    return JSONResponse(
        jsonable_encoder(localise(body, lang)), status_code=status, media_type=PROBLEM_JSON, headers=all_headers
    )


def _with_code(error: Any) -> Any:
    if isinstance(error, dict) and "code" not in error:
        return {**error, "code": error.get("type", "invalid")}
    return error


async def _domain_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, DomainError)
    headers = {"WWW-Authenticate": 'Bearer realm="devzones"'} if exc.status == 401 else None
    return problem_response(
        exc.status,
        code=exc.code,
        title=exc.title,
        detail=exc.detail,
        type_=exc.type_uri,
        instance=request.url.path,
        headers=headers,
        lang=request_lang(request),
        **exc.extra,
    )


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = validation_errors(exc.errors())
    fields = ", ".join(".".join(str(p) for p in e["loc"]) for e in errors[:10])
    return problem_response(
        422,
        code="validation_failed",
        title=Text("请求校验未通过", "Request validation failed"),
        detail=Text(f"{len(errors)} 处字段无效：{fields}", f"{len(errors)} invalid field(s): {fields}"),
        type_="urn:devzones:problem:validation",
        instance=request.url.path,
        lang=request_lang(request),
        errors=errors,
    )


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    given = exc.detail if isinstance(exc.detail, str) else None
    code, title, detail = _HTTP_TEXTS.get(exc.status_code, (HTTPStatus(exc.status_code).name.lower(), None, None))
    path = request.url.path
    if exc.status_code == 404 and given == "Not Found":
        detail = Text(f"没有与 {path} 对应的接口", f"no route matches {path}")
    elif exc.status_code == 405:
        detail = Text(f"{path} 不接受 {request.method} 方法", f"method {request.method} is not allowed on {path}")
    elif exc.status_code == 400:
        detail = Text("无法读取请求内容（不是 UTF-8 文本，或表单无法解析）", given or "the request body cannot be read")
    elif exc.status_code == 413:
        detail = Text("请求内容超过本服务的大小上限", given or "the request body exceeds the limit")
    elif given is not None:
        detail = given
    return problem_response(
        exc.status_code,
        code=code,
        title=title,
        detail=detail,
        instance=path,
        headers=getattr(exc, "headers", None),
        lang=request_lang(request),
    )


_HTTP_TEXTS: dict[int, tuple[str, Text | None, str | Text | None]] = {
    400: ("bad_request", Text("请求无法读取", "Bad Request"), None),
    404: ("no_route", Text("未找到", "Not Found"), None),
    405: ("method_not_allowed", Text("不允许的方法", "Method Not Allowed"), None),
    413: ("payload_too_large", Text("请求内容过大", "Payload too large"), None),
}
"""The stable code and the title of the HTTP errors Starlette raises itself."""


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
            code="value_out_of_range",
            title=Text("请求中的某个值无法保存或比较", "A value in this request cannot be stored or compared"),
            detail=Text(
                "某个数值超出范围，或某段文字含有数据库不接受的字符（如 NUL）；请更正后重试",
                "a number is out of range or a text contains a character the database refuses "
                "(such as NUL); correct the value and retry",
            ),
            type_="urn:devzones:problem:value-out-of-range",
            instance=request.url.path,
            lang=request_lang(request),
        )
    if _database_unreachable(exc):
        log.warning("database_unreachable", path=request.url.path, error_type=type(exc).__name__)
        return problem_response(
            503,
            code="database_unavailable",
            title=Text("本请求所需的服务暂不可用", "A service this request needs is unavailable"),
            detail=Text("数据库暂时无法连接，请稍后重试", "the database cannot be reached; retry later"),
            type_="urn:devzones:problem:upstream-unavailable",
            instance=request.url.path,
            lang=request_lang(request),
            service="database",
        )
    # Never leak a stack trace, SQL or parameters: log them, answer generically.
    log.exception("unhandled_exception", path=request.url.path, error_type=type(exc).__name__)
    return problem_response(
        500,
        code="internal_error",
        title=Text("服务器内部错误", "Internal server error"),
        detail=Text(
            "服务器未能处理本请求，已连同请求编号记入日志",
            "The server failed to handle this request; it has been logged with the request id.",
        ),
        instance=request.url.path,
        lang=request_lang(request),
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
                _only_what_can_happen(operation, rate_limited=path not in EXEMPT_PATHS)
        for unused in ("HTTPValidationError", "ValidationError"):
            if unused not in json.dumps(spec.get("paths", {})):
                schemas.pop(unused, None)
        app.openapi_schema = spec
        return spec

    app.openapi = openapi  # type: ignore[method-assign]


def _only_what_can_happen(operation: dict[str, Any], *, rate_limited: bool) -> None:
    """Drop the shared statuses an operation cannot answer: 422 when it reads no parameter and
    no body (``/healthz``), 429 on the probes, which the rate limit exempts."""
    responses: dict[str, Any] = operation.get("responses", {})
    if not operation.get("parameters") and "requestBody" not in operation:
        responses.pop("422", None)
    if not rate_limited:
        responses.pop("429", None)


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
