"""A national-scale registry on PostgreSQL: 2,600 zones with about ten acts each.

Reports requests per second for the as-of reads beside a bare FastAPI endpoint returning
a constant (same machine, same run, one uvicorn worker each), and the latency of the full
as-of list. Targets (issue 3): single-zone and resolve reads at least 0.30 of the bare rate;
the full list of 2,600 zones under 100 ms. The registry is built in-process through the
service's own use cases (the same code the API runs), which is faster than 2,600 HTTP posts.
"""

from __future__ import annotations

import asyncio
import random
import statistics
import time
from datetime import date, timedelta
from urllib.parse import quote

import httpx

from bench.harness import bare_server, ratio_line, server
from bench.pg import create_database, drop_database
from bench.rawload import load_raw
from libs.domain.kernel.contracts import Actor
from libs.domain.kernel.values import Role
from libs.domain.registry.contracts import DivisionCreate, ReorganisationCreate
from services.common.db import Database
from services.common.migrations import upgrade
from services.registry.context import WriteContext
from services.registry.divisions import record_division
from services.registry.reorganisations import RecordReorganisation, record_reorganisation

ACTOR = Actor(sub="bench", roles=frozenset({Role.CITY_ADMIN}))
ROUNDS = 9


async def build(url: str, zones: int) -> tuple[list[str], list[str], list[str], date]:
    """Divisions, ``zones`` zones and ~10 acts per zone; returns ids, current names, merge targets, last date."""
    await upgrade("registry", url)
    db = Database.open(url)
    rng = random.Random(7)
    divisions = [f"{110000 + i * 100 + 1}" for i in range(max(3, zones // 10))]
    day = date(2000, 1, 1)

    async def act(on: date, ops: list[dict[str, object]]) -> dict[str, str]:
        async with db.sessions() as session:
            body = ReorganisationCreate.model_validate(
                {
                    "legal_basis": f"基准〔{on.year}〕{rng.randint(1, 999)}号",
                    "effective_on": on,
                    "title": "bench",
                    "operations": ops,
                }
            )
            result = await record_reorganisation(RecordReorganisation(body), WriteContext(session, ACTOR))
            await session.commit()
            return result.zone_ids_by_ref

    try:
        async with db.sessions() as session:
            for code in divisions:
                await record_division(
                    DivisionCreate(code=code, name=f"区划{code}", valid_from=day), WriteContext(session, ACTOR)
                )
            await session.commit()
        ids: list[str] = []
        names: dict[str, str] = {}
        for start in range(0, zones, 100):
            ops: list[dict[str, object]] = [
                {
                    "op": "establish",
                    "ref": f"z{i}",
                    "name": f"第{i}号开发区",
                    "kind": "economic" if i % 5 else "high_tech",
                    "authority": divisions[i % len(divisions)],
                    "parks": [f"第{i}号开发区一园"],
                }
                for i in range(start, min(zones, start + 100))
            ]
            created = await act(day, ops)
            for ref, zone_id in created.items():
                ids.append(zone_id)
                names[zone_id] = f"第{ref[1:]}号开发区"
        active = list(ids)
        merge_targets: list[str] = []
        for rnd in range(1, ROUNDS + 1):
            day += timedelta(days=91)
            rng.shuffle(active)
            survivors: list[str] = []
            for g in range(0, len(active), 10):
                group = active[g : g + 10]
                ops = []
                if rnd == 5 and len(group) >= 2:
                    # A merger round: each group's second zone becomes a park of the first.
                    ops.append({"op": "merge", "sources": [group[1]], "into": group[0], "sources_become": "parks"})
                    merge_targets.append(group[0])
                    group = [group[0], *group[2:]]
                for zone_id in group:
                    if rnd % 3 == 0:
                        ops.append({"op": "add_plaque", "zone_id": zone_id, "name": f"{names[zone_id]}牌{rnd}"})
                    elif rnd % 3 == 1:
                        new = f"{names[zone_id].split('（')[0]}（{rnd}期）"
                        ops.append({"op": "rename", "zone_id": zone_id, "name": new})
                        names[zone_id] = new
                    else:
                        ops.append({"op": "change_area", "zone_id": zone_id, "approved_area_km2": str(rnd + 1)})
                await act(day, ops)
                survivors.extend(group)
            active = survivors
        return active, [names[z] for z in active], merge_targets, day
    finally:
        await db.close()


def run(size: str) -> None:
    zones = 60 if size == "tiny" else 2600
    total = 200 if size == "tiny" else 4000

    url = asyncio.run(create_database("registry"))
    try:
        started = time.perf_counter()
        active, names, targets, last = asyncio.run(build(url, zones))
        print(f"built {zones} zones, {len(active)} active, in {time.perf_counter() - started:.1f} s")
        as_of = (last + timedelta(days=1)).isoformat()
        rng = random.Random(1)
        env = {"REGISTRY_DATABASE_URL": url, "DEVZONES_ENV": "development"}
        with bare_server() as bare_url:
            bare = load_raw("bare FastAPI constant", bare_url, lambda i: "/constant", total=total)
        with server(["services.cli", "serve", "registry"], env=env) as base:
            single = load_raw(
                "GET /v1/zones/{id}?as_of", base, lambda i: f"/v1/zones/{rng.choice(active)}?as_of={as_of}", total=total
            )
            resolve = load_raw(
                "GET /v1/zones/resolve",
                base,
                lambda i: f"/v1/zones/resolve?name={quote(rng.choice(names))}&as_of={as_of}",
                total=total,
            )
            lineage = load_raw(
                "GET /v1/zones/{id}/lineage", base, lambda i: f"/v1/zones/{rng.choice(targets)}/lineage", total=total
            )
            timings = []
            with httpx.Client(timeout=30) as http:
                for _ in range(3):
                    http.get(f"{base}/v1/zones", params={"as_of": as_of, "limit": 5000})
                for _ in range(5 if size == "tiny" else 20):
                    t0 = time.perf_counter()
                    r = http.get(f"{base}/v1/zones", params={"as_of": as_of, "limit": 5000})
                    timings.append((time.perf_counter() - t0) * 1000)
                    n = len(r.json()["items"])
    finally:
        asyncio.run(drop_database(url))
    print(bare.line())
    for result, target in ((single, 0.30), (resolve, 0.30), (lineage, None)):
        print(result.line())
        print(ratio_line(result, bare, target))
    median = statistics.median(timings)
    verdict = "met" if median < 100 else "NOT met"
    print(
        f"full as-of list of {n} zones: median {median:.1f} ms, max {max(timings):.1f} ms (target < 100 ms: {verdict})"
    )
