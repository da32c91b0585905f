"""Shared benchmark plumbing: start servers as processes, drive load over loopback, report.

Load is bounded in count and time and goes only to 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.helpers import free_port


@dataclass
class LoadResult:
    name: str
    requests: int
    seconds: float
    latencies_ms: list[float]
    errors: int

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def pct(self, q: float) -> float:
        if not self.latencies_ms:
            return 0.0
        data = sorted(self.latencies_ms)
        return data[min(len(data) - 1, int(q * len(data)))]

    def line(self) -> str:
        return (
            f"{self.name:<40} {self.rate:>9.1f} req/s  p50 {self.pct(0.5):6.2f} ms  p99 {self.pct(0.99):6.2f} ms"
            f"  errors {self.errors}"
        )


@contextmanager
def server(target: list[str], env: dict[str, str] | None = None, ready_path: str = "/healthz") -> Iterator[str]:
    """Run ``target`` (argv after ``python -m``) with ``--port``; yield its base URL."""
    with server_process(target, env, ready_path) as (url, _proc):
        yield url


@contextmanager
def server_process(
    target: list[str], env: dict[str, str] | None = None, ready_path: str = "/healthz"
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """Like :func:`server`, also yielding the process (to read its peak memory)."""
    port = free_port()
    argv = [sys.executable, "-m", *target, "--port", str(port)]
    log = os.environ.get("BENCH_SERVER_LOG")  # set to a file path to keep the servers' logs
    stderr = open(log, "ab") if log else subprocess.DEVNULL  # noqa: SIM115 - closed with the process
    # The rate limiter stays on (its cost is part of what is measured) with a limit no load reaches.
    limits = {"DEVZONES_RATE_LIMIT": "10000000/second"}
    proc = subprocess.Popen(argv, env={**limits, **os.environ, **(env or {})}, stderr=stderr)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(url + ready_path, timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"server {target} did not start")
            time.sleep(0.1)
        yield url, proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


def bare_server() -> AbstractContextManager[str]:
    """The bare-FastAPI baseline served by uvicorn with one worker."""
    return server(["uvicorn", "bench.bare:app", "--log-level", "warning", "--no-access-log"], ready_path="/constant")


Action = Callable[[httpx.AsyncClient, int], Awaitable[httpx.Response]]
"""One unit of load: any requests (e.g. a POST, or two dependent calls); its last response counts."""


async def _drive(
    name: str,
    url_for: Callable[[int], str] | None,
    total: int,
    concurrency: int,
    headers: dict[str, str] | None,
    max_seconds: float,
    action: Action | None = None,
    rate: float | None = None,
) -> LoadResult:
    latencies: list[float] = []
    errors = 0
    counter = iter(range(total))
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(limits=limits, timeout=30, headers=headers) as client:
        started = time.perf_counter()

        async def one(i: int) -> httpx.Response:
            if action is not None:
                return await action(client, i)
            assert url_for is not None
            return await client.get(url_for(i))

        async def worker() -> None:
            nonlocal errors
            for i in counter:
                if time.perf_counter() - started > max_seconds:
                    return
                t0 = time.perf_counter()
                if rate:
                    # Paced (open-loop) load: latency counts from the scheduled start, so a queue
                    # building up shows in the percentiles instead of silently lowering the rate.
                    t0 = started + i / rate
                    delay = t0 - time.perf_counter()
                    if delay > 0:
                        await asyncio.sleep(delay)
                r = await one(i)
                latencies.append((time.perf_counter() - t0) * 1000)
                if r.status_code >= 400:
                    errors += 1

        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    return LoadResult(name, len(latencies), elapsed, latencies, errors)


def load(
    name: str,
    url_for: Callable[[int], str] | None,
    *,
    total: int,
    concurrency: int = 16,
    headers: dict[str, str] | None = None,
    max_seconds: float = 60.0,
    action: Action | None = None,
    rate: float | None = None,
    warmup: bool = True,
) -> LoadResult:
    """GET ``url_for(i)`` (or run ``action(client, i)``) ``total`` times with ``concurrency`` in
    flight, at most ``rate`` per second when given; warm up first unless told not to."""
    if warmup:
        asyncio.run(_drive("warmup", url_for, min(50, total), concurrency, headers, max_seconds, action))
    return asyncio.run(_drive(name, url_for, total, concurrency, headers, max_seconds, action, rate))


def ratio(result: LoadResult, baseline: LoadResult) -> float:
    """``result``'s rate over the baseline's (0 without a baseline rate)."""
    return result.rate / baseline.rate if baseline.rate else 0.0


def ratio_line(result: LoadResult, baseline: LoadResult, target: float | None = None) -> str:
    """``result`` as a ratio of the baseline's rate, with the target if there is one."""
    r = ratio(result, baseline)
    verdict = "" if target is None else f"  (target >= {target:.2f}: {'met' if r >= target else 'NOT met'})"
    return f"{result.name:<40} ratio to bare endpoint: {r:.3f}{verdict}"


def median(values: list[float]) -> float:
    return statistics.median(values) if values else 0.0


def data_dir(tmp: Path) -> Path:
    tmp.mkdir(parents=True, exist_ok=True)
    return tmp
