"""A national-scale assessment run, end to end on PostgreSQL, against an asyncpg + numpy reference.

Full size: 2,600 zones × 40 indicators, five annual periods with mergers and new zones every
year. The assessment service runs as its own process on a PostgreSQL database and reaches a
registry and a metrics service over HTTP (stub processes serving, from PostgreSQL, the few
routes it calls — ``bench/assessment_stubs.py``). Each year's ``POST /v1/assessments`` is timed
from request to the last byte of its answer (registry and metrics calls, scoring, storing every
result, and the answer itself), and compared with a reference measured in the same run: the
same value rows fetched with asyncpg and the same method scored and ranked with numpy. The
ranks of both must agree. Targets: end to end within 3× the reference and under 2 s; peak RSS
of the assessment service under 400 MB.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import statistics
import subprocess
import tempfile
import time
import uuid
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import numpy as np
from scipy.special import ndtr

from bench.assessment_stubs import SCHEMA, VALUES_OF, ZONES_AT
from bench.harness import server, server_process

SIZES = {
    "tiny": {"zones": 60, "indicators": 8, "years": 2, "merges": 2, "new": 1},
    "full": {"zones": 2600, "indicators": 40, "years": 5, "merges": 12, "new": 6},
}
FIRST_YEAR = 2021
TARGET_RATIO = 3.0
TARGET_SECONDS = 2.0
TARGET_RSS_MB = 400
GROUP_WEIGHTS = [0.3, 0.2, 0.2, 0.2, 0.1]


def admin_dsn() -> str:
    url = os.environ.get("TEST_POSTGRES_URL") or "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)


def dsn_for(database: str) -> str:
    return admin_dsn().rsplit("/", 1)[0] + "/" + database


# --- the data -------------------------------------------------------------------------------------


@dataclass
class Leaf:
    code: str
    group: int
    method: str  # min_max | z_score
    log: bool
    lower: bool


def leaves(n: int) -> list[Leaf]:
    return [
        Leaf(code=f"i{j:02d}", group=j % 5, method="z_score" if j % 2 else "min_max", log=j % 4 == 0, lower=j % 5 == 4)
        for j in range(n)
    ]


def methodology(spec: list[Leaf]) -> dict[str, Any]:
    groups = []
    for g, weight in enumerate(GROUP_WEIGHTS):
        children = [
            {
                "indicator": leaf.code,
                "weight": 1,
                "direction": "lower_is_better" if leaf.lower else "higher_is_better",
                "transform": "ln" if leaf.log else "none",
                "normalisation": {"method": leaf.method},
            }
            for leaf in spec
            if leaf.group == g
        ]
        if children:
            groups.append({"code": f"g{g}", "title": f"分组{g}", "weight": weight, "children": children})
    return {
        "code": "bench-national",
        "title": "benchmark method (synthetic)",
        "applies_to": ["economic"],
        "period_type": "year",
        "scale": 100,
        "root": {"aggregation": "arithmetic", "children": groups},
    }


async def prepare_source(conn: asyncpg.Connection, size: dict[str, int], spec: list[Leaf]) -> None:
    """Zones with five years of mergers and new zones, and every active zone's values per year."""
    await conn.execute(SCHEMA)
    rng = np.random.default_rng(2016)
    await conn.executemany(
        "INSERT INTO bench_indicator VALUES ($1, $2, $3, $4)",
        [
            (j, leaf.code, "lower_is_better" if leaf.lower else "higher_is_better", "单位")
            for j, leaf in enumerate(spec)
        ],
    )
    zones: dict[str, dict[str, Any]] = {}
    for i in range(size["zones"]):
        zones[f"Z{i:05d}"] = {"from": date(2016, 10, 14), "to": None, "successor": None}
    level: dict[str, np.ndarray] = {z: rng.lognormal(3.0, 0.8, len(spec)) for z in zones}
    value_rows: list[tuple[str, str, str, float]] = []
    for k in range(size["years"]):
        year = FIRST_YEAR + k
        if k:
            active = sorted(z for z, v in zones.items() if v["to"] is None)
            picks = rng.choice(len(active), size=2 * size["merges"], replace=False)
            for m in range(size["merges"]):
                a, b = active[picks[2 * m]], active[picks[2 * m + 1]]
                merged = f"M{year}{m:03d}"
                on = date(year, 6, 30)
                zones[merged] = {"from": on, "to": None, "successor": None}
                for old in (a, b):
                    zones[old]["to"] = on
                    zones[old]["successor"] = merged
                level[merged] = level[a] + level[b]
            for m in range(size["new"]):
                fresh = f"N{year}{m:03d}"
                zones[fresh] = {"from": date(year, 3, 1), "to": None, "successor": None}
                level[fresh] = rng.lognormal(2.5, 0.8, len(spec))
        for z, v in zones.items():
            if v["to"] is None:
                noise = rng.lognormal(0.0, 0.15, len(spec)) * 1.06**k
                for j, leaf in enumerate(spec):
                    value_rows.append((str(year), z, leaf.code, float(level[z][j] * noise[j])))
    await conn.copy_records_to_table(
        "bench_zone",
        records=[
            (z, f"基准开发区{z}（合成数据）", "economic", "130705", v["from"], v["to"], v["successor"])
            for z, v in zones.items()
        ],
    )
    await conn.copy_records_to_table("bench_value", records=value_rows)
    await conn.execute("ANALYZE")


# --- the reference ---------------------------------------------------------------------------------


async def reference(conn: asyncpg.Connection, year: int, spec: list[Leaf]) -> tuple[float, dict[str, int]]:
    """Fetch the same rows with asyncpg and score them with numpy; (seconds, ranks)."""
    started = time.perf_counter()
    as_of = date(year, 12, 31)
    zones = await conn.fetch(ZONES_AT, as_of, "economic")
    ids = [z["id"] for z in zones]
    codes = [leaf.code for leaf in spec]
    rows = await conn.fetch(VALUES_OF, str(year), ids, codes)
    row_of = {z: i for i, z in enumerate(ids)}
    col_of = {c: j for j, c in enumerate(codes)}
    x = np.full((len(ids), len(codes)), np.nan)
    for zone, code, value in rows:
        x[row_of[zone], col_of[code]] = value
    scores = np.zeros((len(ids), len(GROUP_WEIGHTS)))
    counts = np.zeros(len(GROUP_WEIGHTS))
    for j, leaf in enumerate(spec):
        v = np.log(x[:, j]) if leaf.log else x[:, j]
        if leaf.method == "min_max":
            s = (v - v.min()) / (v.max() - v.min())
        else:
            s = ndtr((v - v.mean()) / v.std())
        if leaf.lower:
            s = 1 - s
        scores[:, leaf.group] += s
        counts[leaf.group] += 1
    weights = np.array(GROUP_WEIGHTS)[counts > 0]
    total = (scores[:, counts > 0] / counts[counts > 0]) @ (weights / weights.sum()) * 100
    keyed = np.round(total, 6)
    ordered = np.sort(-keyed)
    ranks = np.searchsorted(ordered, -keyed, side="left") + 1
    elapsed = time.perf_counter() - started
    return elapsed, {z: int(r) for z, r in zip(ids, ranks, strict=True)}


# --- the services -----------------------------------------------------------------------------------


def assessment_service(env: dict[str, str]) -> AbstractContextManager[tuple[str, subprocess.Popen[bytes]]]:
    """The assessment service as its own process (so its peak RSS can be read)."""
    return server_process(["services.cli", "serve", "assessment"], env, "/readyz")


def peak_rss_mb(pid: int) -> float:
    """VmHWM of a process (Linux), in MB; NaN elsewhere."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return math.nan


# --- the run -----------------------------------------------------------------------------------------


async def _admin(sql: str) -> None:
    conn = await asyncpg.connect(admin_dsn(), timeout=5)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def run(size: str) -> None:
    params = SIZES[size]
    try:
        asyncio.run(_admin("SELECT 1"))
    except Exception as exc:
        print(f"assessment benchmark skipped: PostgreSQL unreachable at {admin_dsn()} ({type(exc).__name__})")
        return
    tag = uuid.uuid4().hex[:8]
    source_db, service_db = f"dz_bench_src_{tag}", f"dz_bench_asm_{tag}"
    for db in (source_db, service_db):
        asyncio.run(_admin(f'CREATE DATABASE "{db}"'))
    try:
        _run(params, dsn_for(source_db), dsn_for(service_db))
    finally:
        for db in (source_db, service_db):
            with contextlib.suppress(Exception):
                asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)'))


def _run(params: dict[str, int], source_dsn: str, service_dsn: str) -> None:
    from services.common.migrations import upgrade_sync
    from services.common.security import issue_token, signing_key
    from services.common.settings import AssessmentSettings

    spec = leaves(params["indicators"])

    async def load() -> None:
        conn = await asyncpg.connect(source_dsn)
        try:
            await prepare_source(conn, params, spec)
        finally:
            await conn.close()

    started = time.perf_counter()
    asyncio.run(load())
    service_url = service_dsn.replace("postgresql://", "postgresql+asyncpg://", 1)
    upgrade_sync("assessment", service_url)
    prepared = time.perf_counter() - started
    print(
        f"data: {params['zones']} zones × {params['indicators']} indicators × {params['years']} years, "
        f"{params['merges']} mergers and {params['new']} new zones a year (prepared in {prepared:.1f} s)"
    )
    stub = ["uvicorn", "--log-level", "warning", "--no-access-log"]
    with tempfile.TemporaryDirectory() as tmp, contextlib.ExitStack() as stack:
        env = {"BENCH_SOURCE_DSN": source_dsn}
        registry_url = stack.enter_context(server([*stub, "bench.assessment_stubs:registry_app"], env=env))
        metrics_url = stack.enter_context(server([*stub, "bench.assessment_stubs:metrics_app"], env=env))
        service_env = {
            "DEVZONES_DATA_DIR": tmp,
            "DEVZONES_ENV": "development",
            "DEVZONES_LOG_LEVEL": "WARNING",
            "ASSESSMENT_DATABASE_URL": service_url,
            "REGISTRY_URL": registry_url,
            "METRICS_URL": metrics_url,
        }
        url, proc = stack.enter_context(assessment_service(service_env))
        token = issue_token(signing_key(AssessmentSettings(data_dir=Path(tmp))), sub="bench", roles=["city_admin"])
        headers = {"Authorization": f"Bearer {token}"}
        e2e, refs, agree = asyncio.run(_measure(url, headers, source_dsn, params, spec))
        rss = peak_rss_mb(proc.pid)
    for k, (t_e2e, t_ref) in enumerate(zip(e2e, refs, strict=True)):
        print(
            f"{FIRST_YEAR + k}: end to end {t_e2e * 1000:8.1f} ms   reference (asyncpg + numpy) {t_ref * 1000:7.1f} ms"
            f"   ratio {t_e2e / t_ref:5.2f}"
        )
    later = list(range(1, len(e2e))) or [0]  # years with an earlier run (rank changes, lineage)
    t_e2e = statistics.median(e2e[k] for k in later)
    t_ref = statistics.median(refs[k] for k in later)
    ratio = t_e2e / t_ref
    print(f"median over years with history: end to end {t_e2e * 1000:.1f} ms, reference {t_ref * 1000:.1f} ms")
    ratio_verdict = "met" if ratio <= TARGET_RATIO else "NOT met"
    time_verdict = "under" if t_e2e < TARGET_SECONDS else "NOT under"
    print(
        f"ratio to the reference: {ratio:.2f} (target ≤ {TARGET_RATIO:.0f}: {ratio_verdict}); "
        f"end to end {time_verdict} {TARGET_SECONDS:.0f} s"
    )
    verdict = "met" if rss < TARGET_RSS_MB else "NOT met"
    print(f"peak RSS of the assessment service: {rss:.0f} MB (target < {TARGET_RSS_MB} MB: {verdict})")
    print(f"ranks identical to the reference's in every year: {'yes' if agree else 'NO'}")


async def _measure(
    url: str, headers: dict[str, str], source_dsn: str, params: dict[str, int], spec: list[Leaf]
) -> tuple[list[float], list[float], bool]:
    e2e: list[float] = []
    refs: list[float] = []
    agree = True
    conn = await asyncpg.connect(source_dsn)
    async with httpx.AsyncClient(timeout=120, headers=headers) as http:
        r = await http.post(f"{url}/v1/methodologies", json=methodology(spec))
        r.raise_for_status()
        await http.get(f"{url}/v1/assessments")  # warm the pool
        await reference(conn, FIRST_YEAR, spec)  # and the reference's statement cache
        for k in range(params["years"]):
            year = FIRST_YEAR + k
            body = {"methodology": "bench-national", "period": str(year), "kind": "economic", "label": f"bench {year}"}
            started = time.perf_counter()
            response = await http.post(f"{url}/v1/assessments", json=body)
            _ = response.content
            e2e.append(time.perf_counter() - started)
            if response.status_code != 201:
                raise RuntimeError(f"run {year} failed: {response.status_code} {response.text[:500]}")
            elapsed, ranks = await reference(conn, year, spec)
            refs.append(elapsed)
            served = {r["zone_id"]: r["rank"] for r in response.json()["results"]}
            agree = agree and served == ranks
    await conn.close()
    return e2e, refs, agree
