"""A lean HTTP/1.1 keep-alive GET load generator for loopback benchmarks.

httpx costs more CPU per request than a small FastAPI endpoint does, so on a two-core
machine it would saturate before the server and flatten every ratio towards 1. This
client writes bare requests on persistent connections and reads ``Content-Length``
bodies, which leaves most of the CPU to the server under test. It talks only to
127.0.0.1 and stops after ``total`` requests or ``max_seconds``.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from urllib.parse import urlsplit

from bench.harness import LoadResult


def load_raw(
    name: str,
    base_url: str,
    path_for: Callable[[int], str],
    *,
    total: int,
    concurrency: int = 16,
    headers: dict[str, str] | None = None,
    max_seconds: float = 60.0,
) -> LoadResult:
    """GET ``base_url + path_for(i)`` ``total`` times over ``concurrency`` connections (after a warm-up)."""

    async def get(conn: RawConnection, i: int) -> int:
        status, _body = await conn.request("GET", path_for(i))
        return status

    return load_actions(
        name, base_url, get, total=total, concurrency=concurrency, headers=headers, max_seconds=max_seconds
    )


class RawConnection:
    """One keep-alive HTTP/1.1 connection with a minimal request method (JSON bodies)."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, host: str, headers: str) -> None:
        self.reader, self.writer, self.host, self.headers = reader, writer, host, headers

    def prepare(self, method: str, path: str, json_body: object = None) -> bytes:
        """The request as bytes on the wire, to send once or many times (:meth:`send`)."""
        body = b"" if json_body is None else json.dumps(json_body, ensure_ascii=False).encode()
        head = f"{method} {path} HTTP/1.1\r\nHost: {self.host}\r\n{self.headers}"
        if json_body is not None:
            head += f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
        return head.encode() + b"\r\n" + body

    async def request(self, method: str, path: str, json_body: object = None) -> tuple[int, bytes]:
        """Send a request and return (status, body)."""
        return await self.send(self.prepare(method, path, json_body))

    async def send(self, request: bytes) -> tuple[int, bytes]:
        """Send a prepared request (:meth:`prepare`) and return (status, body)."""
        self.writer.write(request)
        raw = await self.reader.readuntil(b"\r\n\r\n")
        lines = raw.split(b"\r\n")
        code = int(lines[0].split()[1])
        length = 0
        for line in lines[1:]:
            if line[:15].lower() == b"content-length:":
                length = int(line[15:].strip())
        data = await self.reader.readexactly(length) if length else b""
        return code, data


Action = Callable[[RawConnection, int], Awaitable[int]]
"""One unit of load over a connection (one or several requests); returns the last status."""


def load_actions(
    name: str,
    base_url: str,
    action: Action,
    *,
    total: int,
    concurrency: int = 16,
    headers: dict[str, str] | None = None,
    rate: float | None = None,
    warmup: bool = True,
    max_seconds: float = 120.0,
) -> LoadResult:
    """Run ``action`` ``total`` times over ``concurrency`` connections, optionally paced at ``rate``/s."""
    parts = urlsplit(base_url)
    if parts.hostname not in ("127.0.0.1", "localhost"):
        raise ValueError("benchmarks only load loopback servers")
    host, port = parts.hostname, parts.port or 80
    extra = "".join(f"{k}: {v}\r\n" for k, v in (headers or {}).items())

    async def drive(n: int) -> LoadResult:
        latencies: list[float] = []
        status: list[int] = []
        counter = iter(range(n))
        started = time.perf_counter()

        async def worker() -> None:
            reader, writer = await asyncio.open_connection(host, port)
            conn = RawConnection(reader, writer, host, extra)
            try:
                for i in counter:
                    if rate:
                        delay = started + i / rate - time.perf_counter()
                        if delay > 0:
                            await asyncio.sleep(delay)
                    if time.perf_counter() - started > max_seconds:
                        return
                    t0 = time.perf_counter()
                    status.append(await action(conn, i))
                    latencies.append((time.perf_counter() - t0) * 1000)
            finally:
                writer.close()

        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
        return LoadResult(name, len(latencies), elapsed, latencies, sum(1 for s in status if s >= 400))

    # The standard event loop, not uvloop: a uvloop client answered so promptly that the bare
    # endpoint, woken once per request instead of per few, served fewer (interleaved runs, 3 of 4).
    if warmup:
        asyncio.run(drive(min(100, total)))
    return asyncio.run(drive(total))
