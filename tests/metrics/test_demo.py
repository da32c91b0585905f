"""The demo loader: labelled synthetic values, internally consistent, loaded once however often it runs."""

from __future__ import annotations

from datetime import date
from typing import Any

import httpx

from libs.domain.kernel.values import today_in_china
from services.metrics import demo
from tests.metrics.builders import CITY, DONGSHAN, HUAIAN, XUANHUA, Registry

REGISTRY_URL = "http://registry.test"


def registry_transport(fake: Registry) -> httpx.MockTransport:
    """The two registry routes the loader reads, answered from the fake."""

    async def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/v1/zones":
            as_of = date.fromisoformat(request.url.params["as_of"])
            zones = await fake.list_zones(as_of=as_of, status=request.url.params.get("status"))  # type: ignore[arg-type]
            return httpx.Response(200, json={"items": [z.model_dump(mode="json") for z in zones], "next_cursor": None})
        return httpx.Response(404, json={"status": 404, "title": "Not found"})

    return httpx.MockTransport(handler)


async def run_loader(client: httpx.AsyncClient, fake: Registry) -> None:
    metrics_transport = httpx.ASGITransport(app=client.app)  # type: ignore[attr-defined]
    mounts = {REGISTRY_URL: registry_transport(fake), "http://metrics.test": metrics_transport}
    async with httpx.AsyncClient(mounts=mounts, headers=CITY) as http:  # type: ignore[arg-type]
        await demo.load(http, {"registry": REGISTRY_URL, "metrics": "http://metrics.test"})


class TestTheDemoLoader:
    async def test_it_loads_every_year_once_labelled_and_consistent(self, metrics: Any, registry: Registry) -> None:
        last = today_in_china().year - 1
        async with metrics() as client:
            await run_loader(client, registry)
            first = (await client.get("/v1/ledger/verify", headers=CITY)).json()["revisions"]
            await run_loader(client, registry)
            second = (await client.get("/v1/ledger/verify", headers=CITY)).json()["revisions"]
            y2015 = (await client.get("/v1/observations", params={"period": "2015", "limit": 500}, headers=CITY)).json()
            y_last = (
                await client.get("/v1/observations", params={"period": str(last), "limit": 500}, headers=CITY)
            ).json()
            quality = (await client.get("/v1/quality", params={"period": "2017"}, headers=CITY)).json()
            matrix = (
                await client.get("/v1/matrix", params={"period": "2017", "indicators": "gdp_share_of_city"})
            ).json()
        assert first == second > 0
        subjects_2015 = {v["zone_id"] for v in y2015["items"] if v["zone_id"]}
        assert DONGSHAN in subjects_2015 and HUAIAN not in subjects_2015
        assert HUAIAN in {v["zone_id"] for v in y_last["items"]}
        assert all(v["note"] == "synthetic sample data, not official statistics" for v in y2015["items"])
        consistency = {"part_exceeds_whole", "share_above_100", "zones_exceed_total"}
        assert [f for f in quality["findings"] if f["rule"] in consistency] == []
        shares = [float(r["values"]["gdp_share_of_city"]) for r in matrix["rows"]]
        assert all(s is not None and 0 < s < 100 for s in shares) and 45 <= sum(shares) <= 60

    async def test_a_merged_zone_continues_its_predecessors_series(self) -> None:
        from libs.domain.registry.contracts import Park
        from tests.metrics.builders import zone

        before_a = zone("a", "甲园区")
        before_b = zone("b", "乙园区")
        merged = zone("m", "甲园区").model_copy(update={"parks": [Park(name="甲园区"), Park(name="乙园区")]})
        gdp_2015 = demo.zone_values(before_a, 2015)["gdp"] + demo.zone_values(before_b, 2015)["gdp"]
        assert demo.zone_values(merged, 2015)["gdp"] == gdp_2015

    async def test_without_zones_only_city_totals_are_loaded(self, metrics: Any) -> None:
        empty = Registry([])
        async with metrics(empty) as client:
            await run_loader(client, empty)
            items = (await client.get("/v1/observations", params={"period": "2015", "limit": 500}, headers=CITY)).json()
        assert items["items"] and all(v["division"] == "130700" for v in items["items"])
        assert XUANHUA not in str(items)
