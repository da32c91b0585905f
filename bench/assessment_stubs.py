"""Stub registry and metrics services for the assessment benchmark.

They serve, from a PostgreSQL database the benchmark prepares (``BENCH_SOURCE_DSN``), the few
routes the assessment service calls — zones as of a date, zones' lineages (one or in bulk),
the indicator catalog and the values matrix (with pro-forma lineage) — in the real services'
contracts, so a national-scale run exercises the assessment service's whole path over HTTP
while the real registry and metrics services are benchmarked on their own.

Run as ``uvicorn bench.assessment_stubs:registry_app`` / ``:metrics_app``.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from typing import Any

import asyncpg
from fastapi import FastAPI, Query, Response
from pydantic_core import to_json

from libs.domain.kernel.contracts import Page
from libs.domain.metrics.contracts import IndicatorRead
from libs.domain.registry.contracts import Lineage, LineageBulk, LineageLink, ZoneIds, ZoneRead

SCHEMA = """
CREATE TABLE IF NOT EXISTS bench_zone (
    id text PRIMARY KEY, name text NOT NULL, kind text NOT NULL, authority text NOT NULL,
    valid_from date NOT NULL, valid_to date, successor text
);
CREATE TABLE IF NOT EXISTS bench_indicator (
    position int PRIMARY KEY, code text UNIQUE NOT NULL, direction text NOT NULL, unit text NOT NULL
);
CREATE TABLE IF NOT EXISTS bench_value (
    period text NOT NULL, zone text NOT NULL, indicator text NOT NULL, value double precision NOT NULL,
    PRIMARY KEY (period, zone, indicator)
);
"""

ZONES_AT = """
SELECT id, name, kind, authority, valid_from, valid_to, successor FROM bench_zone
WHERE valid_from <= $1 AND (valid_to IS NULL OR valid_to > $1) AND ($2::text IS NULL OR kind = $2)
ORDER BY id
"""
VALUES_OF = (
    "SELECT zone, indicator, value FROM bench_value WHERE period = $1 AND zone = ANY($2) AND indicator = ANY($3)"
)


def _pool_lifespan(app: FastAPI) -> contextlib.AbstractAsyncContextManager[None]:
    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        app.state.pool = await asyncpg.create_pool(os.environ["BENCH_SOURCE_DSN"], min_size=2, max_size=8)
        try:
            yield
        finally:
            await app.state.pool.close()

    return lifespan(app)


def _zone(record: Any, as_of: date | None = None) -> ZoneRead:
    ended = record["valid_to"] is not None and (as_of is None or record["valid_to"] <= as_of)
    return ZoneRead(
        id=record["id"],
        name=record["name"],
        kind=record["kind"],
        level="provincial",
        status="merged" if ended else "active",
        authority=record["authority"],
        successor=record["successor"] if ended else None,
        valid_from=record["valid_from"],
        valid_to=record["valid_to"],
    )


def _zone_dict(record: Any, as_of: date) -> dict[str, Any]:
    ended = record["valid_to"] is not None and record["valid_to"] <= as_of
    return {
        "id": record["id"],
        "name": record["name"],
        "kind": record["kind"],
        "level": "provincial",
        "status": "merged" if ended else "active",
        "authority": record["authority"],
        "successor": record["successor"] if ended else None,
        "valid_from": record["valid_from"].isoformat(),
        "valid_to": record["valid_to"].isoformat() if record["valid_to"] else None,
    }


registry_app = FastAPI(lifespan=_pool_lifespan)


@registry_app.get("/healthz")
async def registry_health() -> dict[str, str]:
    return {"status": "ok"}


@registry_app.get("/v1/zones")
async def zones(
    as_of: date | None = None, kind: str | None = None, status: str | None = None, limit: int = Query(5000)
) -> Response:
    day = as_of or date.today()
    async with registry_app.state.pool.acquire() as conn:
        rows = await conn.fetch(ZONES_AT, day, kind)
    # Plain dicts serialised by pydantic-core: the stub should cost little next to the service measured.
    items = [_zone_dict(r, day) for r in rows]
    return Response(to_json({"items": items, "next_cursor": None}), media_type="application/json")


@registry_app.get("/v1/zones/{zone_id}")
async def one_zone(zone_id: str) -> Response:
    async with registry_app.state.pool.acquire() as conn:
        row = await conn.fetchrow("SELECT * FROM bench_zone WHERE id = $1", zone_id)
    if row is None:
        return Response('{"status":404,"title":"Not found"}', status_code=404, media_type="application/problem+json")
    return Response(_zone(row).model_dump_json(), media_type="application/json")


LINEAGE_OF = """
WITH RECURSIVE up(id, via) AS (
    SELECT id, $1::text FROM bench_zone WHERE successor = $1
    UNION SELECT z.id, up.id FROM bench_zone z JOIN up ON z.successor = up.id
)
SELECT z.*, up.via FROM up JOIN bench_zone z ON z.id = up.id ORDER BY z.id
"""


def _lineage(zone_id: str, rows: Any) -> Lineage:
    """Predecessors, transitively: zones whose successor chain leads here."""
    links = [
        LineageLink(state=_zone(r), on=r["valid_to"], operation="merge", reorganisation=1, via=r["via"]) for r in rows
    ]
    return Lineage(zone_id=zone_id, predecessors=links, successors=[])


@registry_app.get("/v1/zones/{zone_id}/lineage")
async def lineage(zone_id: str) -> Response:
    async with registry_app.state.pool.acquire() as conn:
        rows = await conn.fetch(LINEAGE_OF, zone_id)
    return Response(_lineage(zone_id, rows).model_dump_json(), media_type="application/json")


@registry_app.post("/v1/zones/lineages")
async def lineages(body: ZoneIds) -> Response:
    """The bulk read of the real registry: lineages of several zones, unknown ids left out."""
    out: dict[str, Lineage] = {}
    async with registry_app.state.pool.acquire() as conn:
        known = {r["id"] for r in await conn.fetch("SELECT id FROM bench_zone WHERE id = ANY($1)", body.zone_ids)}
        for zone_id in dict.fromkeys(body.zone_ids):
            if zone_id in known:
                out[zone_id] = _lineage(zone_id, await conn.fetch(LINEAGE_OF, zone_id))
    return Response(LineageBulk(lineages=out).model_dump_json(), media_type="application/json")


metrics_app = FastAPI(lifespan=_pool_lifespan)


@metrics_app.get("/healthz")
async def metrics_health() -> dict[str, str]:
    return {"status": "ok"}


@metrics_app.get("/v1/indicators")
async def indicators(limit: int = 50, cursor: str | None = None) -> Response:
    async with metrics_app.state.pool.acquire() as conn:
        rows = await conn.fetch("SELECT * FROM bench_indicator ORDER BY position")
    items = [
        IndicatorRead(
            code=r["code"],
            name_zh=r["code"],
            name_en=r["code"],
            unit=r["unit"],
            kind="base",
            direction=r["direction"],
            period_types=["year"],
            min=0,
            version=1,
            created_at=datetime(2026, 1, 1, tzinfo=UTC),
        )
        for r in rows
    ]
    return Response(Page[IndicatorRead](items=items, next_cursor=None).model_dump_json(), media_type="application/json")


@metrics_app.get("/v1/matrix")
async def matrix(
    period: str, indicators: str, kind: str | None = None, as_of: date | None = None, lineage: str = "none"
) -> Response:
    codes = indicators.split(",")
    day = as_of or date(int(period[:4]), 12, 31)
    period_end = date(int(period[:4]), 12, 31)
    async with metrics_app.state.pool.acquire() as conn:
        zones = await conn.fetch(ZONES_AT, day, kind)
        ids = [z["id"] for z in zones]
        add: dict[str, list[str]] = {}
        if lineage == "proforma":
            merged = await conn.fetch(
                "SELECT id, successor FROM bench_zone WHERE successor = ANY($1) AND valid_to > $2", ids, period_end
            )
            for m in merged:
                add.setdefault(m["successor"], []).append(m["id"])
        wanted = ids + [p for preds in add.values() for p in preds]
        values = await conn.fetch(VALUES_OF, period, wanted, codes)
    table: dict[str, dict[str, float | None]] = {}
    for zone, code, value in values:
        table.setdefault(zone, {})[code] = value
    rows = []
    for z in zones:
        own = dict(table.get(z["id"], {}))
        for pred in add.get(z["id"], []):
            for code, value in table.get(pred, {}).items():
                own[code] = (own.get(code) or 0.0) + (value or 0.0)
        rows.append(
            {
                "zone_id": z["id"],
                "division": None,
                "name": z["name"],
                "values": {c: own.get(c) for c in codes},
                "proforma_from": add.get(z["id"], []),
            }
        )
    result = {
        "period": period,
        "kind": kind,
        "as_of": day.isoformat(),
        "lineage": "proforma" if lineage == "proforma" else "none",
        "indicators": [
            {"code": c, "unit": "", "kind": "base", "version": 1, "direction": "higher_is_better"} for c in codes
        ],
        "rows": rows,
    }
    return Response(to_json(result), media_type="application/json")
