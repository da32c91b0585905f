"""The catalog of approval items, the bureau, and the public lists."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from libs.domain.clients.registry import RegistryClient
from services.permits.dependencies import registry_client
from tests.helpers import assert_problem, free_port
from tests.permits.builders import ADMIN, CITY, CLERK, OTHER_ZONE, ZONE, auth, item_body


class TestCatalogWrites:
    async def test_the_zone_bureau_admin_adds_an_item_and_the_public_reads_it(self, window: Any) -> None:
        async with window() as w:
            item = await w.item()
            assert item["zone_id"] == ZONE and item["promised_limit_days"] == 10 and item["version"] == 1
            page = (await w.client.get("/v1/catalog", params={"zone_id": ZONE})).json()
            assert [i["code"] for i in page["items"]] == ["jsgcgh"]
            other = (await w.client.get("/v1/catalog", params={"zone_id": OTHER_ZONE})).json()
            assert other["items"] == []
            one = await w.client.get(f"/v1/catalog/items/{item['id']}")
            assert one.status_code == 200 and one.json()["stages"][0]["departments"] == ["planning", "environment"]

    async def test_another_zones_admin_and_a_clerk_may_not_write(self, window: Any) -> None:
        async with window() as w:
            other = auth("bureau_admin", zone=OTHER_ZONE)
            assert_problem(await w.client.post("/v1/catalog/items", headers=other, json=item_body()), 403)
            assert_problem(await w.client.post("/v1/catalog/items", headers=CLERK, json=item_body()), 403)
            r = await w.client.post("/v1/catalog/items", headers=CITY, json=item_body())
            assert r.status_code == 201

    async def test_promised_beyond_statutory_and_shares_not_adding_up_are_422(self, window: Any) -> None:
        async with window() as w:
            bad = item_body(promised_limit_days=25)
            assert "promised" in str(
                assert_problem(await w.client.post("/v1/catalog/items", headers=ADMIN, json=bad), 422)
            )
            shares = item_body(stages=[{"departments": ["planning"], "share": "0.5"}])
            assert_problem(await w.client.post("/v1/catalog/items", headers=ADMIN, json=shares), 422)
            twice = item_body(stages=[{"departments": ["planning", "planning"], "share": "1"}])
            assert_problem(await w.client.post("/v1/catalog/items", headers=ADMIN, json=twice), 422)

    async def test_a_taken_code_is_409_and_an_unknown_zone_is_422(self, window: Any) -> None:
        async with window() as w:
            await w.item()
            assert_problem(await w.client.post("/v1/catalog/items", headers=ADMIN, json=item_body()), 409)
            ghost = await w.client.post("/v1/catalog/items", headers=CITY, json=item_body(zone_id="no-such-zone"))
            assert assert_problem(ghost, 422)["errors"][0]["loc"] == ["body", "zone_id"]

    async def test_registry_down_makes_catalog_writes_503(self, app_client: Any) -> None:
        port = free_port()

        def down() -> RegistryClient:
            return RegistryClient(httpx.AsyncClient(), f"http://127.0.0.1:{port}")

        async with app_client("permits", overrides={registry_client: down}) as client:
            r = await client.post("/v1/catalog/items", headers=ADMIN, json=item_body())
        assert assert_problem(r, 503)["service"] == "registry"

    async def test_an_item_update_needs_a_fresh_if_match(self, window: Any) -> None:
        async with window() as w:
            item = await w.item()
            url = f"/v1/catalog/items/{item['id']}"
            changed = item_body(promised_limit_days=8)
            assert_problem(await w.client.put(url, headers={**ADMIN, "If-Match": '"7"'}, json=changed), 412)
            r = await w.client.put(url, headers={**ADMIN, "If-Match": '"1"'}, json=changed)
            assert r.status_code == 200 and r.json()["version"] == 2 and r.headers["etag"] == '"2"'


class TestPublicLists:
    async def test_the_power_list_names_the_bureau_departments_and_fee(self, window: Any) -> None:
        async with window() as w:
            await w.bureau()
            await w.item()
            r = await w.client.get("/v1/catalog/power-list", params={"zone_id": ZONE})
            assert r.status_code == 200
            entry = r.json()["items"][0]
            assert entry["bureau"] == "河北张家口经济开发区行政审批局"
            assert entry["departments"] == ["planning", "environment", "construction"]
            assert entry["fee"]["waived"] is True and entry["kind"] == "行政许可"

    async def test_the_bureau_is_public_and_404_until_configured(self, window: Any) -> None:
        async with window() as w:
            assert_problem(await w.client.get(f"/v1/catalog/bureaus/{ZONE}"), 404)
            await w.bureau()
            assert (await w.client.get(f"/v1/catalog/bureaus/{ZONE}")).json()["document_prefix"] == "张经审"

    async def test_catalog_pages_with_a_cursor(self, window: Any) -> None:
        async with window() as w:
            for code in ("a1", "b2", "c3"):
                await w.item(code=code)
            first = (await w.client.get("/v1/catalog", params={"zone_id": ZONE, "limit": 2})).json()
            second = (
                await w.client.get("/v1/catalog", params={"zone_id": ZONE, "cursor": first["next_cursor"]})
            ).json()
            assert [i["code"] for i in first["items"] + second["items"]] == ["a1", "b2", "c3"]
            assert second["next_cursor"] is None


class TestConcurrentCatalogWrites:
    async def test_two_admins_adding_the_same_code_at_once_one_gets_409(self, window: Any) -> None:
        async with window() as w:
            a, b = await asyncio.gather(
                w.client.post("/v1/catalog/items", headers=ADMIN, json=item_body()),
                w.client.post("/v1/catalog/items", headers=CITY, json=item_body()),
            )
            assert sorted((a.status_code, b.status_code)) == [201, 409], (a.text, b.text)

    async def test_simultaneous_bureau_and_calendar_writes_never_fail(self, window: Any) -> None:
        async with window() as w:
            bureau = {"name": "审批局", "document_prefix": "张经审", "seal": "章"}
            results = await asyncio.gather(
                *(w.client.put(f"/v1/catalog/bureaus/{ZONE}", headers=ADMIN, json=bureau) for _ in range(3)),
                *(
                    w.client.put("/v1/calendar/days/2026-10-12", headers=ADMIN, json={"working": False})
                    for _ in range(3)
                ),
            )
            assert [r.status_code for r in results] == [200] * 6
