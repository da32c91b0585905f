"""Intake at the single window under load, against a bare FastAPI endpoint.

The intake measured is the window's one call ``POST /v1/applications`` with ``"accept": true``
(当场受理): a window clerk registers the application and accepts it on the spot, so one request
records the case, both transitions (submitted, accepted), the deadline, the first stage's tasks,
the message and both outbox events, in one transaction. For reference the two-call path
(``POST /v1/applications`` then ``POST /v1/applications/{id}/accept``) is measured too, shorter.

Both servers are served by one uvicorn worker on this machine, in the same run. The permits service
runs on PostgreSQL when ``TEST_POSTGRES_URL`` (default the local server) answers, in a database
of its own that is dropped afterwards; otherwise on SQLite, and says so. The registry it checks
zones with is a stub on loopback (the permits service remembers a confirmed zone for a minute,
so the stub is not on the measured path after the first call).

The bare endpoint and the intake are measured in alternating rounds (five; one at the tiny
size), each round's ratio taken from its own two rates, and the round with the median ratio is
reported: on a shared machine the speed drifts within a run, and a baseline measured once,
before everything, was sometimes measured in a faster or slower minute than the intake.

Printed: the bare rate, the intake rate (one intake = one call), their ratio (target >= 0.25),
every round's ratio, the p99 latency of an intake at half the intake's peak rate (target
<= 50 ms), and the two-call path's rate.
"""

from __future__ import annotations

import asyncio
import json
import os
import tempfile
import uuid
from pathlib import Path
from typing import Any

import httpx
import orjson
from fastapi import FastAPI

from bench.harness import LoadResult, bare_server, ratio, ratio_line, server
from bench.rawload import RawConnection, load_actions, load_raw

TARGET_RATIO = 0.25
TARGET_P99_MS = 50.0
ROUNDS, ROUNDS_TINY = 5, 1
DEFAULT_PG = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
ZONE = "bench-zone"

stub_registry = FastAPI()


@stub_registry.get("/v1/zones/{zone_id}")
async def stub_zone(zone_id: str) -> dict[str, Any]:
    return {
        "id": zone_id,
        "name": "基准测试园区（示例）",
        "kind": "economic",
        "level": "provincial",
        "status": "active",
        "authority": "130700",
        "valid_from": "2016-10-14",
    }


async def _pg(sql: str, admin_url: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(admin_url.replace("postgresql+asyncpg://", "postgresql://", 1), timeout=3)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def _postgres_database() -> tuple[str | None, str | None, str]:
    """(url, name, why): a fresh PostgreSQL database, or ``None`` with the reason."""
    admin = os.environ.get("TEST_POSTGRES_URL") or DEFAULT_PG
    name = f"dz_bench_permits_{uuid.uuid4().hex[:8]}"
    try:
        asyncio.run(_pg(f'CREATE DATABASE "{name}"', admin))
    except Exception as exc:
        return None, None, f"PostgreSQL at {admin} unreachable ({type(exc).__name__}): using SQLite"
    return f"{admin.rsplit('/', 1)[0]}/{name}", name, "PostgreSQL"


def _drop(name: str) -> None:
    admin = os.environ.get("TEST_POSTGRES_URL") or DEFAULT_PG
    try:
        asyncio.run(_pg(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', admin))
    except Exception as exc:
        print(f"   (could not drop {name}: {type(exc).__name__})")


def _setup(url: str, headers: dict[str, str]) -> str:
    with httpx.Client(base_url=url, headers=headers, timeout=30) as http:
        http.put(
            f"/v1/catalog/bureaus/{ZONE}",
            json={"name": "基准测试审批局（示例）", "document_prefix": "基准审", "seal": "示例印章"},
        ).raise_for_status()
        r = http.post(
            "/v1/catalog/items",
            json={
                "code": "bench",
                "name": "基准测试事项（示例）",
                "zone_id": ZONE,
                "legal_basis": "示例",
                "statutory_limit_days": 20,
                "promised_limit_days": 10,
                "stages": [
                    {"departments": ["planning", "environment"], "share": "0.6"},
                    {"departments": ["construction"], "share": "0.4"},
                ],
                "materials": [{"code": "m1", "name": "申请表（示例）", "mandatory": False}],
            },
        )
        r.raise_for_status()
        item_id: str = r.json()["id"]
        return item_id


def run(size: str) -> None:
    tiny = size == "tiny"
    intakes = 30 if tiny else 3000
    two_call_intakes = 20 if tiny else 600
    bare_total = 200 if tiny else 5000
    from services.common.migrations import upgrade_sync
    from services.common.security import issue_token, signing_key
    from services.common.settings import PermitsSettings

    with tempfile.TemporaryDirectory() as tmp:
        pg_url, pg_name, backend = _postgres_database()
        db_url = pg_url or f"sqlite+aiosqlite:///{Path(tmp) / 'permits.db'}"
        try:
            upgrade_sync("permits", db_url)
            key = signing_key(PermitsSettings(data_dir=Path(tmp)))
            admin = issue_token(key, sub="bench-admin", roles=["city_admin"], ttl_seconds=3600)
            clerk = issue_token(key, sub="bench-clerk", roles=["window_clerk"], zone=ZONE, ttl_seconds=3600)
            headers = {"Authorization": f"Bearer {clerk}"}
            stub = ["uvicorn", "bench.bench_permits:stub_registry", "--log-level", "warning", "--no-access-log"]
            with bare_server() as bare_url, server(stub, ready_path=f"/v1/zones/{ZONE}") as registry_url:
                env = {
                    "DEVZONES_DATA_DIR": tmp,
                    "DEVZONES_ENV": "development",
                    "PERMITS_DATABASE_URL": db_url,
                    "REGISTRY_URL": registry_url,
                }
                with server(["services.cli", "serve", "permits", "--data-dir", tmp], env=env) as url:
                    item = _setup(url, {"Authorization": f"Bearer {admin}"})
                    body = {
                        "item": item,
                        "zone_id": ZONE,
                        "project_name": "基准测试项目（示例）",
                        "applicant": {"name": "示例企业"},
                    }
                    at_once = {**body, "accept": True}
                    prepared: dict[RawConnection, bytes] = {}

                    async def intake(conn: RawConnection, i: int) -> int:
                        # The same request each time, encoded once per connection, and the answer
                        # read by orjson: the client's CPU is taken from the two cores the service
                        # and PostgreSQL share (the bare endpoint's client encodes and reads nothing).
                        request = prepared.get(conn) or prepared.setdefault(
                            conn, conn.prepare("POST", "/v1/applications", at_once)
                        )
                        code, created = await conn.send(request)
                        if code == 201 and orjson.loads(created)["state"] != "in_review":
                            return 599  # not accepted: count as an error
                        return code

                    async def two_calls(conn: RawConnection, i: int) -> int:
                        code, created = await conn.request("POST", "/v1/applications", body)
                        if code != 201:
                            return code
                        case_id = json.loads(created)["id"]
                        code, _ = await conn.request("POST", f"/v1/applications/{case_id}/accept", {})
                        return code

                    # Alternating rounds, each ratio within its round (see the module docstring).
                    name = f"permits intake, one call ({'PostgreSQL' if pg_url else 'SQLite'})"
                    rounds: list[tuple[LoadResult, LoadResult]] = []
                    for _ in range(ROUNDS_TINY if tiny else ROUNDS):
                        base = load_raw("bare FastAPI constant", bare_url, lambda i: "/constant", total=bare_total)
                        rounds.append((load_actions(name, url, intake, total=intakes, headers=headers), base))
                    rounds.sort(key=lambda pb: ratio(*pb))
                    ratios = [ratio(*pb) for pb in rounds]
                    peak, bare = rounds[len(rounds) // 2]
                    half = peak.rate / 2
                    paced = load_actions(
                        f"  ... at half peak ({half:.0f}/s)",
                        url,
                        intake,
                        total=max(10, int(intakes / 2)),
                        headers=headers,
                        rate=half,
                        warmup=False,
                    )
                    two = load_actions(
                        "  (two calls: create, then accept)",
                        url,
                        two_calls,
                        total=two_call_intakes,
                        headers=headers,
                    )
        finally:
            if pg_name:
                _drop(pg_name)
    print(
        f"   backend: {backend}; an intake is one call (POST /v1/applications with accept: true, "
        "by a window clerk): its rate is intakes per second"
    )
    print(f"   {len(rounds)} rounds of bare endpoint then intake; the round with the median ratio:")
    print(bare.line())
    print(peak.line())
    print(ratio_line(peak, bare, TARGET_RATIO))
    print(f"   ratios of the rounds: {', '.join(f'{r:.3f}' for r in ratios)}")
    print(paced.line())
    verdict = "met" if paced.pct(0.99) <= TARGET_P99_MS else "NOT met"
    print(
        f"{'p99 at half the intake peak':<40} {paced.pct(0.99):.1f} ms  (target <= {TARGET_P99_MS:.0f} ms: {verdict})"
    )
    print(two.line())
    print(ratio_line(two, bare))
