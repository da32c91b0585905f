"""Builders shared by the registry tests: a registry with divisions, the demo, a longer history."""

from __future__ import annotations

from typing import Any

import httpx

from services.common.runtime import runtime_of
from services.registry import demo
from services.registry.fast_paths.index_reads import IndexZoneReads
from services.registry.readmodel import ReadModel
from services.registry.runtime import RegistryRuntime
from tests.conftest import auth

ADMIN = auth("city_admin")
DIVISIONS = [
    ("130700", "张家口市", True),
    ("130728", "怀安县", False),
    ("130705", "宣化区", False),
    ("130730", "怀来县", False),
]


def runtime(client: httpx.AsyncClient) -> RegistryRuntime:
    """The runtime of the registry app behind a test client."""
    return runtime_of(client.app, RegistryRuntime)  # type: ignore[attr-defined]


def readmodel(client: httpx.AsyncClient) -> ReadModel[IndexZoneReads]:
    """The in-memory read model of the registry app behind a test client (kept: the default)."""
    model = runtime(client).readmodel
    assert model is not None, "the memory index is switched off"
    return model


class World:
    """A registry with divisions and helpers to record acts (a factory, not raw fixtures)."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client

    async def setup(self) -> World:
        for code, name, city in DIVISIONS:
            r = await self.client.post(
                "/v1/divisions",
                headers=ADMIN,
                json={"code": code, "name": name, "valid_from": "2000-01-01", "is_city": city},
            )
            assert r.status_code == 201, r.text
        return self

    async def act(self, on: str, *ops: dict[str, Any], expect: int = 201, **params: Any) -> dict[str, Any]:
        r = await self.client.post(
            "/v1/reorganisations",
            headers={**ADMIN, **params.pop("headers", {})},
            params=params,
            json={"legal_basis": "测试〔2020〕1号", "effective_on": on, "title": "test act", "operations": list(ops)},
        )
        assert r.status_code == expect, r.text
        return dict(r.json())

    async def zone(
        self,
        name: str = "甲经济开发区",
        kind: str = "economic",
        authority: str = "130728",
        on: str = "2010-01-01",
        **extra: Any,
    ) -> str:
        body = await self.act(
            on, {"op": "establish", "ref": "z", "name": name, "kind": kind, "authority": authority, **extra}
        )
        return str(body["zone_ids_by_ref"]["z"])

    async def get(self, zone_id: str, as_of: str) -> dict[str, Any]:
        r = await self.client.get(f"/v1/zones/{zone_id}", params={"as_of": as_of})
        assert r.status_code == 200, r.text
        return dict(r.json())


async def load_demo(client: httpx.AsyncClient) -> None:
    """Load the Zhangjiakou demo through the API, as ``devzones up`` does."""
    async with httpx.AsyncClient(
        transport=client._transport, base_url=str(client.base_url), headers=auth("city_admin")
    ) as admin:
        await demo.load(admin, {"registry": str(client.base_url).rstrip("/")})


async def demo_ids(client: httpx.AsyncClient) -> dict[str, str]:
    """The demo's zone ids by the refs its acts established them under."""
    acts = (await client.get("/v1/reorganisations", params={"limit": 500})).json()["items"]
    ids: dict[str, str] = {}
    for act in acts:
        if act["legal_basis"] in (demo.BASELINE_BASIS, demo.LEGAL_BASIS_2016):
            ids.update((await client.get(f"/v1/reorganisations/{act['id']}")).json()["zone_ids_by_ref"])
    return ids


async def demo_with_later_history(client: httpx.AsyncClient) -> list[str]:
    """The demo, then later acts of every kind: renames (one keeping the old name as a plaque), plaques,
    two acts on one day, a split, entrustments, a transfer, a revocation, a change of level and area,
    and a merger that is annulled again. Returns every date an act took effect on."""
    await load_demo(client)
    z = await demo_ids(client)
    world = World(client)
    await world.act(
        "2018-03-01",
        {"op": "rename", "zone_id": z["zhangbei"], "name": "河北张北经济开发区", "keep_old_name_as_plaque": True},
        {"op": "entrust", "zone_id": z["yuxian"], "to": "130705"},
        {"op": "split", "zone_id": z["huaian"], "into": z["zhuolu_park"], "parks": ["河北张家口南山经济开发区"]},
    )
    await world.act(
        "2018-03-01",
        {"op": "rename", "zone_id": z["qiaodong"], "name": "河北桥东经济开发区"},
        {"op": "add_plaque", "zone_id": z["zhangbei"], "name": "张北云计算产业园"},
    )
    await world.act(
        "2019-05-01",
        {"op": "revoke", "zone_id": z["xiahuayuan"], "reason": "连续两年考核排名末位"},
        {"op": "transfer", "zone_id": z["guyuan"], "authority": "130722"},
        {"op": "end_entrustment", "zone_id": z["xishan_ht"]},
        {"op": "change_level", "zone_id": z["zjk_econ"], "level": "national"},
        {"op": "change_area", "zone_id": z["shacheng"], "approved_area_km2": "31.5"},
    )
    merged = await world.act(
        "2020-01-01",
        {"op": "establish", "ref": "n", "name": "河北桥东新区", "kind": "economic", "authority": "130702"},
        {"op": "merge", "sources": [z["qiaodong"]], "into": "n", "sources_become": "parks"},
    )
    r = await client.post(f"/v1/reorganisations/{merged['id']}/annul", headers=ADMIN, json={"reason": "录入错误"})
    assert r.status_code == 200, r.text
    await world.act(
        "2021-07-01",
        {"op": "merge", "sources": [z["guyuan"]], "into": z["zhangbei"], "sources_become": "absorbed"},
        {"op": "rename", "zone_id": z["huaian"], "name": "河北怀安高新技术产业开发区"},
        {"op": "change_kind", "zone_id": z["huaian"], "kind": "high_tech"},
    )
    return ["2016-01-01", "2016-10-14", "2018-03-01", "2019-05-01", "2020-01-01", "2021-07-01"]
