"""The typed state of a running service: one dataclass per service instead of ``app.state`` attributes.

:func:`services.common.app.build_app` makes the service's runtime (a subclass of
:class:`Runtime` declaring its own parts, defined in ``services/<name>/runtime.py``), keeps it as
``app.state.runtime``, and its lifespan fills in the parts that exist only while the app runs
(the database, the HTTP client; a service's own lifespan hook adds its own). Routes and
dependencies reach it through :func:`runtime_dependency`, typed as the service's class.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TypeVar

import httpx
from fastapi import FastAPI, Request

from services.common.db import Database
from services.common.middleware import RequestMetrics
from services.common.oidc import OidcVerifier
from services.common.settings import ServiceSettings


@dataclass(eq=False)
class Runtime:
    """What every service holds: its settings, token key (or, with OIDC, the verifier of the identity
    provider's tokens) and request metrics from the start; its database and HTTP client while it runs
    (set by the lifespan, absent before)."""

    settings: ServiceSettings
    signing_key: str
    metrics: RequestMetrics
    verifier: OidcVerifier | None = None
    db: Database = field(init=False)
    http: httpx.AsyncClient = field(init=False)


R = TypeVar("R", bound=Runtime)


def runtime_of(app: FastAPI, kind: type[R]) -> R:
    """The app's runtime, as the service's own class."""
    runtime = app.state.runtime
    if not isinstance(runtime, kind):
        raise TypeError(f"the app's runtime is a {type(runtime).__name__}, not a {kind.__name__}")
    return runtime


def runtime_dependency(kind: type[R]) -> Callable[[Request], Awaitable[R]]:
    """A FastAPI dependency giving the request's app runtime as ``kind``.

    A coroutine function on purpose: FastAPI runs a plain function dependency in a worker thread,
    a hand-over that costs more than the lookup itself on every request."""

    async def runtime(request: Request) -> R:
        return runtime_of(request.app, kind)

    return runtime
