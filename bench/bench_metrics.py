"""Metrics service on PostgreSQL: pushing 200,000 values over HTTP against asyncpg COPY, and the matrix.

The service runs as its own uvicorn process on a fresh PostgreSQL database (created beside
``TEST_POSTGRES_URL`` and dropped afterwards), with a stub registry (``bench/registry_stub.py``)
serving 2,600 zones. Values go in batches of 10,000 with an Idempotency-Key each, so the rate
includes the checks, the revisions, the hash chain and the idempotency record. In the same run
the same rows are copied with asyncpg's ``COPY`` into a bare table, five times (twice before the
push, three times after, each into a new table), and the median rate is the baseline: the ratio
of the two rates is the figure to watch (target ≥ 0.25). Peak RSS is the service's ``VmHWM``. The matrix is timed
for every zone × 40 indicators (28 pushed, 12 derived), cold (registry lineages not yet cached)
and warm.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal

import httpx

from bench.harness import server, server_process
from libs.domain.kernel.values import Role
from libs.domain.metrics.catalog import SEED_INDICATORS
from services.common.security import issue_token

DEFAULT_PG = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
SECRET = "bench-secret-" + "b" * 40
EXTRA_INDICATORS = [f"bench_base_{i}" for i in range(10)]
COPY_RUNS, COPY_RUNS_BEFORE = 5, 2
"""The COPY baseline is timed five times, twice before the push and three times after it (each
into a new bare table), and its median is the rate compared: one run moves by ±15%."""
SIZES = {
    "full": {"zones": 2600, "rows": 200_000, "batch": 10_000, "matrix_runs": 10},
    "tiny": {"zones": 40, "rows": 3_000, "batch": 1_000, "matrix_runs": 2},
}


def _pg_url() -> str:
    return os.environ.get("TEST_POSTGRES_URL") or DEFAULT_PG


def _dsn(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)


async def _admin(sql: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(_dsn(_pg_url()), timeout=5)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@contextmanager
def _database() -> Iterator[str]:
    name = f"dz_bench_metrics_{uuid.uuid4().hex[:8]}"
    asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
    try:
        yield f"{_pg_url().rsplit('/', 1)[0]}/{name}"
    finally:
        asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@contextmanager
def _service(env: dict[str, str]) -> Iterator[tuple[str, int]]:
    """The metrics service as a process of its own; yields its URL and pid (for VmHWM)."""
    with server_process(["services.cli", "serve", "metrics"], env, "/readyz") as (url, proc):
        yield url, proc.pid


def _peak_rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return 0.0


def _rows(zones: int, total: int) -> list[tuple[dict[str, str], str, str, str, str]]:
    """(subject, indicator, period, value, unit) rows: every zone × 28 indicators per year, plus city totals."""
    units = {i.code: i.unit for i in SEED_INDICATORS if i.kind != "derived"} | dict.fromkeys(EXTRA_INDICATORS, "万元")
    out: list[tuple[dict[str, str], str, str, str, str]] = []
    year = 2021
    while len(out) < total:
        for code, unit in units.items():
            out.append(({"division": "130700"}, code, str(year), f"{10_000_000 + len(out)}.5", unit))
        for z in range(zones):
            for k, (code, unit) in enumerate(units.items()):
                value = 1000 + (z * 37 + k * 101 + year) % 90_000
                out.append(({"zone_id": f"bz{z:05d}"}, code, str(year), f"{value}.25", unit))
        year += 1
    return out[:total]


async def _push(url: str, bodies: list[bytes], token: str) -> tuple[float, list[float]]:
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    latencies: list[float] = []
    async with httpx.AsyncClient(timeout=300) as client:
        started = time.perf_counter()
        for i, body in enumerate(bodies):
            t0 = time.perf_counter()
            r = await client.post(
                f"{url}/v1/observations", content=body, headers=headers | {"Idempotency-Key": f"b{i}"}
            )
            latencies.append(time.perf_counter() - t0)
            if r.status_code != 200:
                raise RuntimeError(f"batch {i}: {r.status_code} {r.text[:500]}")
        return time.perf_counter() - started, latencies


async def _replay(url: str, body: bytes, token: str) -> float:
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json", "Idempotency-Key": "b0"}
    async with httpx.AsyncClient(timeout=300) as client:
        t0 = time.perf_counter()
        r = await client.post(f"{url}/v1/observations", content=body, headers=headers)
        assert r.headers.get("idempotent-replayed") == "true", r.text[:300]
        return time.perf_counter() - t0


async def _copy(db_url: str, records: list[tuple[object, ...]], batch: int, table: str) -> float:
    """Seconds to ``COPY`` ``records`` into a new bare table (no key, no index), ``batch`` rows per transaction."""
    import asyncpg

    conn = await asyncpg.connect(_dsn(db_url))
    try:
        await conn.execute(
            f"CREATE TABLE {table} (subject_type text, subject_id text, indicator_code text, period text, "
            "value numeric(24, 6), unit text, note text)"
        )
        started = time.perf_counter()
        for start in range(0, len(records), batch):
            async with conn.transaction():
                await conn.copy_records_to_table(table, records=records[start : start + batch])
        seconds = time.perf_counter() - started
        await conn.execute(f"DROP TABLE {table}")
        return seconds
    finally:
        await conn.close()


def _copy_records(rows: list[tuple[dict[str, str], str, str, str, str]]) -> list[tuple[object, ...]]:
    return [
        ("zone" if "zone_id" in s else "division", next(iter(s.values())), code, period, Decimal(value), unit, None)
        for s, code, period, value, unit in rows
    ]


async def _add_indicators(url: str, token: str) -> None:
    async with httpx.AsyncClient(timeout=30, headers={"Authorization": f"Bearer {token}"}) as client:
        for code in EXTRA_INDICATORS:
            r = await client.post(
                f"{url}/v1/indicators",
                json={
                    "code": code,
                    "name_zh": "基准指标",
                    "name_en": "Benchmark",
                    "unit": "万元",
                    "kind": "base",
                    "period_types": ["year"],
                    "min": 0,
                },
            )
            assert r.status_code == 201, r.text


async def _matrix(url: str, codes: list[str], runs: int, lineage: str) -> tuple[float, list[float], int]:
    params = {"period": "2021", "indicators": ",".join(codes), "lineage": lineage}
    async with httpx.AsyncClient(timeout=60) as client:
        t0 = time.perf_counter()
        first = await client.get(f"{url}/v1/matrix", params=params)
        cold = time.perf_counter() - t0
        assert first.status_code == 200, first.text[:500]
        cells = sum(len(r["values"]) for r in first.json()["rows"])
        warm = []
        for _ in range(runs):
            t0 = time.perf_counter()
            r = await client.get(f"{url}/v1/matrix", params=params)
            warm.append(time.perf_counter() - t0)
            assert r.status_code == 200
        return cold, warm, cells


def _pg_reachable() -> str | None:
    try:
        asyncio.run(_admin("SELECT 1"))
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"
    return None


def run(size: str) -> None:
    cfg = SIZES[size]
    problem = _pg_reachable()
    if problem:
        print(f"metrics benchmark skipped: PostgreSQL at {_pg_url()} unreachable ({problem})")
        return
    token = issue_token(SECRET, sub="bench-city", roles=[Role.CITY_ADMIN], ttl_seconds=3600)
    rows = _rows(cfg["zones"], cfg["rows"])
    bodies = [
        json.dumps(
            {
                "observations": [
                    {**s, "indicator": c, "period": p, "value": v, "unit": u}
                    for s, c, p, v, u in rows[i : i + cfg["batch"]]
                ]
            },
            ensure_ascii=False,
        ).encode()
        for i in range(0, len(rows), cfg["batch"])
    ]
    from services.common.migrations import upgrade_sync

    records = _copy_records(rows)
    copies: list[float] = []  # the baseline, timed COPY_RUNS times: some before the push, the rest after
    with tempfile.TemporaryDirectory() as tmp, _database() as db_url:
        upgrade_sync("metrics", db_url)
        for _ in range(COPY_RUNS_BEFORE):
            copies.append(asyncio.run(_copy(db_url, records, cfg["batch"], f"bare_observation_{len(copies)}")))
        stub_env = {"BENCH_REGISTRY_ZONES": str(cfg["zones"])}
        stub = ["uvicorn", "bench.registry_stub:app", "--log-level", "warning", "--no-access-log"]
        with server(stub, env=stub_env) as registry_url:
            env = {
                "METRICS_DATABASE_URL": db_url,
                "REGISTRY_URL": registry_url,
                "DEVZONES_JWT_SECRET": SECRET,
                "DEVZONES_DATA_DIR": tmp,
                "DEVZONES_ENV": "development",
            }
            with _service(env) as (url, pid):
                asyncio.run(_add_indicators(url, token))
                push_seconds, latencies = asyncio.run(_push(url, bodies, token))
                replay_seconds = asyncio.run(_replay(url, bodies[0], token))
                codes = sorted([i.code for i in SEED_INDICATORS] + EXTRA_INDICATORS)  # 28 pushed + 12 derived = 40
                cold, warm, cells = asyncio.run(_matrix(url, codes, cfg["matrix_runs"], "proforma"))
                _, warm_plain, _ = asyncio.run(_matrix(url, codes, cfg["matrix_runs"], "none"))
                rss = _peak_rss_mb(pid)
        while len(copies) < COPY_RUNS:
            copies.append(asyncio.run(_copy(db_url, records, cfg["batch"], f"bare_observation_{len(copies)}")))
    n = len(rows)
    service_rate = n / push_seconds
    copy_rate = n / statistics.median(copies)
    ratio = service_rate / copy_rate
    w = statistics.median(warm)

    def verdict(ok: bool) -> str:
        return "met" if ok else "NOT met"

    p50, worst = statistics.median(latencies) * 1000, max(latencies) * 1000
    print(f"rows pushed                                {n:>12,} in {len(bodies)} batches of {cfg['batch']:,}")
    print(
        f"service POST /v1/observations (PostgreSQL) {service_rate:>12,.0f} rows/s  (batch p50 {p50:.0f} ms, "
        f"max {worst:.0f} ms)"
    )
    each = ", ".join(f"{n / c / 1000:,.0f}k" for c in copies)
    print(f"asyncpg COPY into a bare table             {copy_rate:>12,.0f} rows/s  (median of {each})")
    print(f"ratio service / COPY                       {ratio:>12.3f}  (target >= 0.25: {verdict(ratio >= 0.25)})")
    print(f"idempotent replay of one batch             {replay_seconds * 1000:>9.0f} ms")
    print(f"service peak RSS (VmHWM)                   {rss:>9.0f} MB  (target < 300 MB: {verdict(rss < 300)})")
    print(f"matrix {cfg['zones']} zones x {len(codes)} indicators ({cells:,} cells), lineage=proforma:")
    print(
        f"    cold (lineages fetched) {cold * 1000:.0f} ms, warm median {w * 1000:.0f} ms "
        f"(target < 300 ms: {verdict(w < 0.3)})"
    )
    print(f"matrix lineage=none: warm median {statistics.median(warm_plain) * 1000:.0f} ms")
