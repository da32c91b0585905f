"""Hot routes: a few endpoints under heavy load answered without FastAPI's routing and dependency
solving.

A hot route is still an ordinary FastAPI route: it is declared, documented in the OpenAPI and
served by FastAPI like any other. Its handler is registered here as well, and
:class:`HotRoutesMiddleware` sends a request whose method and path match it straight to that
handler. The handler parses the body with the same pydantic model the route declares
(:func:`json_body`), checks the caller itself, and calls the same use case as the route, so the
two paths answer alike; ``tests/permits/test_hot_intake.py`` holds them to that.

What it saves is the per-request cost of FastAPI's machinery — route matching across every route,
dependency solving, the exception and exit-stack layers, re-validating the answer — which for a
cheap endpoint costs more than the endpoint's own work (the permits intake benchmark,
``bench/bench_permits.py``). The middleware sits inside the request-context middleware and CORS,
so request ids, the access log, metrics, the rate limit, the body limit and CORS headers apply
unchanged; errors become the same RFC 9457 problems (:func:`services.common.problems.problem_for`).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import TypeVar

from fastapi import HTTPException, Request, Response
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, TypeAdapter, ValidationError
from starlette.types import ASGIApp, Receive, Scope, Send

from services.common.paths import route_path
from services.common.problems import problem_for

Model = TypeVar("Model", bound=BaseModel)
T = TypeVar("T")

Handler = Callable[[Request], Awaitable[Response]]


@dataclass(frozen=True, slots=True)
class HotRoute:
    """A handler for one method and path (``path`` is what metrics and logs name the route by)."""

    method: str
    path: str
    handle: Handler


def _located(where: tuple[str | int, ...], exc: ValidationError) -> RequestValidationError:
    """The validation error FastAPI would raise, each fault located under ``where``."""
    return RequestValidationError(
        [
            {"type": e["type"], "loc": (*where, *e["loc"]), "msg": e["msg"], "input": e.get("input")}
            for e in exc.errors(include_url=False)
        ]
    )


def _json_media_type(content_type: str) -> bool:
    media = content_type.split(";", 1)[0].strip().lower()
    main, _, sub = media.partition("/")
    return main == "application" and (sub == "json" or sub.endswith("+json"))


def json_body(model: type[Model], request: Request, raw: bytes) -> Model:
    """The request body as ``model``, read as FastAPI reads a declared body: JSON only when the
    content type says JSON (no content type: the raw bytes, which fail validation), decoded by the
    standard library, validated in Python mode; every fault a 422 problem located under ``body``."""
    if not raw:
        raise RequestValidationError([{"type": "missing", "loc": ("body",), "msg": "Field required", "input": None}])
    value: object = raw
    content_type = request.headers.get("content-type")
    if content_type and _json_media_type(content_type):
        try:
            value = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise RequestValidationError(
                [
                    {
                        "type": "json_invalid",
                        "loc": ("body", exc.pos),
                        "msg": "JSON decode error",
                        "input": {},
                        "ctx": {"error": exc.msg},
                    }
                ]
            ) from None
        except ValueError:  # not text at all (bytes that are not UTF-8): as FastAPI answers it
            raise HTTPException(status_code=400, detail="There was an error parsing the body") from None
    try:
        return model.model_validate(value, from_attributes=True)  # as FastAPI validates a body
    except ValidationError as exc:
        raise _located(("body",), exc) from None


def header(request: Request, name: str, adapter: TypeAdapter[T]) -> T | None:
    """The header ``name`` validated by ``adapter`` (``None`` when absent; 422 problem if invalid)."""
    value = request.headers.get(name)
    if value is None:
        return None
    try:
        return adapter.validate_python(value)
    except ValidationError as exc:
        raise _located(("header", name), exc) from None


class HotRoutesMiddleware:
    """Answers the requests of registered hot routes directly; passes everything else on."""

    def __init__(self, app: ASGIApp, *, routes: Mapping[tuple[str, str], HotRoute]) -> None:
        self.app = app
        self.routes = routes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        route = self.routes.get((scope.get("method", ""), route_path(scope))) if scope["type"] == "http" else None
        if route is None:
            await self.app(scope, receive, send)
            return
        scope["route"] = route
        request = Request(scope, receive)
        try:
            response = await route.handle(request)
        except Exception as exc:  # noqa: BLE001 - every error is answered as the app's handlers would
            response = await problem_for(request, exc)
        await response(scope, receive, send)


def hot_routes(*routes: HotRoute) -> dict[tuple[str, str], HotRoute]:
    """The routes keyed by method and path."""
    return {(r.method, r.path): r for r in routes}


__all__ = ["HotRoute", "HotRoutesMiddleware", "header", "hot_routes", "json_body"]
