"""The demo loader: illustrative methods and one run per demo year, idempotent, skipped without data."""

from __future__ import annotations

import json
from typing import Any

import httpx

from libs.domain.clients.metrics import FakeMetricsClient
from libs.domain.kernel.values import today_in_china
from services.assessment import demo
from tests.assessment.builders import Registry, World, assessment, indicator, matrix, zone
from tests.conftest import auth

CODES = ["gdp", "fiscal_revenue", "rd_intensity", "tax_per_mu"]


def metrics_fake(years: list[int]) -> FakeMetricsClient:
    catalog = [indicator(c, periods=("year",)) for c in CODES]
    rows = {
        str(y): matrix(str(y), {z: {c: 10.0 + i + (y % 7) for c in CODES} for i, z in enumerate("ABC")}) for y in years
    }
    return FakeMetricsClient(rows, indicators=catalog)


def metrics_http(fake: FakeMetricsClient) -> httpx.MockTransport:
    """The few metrics routes the demo probes, answered from the fake."""

    async def handle(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/v1/indicators":
            items = [i.model_dump(mode="json") for i in await fake.indicators()]
            return httpx.Response(200, json={"items": items, "next_cursor": None})
        if request.url.path == "/v1/matrix":
            period = request.url.params["period"]
            codes = request.url.params["indicators"].split(",")
            if request.url.params.get("kind") == "high_tech":
                return httpx.Response(200, json={"rows": []})
            body = await fake.matrix(period=period, indicators=codes)
            return httpx.Response(200, content=body.model_dump_json())
        return httpx.Response(404, json={"status": 404, "title": "Not found"})

    return httpx.MockTransport(handle)


class Router(httpx.AsyncBaseTransport):
    def __init__(self, routes: dict[str, httpx.AsyncBaseTransport]) -> None:
        self.routes = routes

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        route = self.routes.get(request.url.host)
        if route is None:
            raise httpx.ConnectError(f"nothing listens at {request.url.host}", request=request)
        return await route.handle_async_request(request)


async def load_demo(client: httpx.AsyncClient, fake: FakeMetricsClient, urls: dict[str, str] | None = None) -> None:
    transport = Router({"assessment.test": client._transport, "metrics.test": metrics_http(fake)})
    async with httpx.AsyncClient(transport=transport, headers=auth("city_admin")) as http:
        await demo.load(http, urls or {"assessment": "http://assessment.test", "metrics": "http://metrics.test"})


class TestTheDemo:
    async def test_one_labelled_run_per_demo_year_and_nothing_more_the_second_time(self, app_client: Any) -> None:
        last = today_in_china().year - 1
        years = [last - 2, last - 1, last]
        fake = metrics_fake(years)
        world = World(registry=Registry([zone("A"), zone("B"), zone("C")]), metrics=fake)
        async with assessment(app_client, world) as client:
            await load_demo(client, fake)
            await load_demo(client, fake)
            methods = (await client.get("/v1/methodologies")).json()["items"]
            runs = (await client.get("/v1/assessments", headers=auth("city_admin"))).json()["items"]
            public = (await client.get("/v1/assessments")).json()["items"]
            method = (await client.get("/v1/methodologies/demo-econ-annual")).json()
        assert [m["code"] for m in methods] == ["demo-econ-annual"]  # no high-tech values in this world
        assert "示意" in method["title"] and "Illustrative" in method["note"]
        assert method["indicators"] == ["gdp", "fiscal_revenue", "rd_intensity", "tax_per_mu"]
        # One published run a year; the last year's first run superseded by a corrected one, and a draft left.
        states = sorted((r["period"], r["status"]) for r in runs)
        first, second, last = (str(y) for y in years)
        assert states == [
            (first, "published"),
            (second, "published"),
            (last, "draft"),
            (last, "published"),
            (last, "superseded"),
        ]
        superseded = next(r for r in runs if r["status"] == "superseded")
        corrected = next(r for r in runs if r["status"] == "published" and r["period"] == last)
        assert superseded["superseded_by"] == corrected["id"] and "更正版" in corrected["label"]
        assert sorted(r["status"] for r in public) == ["published"] * 3 + ["superseded"]  # no draft in public
        assert all("示例" in r["label"] for r in runs)
        assert sorted({lock.period for lock in fake.locks}) == [first, second, last]  # publishing locked them

    async def test_without_metrics_data_it_loads_nothing(self, app_client: Any) -> None:
        empty = FakeMetricsClient(indicators=[])
        async with assessment(app_client, World(metrics=empty)) as client:
            await load_demo(client, empty)
            methods = (await client.get("/v1/methodologies")).json()["items"]
        assert methods == []

    async def test_a_metrics_service_not_answering_is_skipped_quietly(self, app_client: Any) -> None:
        async with assessment(app_client, World()) as client:
            transport = Router({"assessment.test": client._transport})
            async with httpx.AsyncClient(transport=transport) as http:
                await demo.load(http, {"assessment": "http://assessment.test", "metrics": "http://down.invalid"})
            methods = (await client.get("/v1/methodologies")).json()["items"]
        assert methods == []


def test_the_methods_only_use_indicators_of_the_seed_catalog() -> None:
    from libs.domain.metrics.catalog import seed_codes

    seed = set(seed_codes())
    for code, kind, title, groups in demo.METHODS:
        doc = demo.build_method(code, kind, title, groups, seed)
        assert doc is not None
        used = {leaf["indicator"] for group in doc["root"]["children"] for leaf in group["children"]}
        assert used <= seed and used == {leaf["indicator"] for *_, leaves in groups for leaf in leaves}
        assert json.dumps(doc, ensure_ascii=False).count("示意") >= 1
