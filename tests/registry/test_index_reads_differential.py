"""The in-memory index answers the hot zone reads exactly as SQL does.

Two instances of the registry on one database, one reading from its in-memory index and one
with the index switched off (``REGISTRY_MEMORY_INDEX=false``: every read from SQL), are asked the
same requests about a registry with a realistic history — the Zhangjiakou demo and later acts of
every kind, one of them annulled — on many dates; status, media type and body must be identical,
byte for byte. The history is written through each kind of instance in turn, so a write that
finds the index in any state is covered too.
"""

from __future__ import annotations

import asyncio
from datetime import date, timedelta
from typing import Any

import httpx
import pytest

from tests.registry.builders import demo_with_later_history, readmodel, runtime

FILTERS: list[dict[str, str]] = [
    {},
    {"kind": "high_tech"},
    {"level": "national"},
    {"status": "active"},
    {"status": "merged"},
    {"authority": "130728"},
    {"entrusted_to": "130705"},
    {"q": "经济开发区"},
    {"q": "园"},
    {"kind": "economic", "status": "active", "q": "河北"},
]


def probe_dates(effective: list[str]) -> list[str]:
    """Every date an act took effect, the days around it, and dates before and long after all of them."""
    days = {date(2000, 1, 1), date(2030, 1, 1)}
    for text in effective:
        day = date.fromisoformat(text)
        days |= {day - timedelta(days=1), day, day + timedelta(days=1)}
    return [d.isoformat() for d in sorted(days)]


async def answers(client: httpx.AsyncClient, requests: list[tuple[str, str, Any]]) -> list[tuple[Any, ...]]:
    """Each request with its answer's status, media type and body, in order."""
    out: list[tuple[Any, ...]] = []
    for method, url, payload in requests:
        if method == "GET":
            r = await client.get(url, params=payload)
        else:
            r = await client.post(url, json=payload)
        out.append((method, url, payload, r.status_code, r.headers["content-type"], r.content))
    return out


async def pages(client: httpx.AsyncClient, as_of: str, limit: int) -> list[tuple[str, str, Any]]:
    """The requests that walk the whole zone list on ``as_of``, ``limit`` at a time."""
    out: list[tuple[str, str, Any]] = []
    params: dict[str, Any] = {"as_of": as_of, "limit": limit}
    while True:
        out.append(("GET", "/v1/zones", dict(params)))
        cursor = (await client.get("/v1/zones", params=params)).json()["next_cursor"]
        if cursor is None:
            return out
        params["cursor"] = cursor


async def requests_about(client: httpx.AsyncClient, dates: list[str]) -> list[tuple[str, str, Any]]:
    """The hot reads asked about every zone, every name it ever answered to, on every date."""
    everything = (await client.get("/v1/zones", params={"as_of": dates[-1], "limit": 5000})).json()["items"]
    ids = [*sorted({z["id"] for z in everything}), "doesnotexist"]
    names: set[str] = set()
    for zone_id in ids[:-1]:
        for entry in (await client.get(f"/v1/zones/{zone_id}/history")).json()["entries"]:
            state = entry["state"]
            names |= {state["name"], *state["plaques"], *state["former_names"], *(p["name"] for p in state["parks"])}
    # Spellings that only normalise alike (province prefix, half-width brackets, spaces), and a name nobody carries.
    variants = {"河北省" + n.removeprefix("河北") for n in names if n.startswith("河北")}
    variants |= {n.replace("（", "(").replace("）", ")") for n in names if "（" in n}
    variants |= {"张 家 口经济开发区", "无此名称"}
    out: list[tuple[str, str, Any]] = []
    for as_of in dates:
        out += [("GET", "/v1/zones", {"as_of": as_of, "limit": 5000, **f}) for f in FILTERS]
        out += await pages(client, as_of, 3)
        out.append(("GET", "/v1/zones/counts", {"as_of": as_of}))
        out += [("GET", f"/v1/zones/{z}", {"as_of": as_of}) for z in ids]
        out += [("GET", "/v1/zones/resolve", {"name": n, "as_of": as_of}) for n in sorted(names | variants)]
    out += [("GET", f"/v1/zones/{z}/lineage", {}) for z in ids]
    out.append(("POST", "/v1/zones/lineages", {"zone_ids": [*reversed(ids), ids[0]]}))
    return out


async def trusted(client: httpx.AsyncClient) -> None:
    """Wait until the instance's index may answer (on PostgreSQL: once it LISTENs)."""
    model = readmodel(client)
    for _ in range(100):
        if model.trusted:
            return
        await asyncio.sleep(0.1)
    raise AssertionError("the read model never became trusted")


class TestTheIndexAnswersAsSqlDoes:
    @pytest.mark.parametrize("written_through", ["memory_index", "sql_only"])
    async def test_every_hot_read_on_every_date(self, registry: Any, written_through: str) -> None:
        async with registry() as indexed, registry(memory_index=False) as plain:
            await trusted(indexed)
            writer = indexed if written_through == "memory_index" else plain
            dates = probe_dates(await demo_with_later_history(writer))
            requests = await requests_about(plain, dates)
            from_index = await answers(indexed, requests)
            from_sql = await answers(plain, requests)
            model = readmodel(indexed)
            assert runtime(plain).readmodel is None
            assert model.index is not None and model.index.version >= model.required  # the index answered
        assert len(requests) > 1000
        assert {a[3] for a in from_sql} == {200, 404}
        for fast, slow in zip(from_index, from_sql, strict=True):
            assert fast == slow
