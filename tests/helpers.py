"""Helpers shared by tests: problem assertions, a TCP proxy to simulate a database outage, free ports,
an app served over real HTTP."""

from __future__ import annotations

import asyncio
import contextlib
import random
import socket
from collections.abc import AsyncIterator
from typing import Any

import httpx
import uvicorn
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from services.common.db import make_engine

PROBLEM = "application/problem+json"


def assert_problem(response: httpx.Response, status: int) -> dict[str, Any]:
    """The response is an RFC 9457 problem with ``status``; returns its body."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert body["title"]
    assert "type" in body
    return body


@contextlib.asynccontextmanager
async def engine_at(url: str) -> AsyncIterator[AsyncEngine]:
    """An engine for ``url``, disposed on the way out (a migration test opens one per schema version)."""
    engine = make_engine(url)
    try:
        yield engine
    finally:
        await engine.dispose()


async def fetch(url: str, sql: str) -> list[Any]:
    """The rows ``sql`` answers at ``url``, through an engine of its own."""
    async with engine_at(url) as engine, engine.connect() as conn:
        return list((await conn.execute(text(sql))).all())


def free_port() -> int:
    """A port free right now, for a server started a moment later (see :func:`free_port_base`)."""
    return free_port_base(1)


@contextlib.asynccontextmanager
async def serving(app: Any) -> AsyncIterator[str]:
    """``app`` served by uvicorn on 127.0.0.1 in the test's event loop, for a client in another app that
    must talk real HTTP to it; yields its base URL. The app's lifespan is the caller's (``app_client``)."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error", lifespan="off"))
    task = asyncio.create_task(server.serve())
    for _ in range(500):
        if server.started or task.done():
            break
        await asyncio.sleep(0.01)
    if not server.started:
        server.should_exit = True
        await task
        raise AssertionError(f"uvicorn did not start on port {port}")
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


def _ephemeral_low() -> int:
    """The lowest port the kernel hands out to outgoing connections (Linux; 32768 elsewhere)."""
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def free_port_base(span: int = 5) -> int:
    """A base port such that base .. base+span-1 are free right now, below the ephemeral range.

    The servers that use them bind them later (``devzones up`` a few seconds later, after its
    migrations). A port in the ephemeral range could be taken meanwhile as the local end of any
    outgoing connection (the test's own clients, the services' database connections), which made
    the stack fail to start now and then ("address already in use"); below that range only a
    process binding it on purpose can."""
    rng = random.Random()
    high = _ephemeral_low() - span
    for _ in range(200):
        base = rng.randrange(10000, high)
        if all(_bindable(base + offset) for offset in range(span)):
            return base
    raise RuntimeError("no free port range")


def _bindable(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


class TcpProxy:
    """Forwards a local port to a target; ``stop()`` makes the target unreachable."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.port = free_port()
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", self.port, reuse_address=True)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        for w in list(self._writers):
            w.close()
        self._writers.clear()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.close()
            return
        self._writers.update({writer, up_writer})

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            with contextlib.suppress(Exception):
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            with contextlib.suppress(Exception):
                dst.close()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))
        self._writers.discard(writer)
        self._writers.discard(up_writer)
