"""The indicator catalog: the seed, derived formulas checked, versions instead of edits."""

from __future__ import annotations

from typing import Any

from tests.helpers import assert_problem
from tests.metrics.builders import CITY, XUANHUA, batch, indicator, obs


async def catalog(client: Any) -> dict[str, dict[str, Any]]:
    r = await client.get("/v1/indicators", params={"limit": 500})
    return {i["code"]: i for i in r.json()["items"]}


class TestTheSeedCatalog:
    async def test_every_domain_indicator_is_there_with_ratios_as_derived(self, metrics: Any) -> None:
        async with metrics() as client:
            items = await catalog(client)
        assert items["gdp"]["unit"] == "万元" and items["gdp"]["kind"] == "base"
        assert items["employment"]["kind"] == "stock"
        assert items["rd_intensity"]["formula"] == "rd_spending / gdp * 100"
        assert items["tax_per_mu"]["formula"] == "tax_revenue / land_area_mu"
        assert items["gdp_share_of_city"]["formula"] == "gdp / city(gdp) * 100"
        assert items["energy_intensity"]["direction"] == "lower_is_better"
        for code in (
            "high_tech_share",
            "investment_intensity",
            "solid_waste_reuse_rate",
            "sewage_treatment_rate",
            "dominant_industry_share",
            "exports_share_of_city",
            "foreign_investment_share_of_city",
            "fiscal_revenue_share_of_city",
        ):
            assert items[code]["kind"] == "derived"


class TestDerivedFormulasAreChecked:
    async def test_a_valid_formula_is_accepted(self, metrics: Any) -> None:
        async with metrics() as client:
            r = await client.post(
                "/v1/indicators",
                json=indicator("export_per_employee", kind="derived", unit="万美元/人", formula="exports / employment"),
                headers=CITY,
            )
        assert r.status_code == 201 and r.json()["version"] == 1

    async def test_unknown_codes_code_execution_and_cycles_are_refused(self, metrics: Any) -> None:
        async with metrics() as client:
            unknown = await client.post(
                "/v1/indicators", json=indicator("x1", kind="derived", formula="gdp / nothing"), headers=CITY
            )
            code = await client.post(
                "/v1/indicators",
                json=indicator("x2", kind="derived", formula="__import__('os').system('true')"),
                headers=CITY,
            )
            await client.post(
                "/v1/indicators", json=indicator("a_ratio", kind="derived", formula="gdp / 2"), headers=CITY
            )
            await client.post(
                "/v1/indicators", json=indicator("b_ratio", kind="derived", formula="a_ratio * 2"), headers=CITY
            )
            cycle = await client.post(
                "/v1/indicators", json=indicator("a_ratio", kind="derived", formula="b_ratio + gdp"), headers=CITY
            )
            base_with_formula = await client.post("/v1/indicators", json=indicator("x3", formula="gdp"), headers=CITY)
        assert "nothing" in assert_problem(unknown, 422)["errors"][0]["msg"]
        assert_problem(code, 422)
        assert assert_problem(cycle, 422)["errors"][0]["type"] == "formula.cycle"
        assert_problem(base_with_formula, 422)


class TestIndicatorsAreVersionedNotEdited:
    async def test_a_new_version_is_added_and_all_versions_listed(self, metrics: Any) -> None:
        async with metrics() as client:
            r = await client.post(
                "/v1/indicators",
                json=indicator("gdp", name_en="GDP (revised wording)", period_types=["year", "half", "quarter"]),
                headers=CITY,
            )
            versions = await client.get("/v1/indicators/gdp/versions")
            items = await catalog(client)
        assert r.json()["version"] == 2
        assert [v["version"] for v in versions.json()["items"]] == [1, 2]
        assert versions.json()["next_cursor"] is None
        assert items["gdp"]["name_en"] == "GDP (revised wording)"

    async def test_the_same_definition_sent_again_is_not_a_new_version(self, metrics: Any) -> None:
        body = indicator("probe", min=0, max="100.5")
        async with metrics() as client:
            first = await client.post("/v1/indicators", json=body, headers=CITY)
            again = await client.post("/v1/indicators", json={**body, "max": 100.50}, headers=CITY)
            changed = await client.post("/v1/indicators", json={**body, "name_en": "Probe"}, headers=CITY)
            versions = await client.get("/v1/indicators/probe/versions")
        assert (first.status_code, again.status_code, changed.status_code) == (201, 200, 201)
        assert again.json() == first.json()
        assert [v["version"] for v in versions.json()["items"]] == [1, 2]

    async def test_the_versions_are_paged(self, metrics: Any) -> None:
        async with metrics() as client:
            for name_en in ("Probe one", "Probe two", "Probe three"):
                r = await client.post("/v1/indicators", json=indicator("probe", name_en=name_en), headers=CITY)
                assert r.status_code == 201, r.text
            first = await client.get("/v1/indicators/probe/versions", params={"limit": 2})
            cursor = first.json()["next_cursor"]
            rest = await client.get("/v1/indicators/probe/versions", params={"limit": 2, "cursor": cursor})
            one = await client.get("/v1/indicators/probe/versions", params={"limit": 1})
            after_one = await client.get(
                "/v1/indicators/probe/versions", params={"limit": 1, "cursor": one.json()["next_cursor"]}
            )
        assert [(v["version"], v["name_en"]) for v in first.json()["items"]] == [(1, "Probe one"), (2, "Probe two")]
        assert cursor is not None
        assert [(v["version"], v["name_en"]) for v in rest.json()["items"]] == [(3, "Probe three")]
        assert rest.json()["next_cursor"] is None
        assert [v["version"] for v in one.json()["items"]] == [1]
        assert [v["version"] for v in after_one.json()["items"]] == [2]
        assert after_one.json()["next_cursor"] is not None

    async def test_a_used_indicator_keeps_its_unit_and_kind(self, metrics: Any) -> None:
        async with metrics() as client:
            await client.post(
                "/v1/observations", json=batch(obs({"zone_id": XUANHUA}, "gdp", "2017", 1, "万元")), headers=CITY
            )
            unit = await client.post("/v1/indicators", json=indicator("gdp", unit="亿元"), headers=CITY)
            kind = await client.post("/v1/indicators", json=indicator("gdp", kind="stock"), headers=CITY)
        assert_problem(unit, 409)
        assert_problem(kind, 409)

    async def test_only_the_city_admin_adds_indicators(self, metrics: Any) -> None:
        from tests.conftest import auth

        async with metrics() as client:
            r = await client.post("/v1/indicators", json=indicator("x"), headers=auth("statistics_bureau"))
        assert_problem(r, 403)
