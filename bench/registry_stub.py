"""A stand-in registry for the metrics benchmark: the few read routes the metrics service calls.

``BENCH_REGISTRY_ZONES`` zones, active since 2010; every ``BENCH_REGISTRY_MERGE_EVERY``-th zone has
a predecessor merged into it on 2020-01-01. Answers are built once at start-up, so the stub costs
the benchmark as little as possible. Loopback only.
"""

from __future__ import annotations

import json
import os
from datetime import date
from typing import Any

from fastapi import FastAPI, Request, Response

DIVISIONS = [
    "130702",
    "130703",
    "130705",
    "130706",
    "130708",
    "130709",
    "130722",
    "130723",
    "130724",
    "130725",
    "130726",
    "130727",
    "130728",
    "130730",
    "130731",
    "130732",
]
MERGE_DAY = date(2020, 1, 1)


def _zone(
    i: int, *, prefix: str = "bz", status: str = "active", valid_from: str = "2010-01-01", valid_to: str | None = None
) -> dict[str, Any]:
    return {
        "id": f"{prefix}{i:05d}",
        "name": f"基准开发区{prefix}{i}",
        "kind": "high_tech" if i % 5 == 0 else "economic",
        "level": "provincial",
        "status": status,
        "authority": DIVISIONS[i % len(DIVISIONS)],
        "valid_from": valid_from,
        "valid_to": valid_to,
    }


def build(count: int, merge_every: int) -> dict[str, Any]:
    zones = [_zone(i) for i in range(count)]
    preds = {i: _zone(i, prefix="bp", valid_to=MERGE_DAY.isoformat()) for i in range(0, count, merge_every)}
    merged = {
        i: _zone(i, prefix="bp", status="merged", valid_from=MERGE_DAY.isoformat()) | {"successor": f"bz{i:05d}"}
        for i in preds
    }
    return {"zones": zones, "preds": preds, "merged": merged}


DATA = build(
    int(os.environ.get("BENCH_REGISTRY_ZONES", "2600")), int(os.environ.get("BENCH_REGISTRY_MERGE_EVERY", "10"))
)
ZONES: list[dict[str, Any]] = DATA["zones"]
BY_ID: dict[str, list[dict[str, Any]]] = {z["id"]: [z] for z in ZONES}
for _i, _p in DATA["preds"].items():
    BY_ID[_p["id"]] = [_p, DATA["merged"][_i]]
EMPTY_FEED = b'{"items":[],"next_cursor":"0"}'

app = FastAPI()


def _json(body: Any, status: int = 200) -> Response:
    return Response(json.dumps(body, ensure_ascii=False), status_code=status, media_type="application/json")


@app.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@app.get("/v1/changes")
async def changes() -> Response:
    return Response(EMPTY_FEED, media_type="application/json")


@app.get("/v1/zones")
async def zones(as_of: date | None = None, kind: str | None = None, status: str | None = None) -> Response:
    day = as_of or date.today()
    items = [z for z in ZONES if kind is None or z["kind"] == kind]
    if day < MERGE_DAY:
        items = items + [p for p in DATA["preds"].values() if kind is None or p["kind"] == kind]
    return _json({"items": items, "next_cursor": None})


def _history(zone_id: str) -> dict[str, Any] | None:
    states = BY_ID.get(zone_id)
    if states is None:
        return None
    entries = [
        {
            "state": s,
            "reorganisation": "1",
            "legal_basis": "bench",
            "effective_on": s["valid_from"],
            "title": "bench",
            "changes": [],
        }
        for s in states
    ]
    return {"zone_id": zone_id, "entries": entries}


@app.get("/v1/zones/{zone_id}/history")
async def history(zone_id: str) -> Response:
    body = _history(zone_id)
    return _json({"status": 404, "title": "Not found"}, 404) if body is None else _json(body)


@app.post("/v1/zones/histories")
async def histories(request: Request) -> Response:
    ids = (await request.json())["zone_ids"]
    return _json({"histories": {z: h for z in ids if (h := _history(z)) is not None}})


@app.post("/v1/zones/lineages")
async def lineages(request: Request) -> Response:
    ids = (await request.json())["zone_ids"]
    return _json({"lineages": {z: _lineage(z) for z in ids if z in BY_ID}})


@app.get("/v1/zones/{zone_id}/lineage")
async def lineage(zone_id: str) -> Response:
    if zone_id not in BY_ID:
        return _json({"status": 404, "title": "Not found"}, 404)
    return _json(_lineage(zone_id))


def _lineage(zone_id: str) -> dict[str, Any]:
    i = int(zone_id[2:])
    preds = []
    if zone_id.startswith("bz") and i in DATA["preds"]:
        preds = [
            {
                "state": DATA["preds"][i],
                "on": MERGE_DAY.isoformat(),
                "operation": "merge",
                "reorganisation": "1",
                "via": zone_id,
            }
        ]
    return {"zone_id": zone_id, "predecessors": preds, "successors": []}
