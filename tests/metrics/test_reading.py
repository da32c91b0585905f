"""Reading: the values matrix (pro-forma lineage, derived from summed components), completeness, quality."""

from __future__ import annotations

from typing import Any

import pytest

from libs.domain.metrics.catalog import SEED_INDICATORS
from tests.conftest import auth
from tests.helpers import assert_problem
from tests.metrics.builders import (
    CITY,
    DONGSHAN,
    GAOXIN,
    HUAIAN,
    XUANHUA,
    ZHUOLU,
    Registry,
    assert_period_problem,
    batch,
    obs,
    zone,
)

STATS = auth("statistics_bureau")
REQUIRED_YEARLY = sorted(i.code for i in SEED_INDICATORS if i.kind != "derived")


async def push(client: Any, *rows: dict[str, Any], headers: dict[str, str] = CITY) -> None:
    r = await client.post("/v1/observations", json=batch(*rows), headers=headers)
    assert r.status_code == 200, r.text


def rows_by_zone(matrix: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {row["zone_id"] or row["division"]: row for row in matrix["rows"]}


class TestTheMatrix:
    async def _history(self, client: Any) -> None:
        await push(
            client,
            obs({"zone_id": XUANHUA}, "gdp", "2015", 1000, "万元"),
            obs({"zone_id": XUANHUA}, "rd_spending", "2015", 20, "万元"),
            obs({"zone_id": DONGSHAN}, "gdp", "2015", 500, "万元"),
            obs({"zone_id": DONGSHAN}, "rd_spending", "2015", 30, "万元"),
            obs({"division": "130700"}, "gdp", "2015", 10000, "万元"),
            obs({"zone_id": XUANHUA}, "gdp", "2017", 1800, "万元"),
            obs({"zone_id": XUANHUA}, "rd_spending", "2017", 54, "万元"),
        )

    async def test_base_and_derived_values_of_the_zones_of_the_period(self, metrics: Any) -> None:
        async with metrics() as client:
            await self._history(client)
            r = await client.get(
                "/v1/matrix", params={"period": "2015", "indicators": "gdp,rd_intensity,gdp_share_of_city"}
            )  # public: no token
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["as_of"] == "2015-12-31" and body["lineage"] == "none"
        assert [i["code"] for i in body["indicators"]] == ["gdp", "rd_intensity", "gdp_share_of_city"]
        rows = rows_by_zone(body)
        assert set(rows) == {XUANHUA, DONGSHAN, ZHUOLU, GAOXIN}  # 怀安 was established in 2016
        # 宣化: 20 / 1000 = 2.0 %; share of the city 1000 / 10000 = 10 %.
        assert rows[XUANHUA]["values"] == {"gdp": "1000", "rd_intensity": "2", "gdp_share_of_city": "10"}
        assert rows[DONGSHAN]["values"]["rd_intensity"] == "6"  # 30 / 500
        assert rows[ZHUOLU]["values"] == {"gdp": None, "rd_intensity": None, "gdp_share_of_city": None}

    async def test_proforma_adds_the_merged_zones_components_before_computing_ratios(self, metrics: Any) -> None:
        async with metrics() as client:
            await self._history(client)
            r = await client.get(
                "/v1/matrix",
                params={
                    "period": "2015",
                    "indicators": "gdp,rd_spending,rd_intensity",
                    "kind": "economic",
                    "as_of": "2017-12-31",
                    "lineage": "proforma",
                },
            )
        rows = rows_by_zone(r.json())
        assert set(rows) == {XUANHUA, ZHUOLU, HUAIAN}
        xuanhua = rows[XUANHUA]
        assert xuanhua["proforma_from"] == [DONGSHAN]
        # (1000 + 500) and (20 + 30): R&D intensity 50 / 1500 = 3.33 %, not the mean of 2 % and 6 %.
        assert xuanhua["values"]["gdp"] == "1500"
        assert xuanhua["values"]["rd_spending"] == "50"
        assert float(xuanhua["values"]["rd_intensity"]) == pytest.approx(100 * 50 / 1500)

    async def test_periods_after_the_merger_are_not_added_again(self, metrics: Any) -> None:
        async with metrics() as client:
            await self._history(client)
            r = await client.get("/v1/matrix", params={"period": "2017", "indicators": "gdp", "lineage": "proforma"})
        xuanhua = rows_by_zone(r.json())[XUANHUA]
        assert xuanhua["values"] == {"gdp": "1800"} and xuanhua["proforma_from"] == []

    async def test_an_unknown_indicator_or_period_is_422(self, metrics: Any) -> None:
        async with metrics() as client:
            unknown = await client.get("/v1/matrix", params={"period": "2015", "indicators": "gdp,nonsense"})
            bad_period = await client.get("/v1/matrix", params={"period": "2015-01"})
        assert assert_problem(unknown, 422)["errors"][0]["msg"] == "unknown: nonsense"
        assert_period_problem(bad_period, ["query", "period"])


class TestCompleteness:
    async def _push_all_for_xuanhua_and_one_for_zhuolu(self, client: Any) -> None:
        rows = [obs({"zone_id": XUANHUA}, code, "2017", 1, unit_of(code)) for code in REQUIRED_YEARLY]
        await push(client, *rows, obs({"zone_id": ZHUOLU}, "gdp", "2017", 1, "万元"))

    async def test_missing_indicators_and_rates_per_division(self, metrics: Any) -> None:
        async with metrics() as client:
            await client.put("/v1/deadlines/2017", json={"due_on": "2099-01-31"}, headers=CITY)
            await self._push_all_for_xuanhua_and_one_for_zhuolu(client)
            r = await client.get("/v1/completeness", params={"period": "2017"}, headers=STATS)
        body = r.json()
        assert body["due_on"] == "2099-01-31"
        assert body["required"] == REQUIRED_YEARLY
        zones = {z["zone_id"]: z for z in body["by_zone"]}
        assert set(zones) == {XUANHUA, ZHUOLU, GAOXIN, HUAIAN}
        assert zones[XUANHUA]["status"] == "complete_on_time" and zones[XUANHUA]["missing"] == []
        assert zones[ZHUOLU]["status"] == "incomplete"
        assert zones[ZHUOLU]["missing"] == [c for c in REQUIRED_YEARLY if c != "gdp"]
        assert zones[GAOXIN]["division"] == "130708"  # entrusted to 万全区
        rates = {d["division"]: d for d in body["divisions"]}
        n = len(REQUIRED_YEARLY)
        assert rates["130705"]["rate"] == 1.0 and rates["130705"]["on_time"] == 1
        assert rates["130731"]["rate"] == round(1 / n, 6)  # rounded to 6 places
        assert rates["130708"]["rate"] == 0.0

    async def test_values_pushed_after_the_due_date_are_late(self, metrics: Any) -> None:
        async with metrics() as client:
            await client.put("/v1/deadlines/2017", json={"due_on": "2018-01-31"}, headers=CITY)
            await self._push_all_for_xuanhua_and_one_for_zhuolu(client)
            r = await client.get("/v1/completeness", params={"period": "2017", "division": "130731"}, headers=CITY)
            whole = await client.get("/v1/completeness", params={"period": "2017"}, headers=CITY)
        body = r.json()
        assert [z["zone_id"] for z in body["by_zone"]] == [ZHUOLU]
        assert body["by_zone"][0]["status"] == "overdue" and body["by_zone"][0]["late"] == ["gdp"]
        xuanhua = next(z for z in whole.json()["by_zone"] if z["zone_id"] == XUANHUA)
        assert xuanhua["status"] == "complete_late"

    async def test_a_county_sees_its_own_division_only(self, metrics: Any) -> None:
        zhuolu = auth("county", division="130731")
        async with metrics() as client:
            own = await client.get("/v1/completeness", params={"period": "2017"}, headers=zhuolu)
            other = await client.get(
                "/v1/completeness", params={"period": "2017", "division": "130705"}, headers=zhuolu
            )
        assert [z["zone_id"] for z in own.json()["by_zone"]] == [ZHUOLU]
        assert_problem(other, 403)

    async def test_the_default_due_date_is_thirty_days_after_the_period(self, metrics: Any) -> None:
        async with metrics() as client:
            r = await client.get("/v1/deadlines/2017Q1", headers=CITY)
            early = await client.put("/v1/deadlines/2017Q1", json={"due_on": "2017-03-01"}, headers=CITY)
        assert r.json()["due_on"] == "2017-04-30" and r.json()["default"] is True  # 31 March + 30 days
        assert_problem(early, 422)


def unit_of(code: str) -> str:
    return next(i.unit for i in SEED_INDICATORS if i.code == code)


class TestQualityFindings:
    async def test_consistency_rules(self, metrics: Any) -> None:
        async with metrics() as client:
            await push(
                client,
                obs({"zone_id": XUANHUA}, "solid_waste_generated", "2017", 100, "吨"),
                obs({"zone_id": XUANHUA}, "solid_waste_reused", "2017", 120, "吨"),
                obs({"zone_id": ZHUOLU}, "gdp", "2017", 20, "万元"),
                obs({"zone_id": ZHUOLU}, "rd_spending", "2017", 30, "万元"),
                obs({"zone_id": XUANHUA}, "gdp", "2017", 800, "万元"),
                obs({"zone_id": GAOXIN}, "gdp", "2017", 300, "万元"),
                obs({"division": "130700"}, "gdp", "2017", 1000, "万元"),
            )
            r = await client.get("/v1/quality", params={"period": "2017"}, headers=STATS)
        findings = {(f["rule"], f["indicator"], f["zone_id"], f["division"]): f for f in r.json()["findings"]}
        part = findings[("part_exceeds_whole", "solid_waste_reused", XUANHUA, None)]
        assert part["values"] == {"solid_waste_reused": 120.0, "solid_waste_generated": 100.0}
        share = findings[("share_above_100", "rd_intensity", ZHUOLU, None)]
        assert share["values"]["rd_intensity"] == 150.0  # 30 / 20
        total = findings[("zones_exceed_total", "gdp", None, "130700")]
        assert total["values"] == {"zones_sum": 1120.0, "total": 1000.0, "zones": 3}  # 800 + 20 + 300
        # 高新's share of the city (300 / 1000 = 30 %) is not a finding; neither is the reuse rate twice.
        assert not any(
            f["rule"] == "share_above_100" and f["indicator"] == "gdp_share_of_city" for f in r.json()["findings"]
        )
        assert not any(f["indicator"] == "solid_waste_reuse_rate" for f in r.json()["findings"])

    async def test_a_growth_far_from_the_other_zones_is_an_outlier(self, metrics: Any) -> None:
        ids = [f"zg{i}" for i in range(6)]
        fake = Registry([zone(z, f"示例开发区{i}", authority="130705") for i, z in enumerate(ids)])
        growth_2017 = [105, 106, 104, 105, 107, 300]  # the last one triples
        async with metrics(fake) as client:
            await push(client, *[obs({"zone_id": z}, "gdp", "2016", 100, "万元") for z in ids])
            later = [obs({"zone_id": z}, "gdp", "2017", v, "万元") for z, v in zip(ids, growth_2017, strict=True)]
            await push(client, *later)
            r = await client.get("/v1/quality", params={"period": "2017"}, headers=STATS)
        outliers = [f for f in r.json()["findings"] if f["rule"] == "growth_outlier"]
        assert [f["zone_id"] for f in outliers] == ["zg5"]
        # growths 5 %, 6 %, 4 %, 5 %, 7 %, 200 %: median 5.5 %, MAD 1 %, z = 0.6745 × 1.945 / 0.01 ≈ 131.2
        assert outliers[0]["values"]["z"] == pytest.approx(131.19, abs=0.01)
        assert outliers[0]["values"]["median_growth"] == pytest.approx(0.055)

    async def test_first_digits_far_from_benford_are_a_finding(self, metrics: Any) -> None:
        rows = [obs({"division": f"1307{i:02d}"}, "gdp", "2017", 900 + i, "万元") for i in range(60)]
        async with metrics() as client:
            await push(client, *rows, headers=STATS)
            r = await client.get("/v1/quality", params={"period": "2017"}, headers=STATS)
        body = r.json()
        assert body["benford"][0]["division"] is None
        assert body["benford"][0]["observed"]["9"] == 60
        assert body["benford"][0]["conforms"] is False
        assert any(f["rule"] == "benford" for f in body["findings"])

    async def test_quality_is_for_the_supervisors_only(self, metrics: Any) -> None:
        async with metrics() as client:
            r = await client.get("/v1/quality", params={"period": "2017"}, headers=auth("county", division="130705"))
        assert_problem(r, 403)


class TestTheDivisionMatrix:
    async def test_a_countys_own_totals_with_derived_values(self, metrics: Any) -> None:
        async with metrics() as client:
            await push(
                client,
                obs({"division": "130723"}, "gdp", "2017", 5000, "万元"),
                obs({"division": "130723"}, "rd_spending", "2017", 100, "万元"),
                obs({"division": "130700"}, "gdp", "2017", 100000, "万元"),
            )
            r = await client.get(
                "/v1/matrix/divisions",
                params={
                    "period": "2017",
                    "divisions": "130723,130725",
                    "indicators": "gdp,rd_intensity,gdp_share_of_city",
                },
            )
            bad = await client.get("/v1/matrix/divisions", params={"period": "2017", "divisions": "12"})
        rows = rows_by_zone(r.json())
        # 康保县: 100 / 5000 = 2 %; 5000 / 100000 = 5 % of the city
        assert rows["130723"]["values"] == {"gdp": "5000", "rd_intensity": "2", "gdp_share_of_city": "5"}
        assert rows["130725"]["values"] == {"gdp": None, "rd_intensity": None, "gdp_share_of_city": None}
        assert_problem(bad, 422)


class TestAPeriodParameterThatIsNotAPeriod:
    @pytest.mark.parametrize(
        ("method", "path", "params", "loc"),
        [
            ("GET", "/v1/matrix", {"period": "2015-01"}, ["query", "period"]),
            ("GET", "/v1/matrix/divisions", {"period": "2015H3", "divisions": "130700"}, ["query", "period"]),
            ("GET", "/v1/observations", {"period": "17"}, ["query", "period"]),
            ("GET", "/v1/observations", {"from": "2017Q5"}, ["query", "from"]),
            ("GET", "/v1/observations", {"to": "next year"}, ["query", "to"]),
            (
                "GET",
                "/v1/observations/history",
                {"zone_id": XUANHUA, "indicator": "gdp", "period": "2017M1"},
                ["query", "period"],
            ),
            ("GET", "/v1/locks", {"period": "1800"}, ["query", "period"]),
            ("GET", "/v1/completeness", {"period": "x"}, ["query", "period"]),
            ("GET", "/v1/quality", {"period": "x"}, ["query", "period"]),
            ("GET", "/v1/templates/observations.xlsx", {"period": "2017H0"}, ["query", "period"]),
            ("GET", "/v1/deadlines/2017H3", {}, ["path", "period"]),
            ("PUT", "/v1/deadlines/2017H3", {}, ["path", "period"]),
        ],
    )
    async def test_is_a_validation_problem_located_at_the_parameter(
        self, metrics: Any, method: str, path: str, params: dict[str, str], loc: list[str]
    ) -> None:
        body = {"due_on": "2018-03-01"} if method == "PUT" else None
        async with metrics() as client:
            r = await client.request(method, path, params=params, json=body, headers=CITY)
        assert_period_problem(r, loc)
