"""A webhook receiver for the permits tests: a real HTTP server on a free port that records deliveries."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tests.helpers import free_port


class Receiver:
    """Collects deliveries; answers 500 to the first ``fail`` of them."""

    def __init__(self, fail: int = 0) -> None:
        self.fail = fail
        self.received: list[tuple[dict[str, str], bytes]] = []
        self.queries: list[tuple[str, bytes]] = []
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/hook"

    async def endpoint(self, request: Request) -> Response:
        body = await request.body()
        self.received.append((dict(request.headers), body))
        self.queries.append((request.url.query, body))
        if self.fail > 0:
            self.fail -= 1
            return Response("busy", status_code=500)
        return Response(status_code=204)

    def events(self) -> list[dict[str, Any]]:
        return [json.loads(b) for _, b in self.received]


@contextlib.asynccontextmanager
async def receiver(fail: int = 0) -> AsyncIterator[Receiver]:
    r = Receiver(fail)
    app = Starlette(routes=[Route("/hook", r.endpoint, methods=["POST"])])
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=r.port, log_level="error", lifespan="off"))
    task = asyncio.create_task(server.serve())
    for _ in range(200):
        if server.started:
            break
        await asyncio.sleep(0.02)
    try:
        yield r
    finally:
        server.should_exit = True
        await task
