"""The demo loader: labelled sample data, cases in several states, idempotent."""

from __future__ import annotations

from typing import Any

import httpx

from services.permits import demo
from tests.permits.builders import CITY, fake_registry


def registry_transport(zones: list[dict[str, Any]]) -> httpx.MockTransport:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/v1/zones":
            return httpx.Response(200, json={"items": zones, "next_cursor": None})
        return httpx.Response(404, json={"status": 404, "title": "Not found"})

    return httpx.MockTransport(handler)


class TestDemo:
    async def test_loads_a_labelled_catalog_and_cases_in_several_states_once(self, window: Any) -> None:
        registry = fake_registry()
        zones = [z.model_dump(mode="json") for z in await registry.list_zones()]
        async with window(registry) as w:
            mounts = {
                "http://registry.test": registry_transport(zones),
                "http://permits.test": httpx.ASGITransport(app=w.app),
            }
            async with httpx.AsyncClient(mounts=mounts, headers=CITY) as http:
                urls = {"registry": "http://registry.test", "permits": "http://permits.test"}
                await demo.load(http, urls)
                await demo.load(http, urls)
            catalog = (await w.client.get("/v1/catalog", params={"zone_id": "zjk-econ"})).json()["items"]
            assert len(catalog) == len(demo.ITEMS)
            assert all("示例" in i["note"] for i in catalog)
            cases = (await w.client.get("/v1/applications", headers=CITY, params={"limit": 100})).json()["items"]
            assert len(cases) == len(demo.CASES)
            states = sorted(c["state"] for c in cases)
            assert states == sorted(
                [
                    "submitted",
                    "supplements_requested",
                    "in_review",
                    "in_review",
                    "decided",
                    "declined",
                    "special_procedure",
                ]
            )
            decided = next(c for c in cases if c["state"] == "decided")
            assert decided["decision"]["document_number"].startswith("张经审〔")
            assert all("示例" in c["project_name"] for c in cases)

    async def test_no_zones_means_nothing_is_loaded(self, window: Any) -> None:
        async with window() as w:
            mounts = {
                "http://registry.test": registry_transport([]),
                "http://permits.test": httpx.ASGITransport(app=w.app),
            }
            async with httpx.AsyncClient(mounts=mounts, headers=CITY) as http:
                await demo.load(http, {"registry": "http://registry.test", "permits": "http://permits.test"})
            assert (await w.client.get("/v1/catalog")).json()["items"] == []
