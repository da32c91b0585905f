"""The matrix builds a half or a year nobody pushed from its parts, and says so (both backends)."""

from __future__ import annotations

from typing import Any

from tests.metrics.builders import CITY, DONGSHAN, GAOXIN, XUANHUA, ZHUOLU, batch, obs


async def push(client: Any, *rows: dict[str, Any]) -> None:
    r = await client.post("/v1/observations", json=batch(*rows), headers=CITY)
    assert r.status_code == 200, r.text


async def matrix(client: Any, path: str = "/v1/matrix", **params: str) -> dict[str, dict[str, Any]]:
    r = await client.get(path, params=params)
    assert r.status_code == 200, r.text
    return {row["zone_id"] or row["division"]: row for row in r.json()["rows"]}


def quarters(subject: dict[str, str], code: str, unit: str, year: int, *values: float) -> list[dict[str, Any]]:
    return [obs(subject, code, f"{year}Q{i}", v, unit) for i, v in enumerate(values, start=1)]


class TestAHalfBuiltFromQuarters:
    async def test_a_flow_a_stock_and_a_ratio(self, metrics: Any) -> None:
        async with metrics() as client:
            await push(
                client,
                *quarters({"zone_id": XUANHUA}, "gdp", "万元", 2017, 120, 130),
                *quarters({"zone_id": XUANHUA}, "rd_spending", "万元", 2017, 3, 5),
                *quarters({"zone_id": XUANHUA}, "employment", "人", 2017, 900, 950),
                *quarters({"zone_id": ZHUOLU}, "gdp", "万元", 2017, 70),
            )
            rows = await matrix(client, period="2017H1", indicators="gdp,employment,rd_intensity,exports")
        xuanhua = rows[XUANHUA]
        # GDP 120 + 130 = 250; employment at the end of June 950; R&D intensity (3 + 5) / 250 * 100 = 3.2 %.
        assert xuanhua["values"] == {
            "gdp": "250",
            "employment": "950",
            "rd_intensity": "3.2",
            "exports": None,
        }
        assert xuanhua["built"] == ["gdp", "employment", "rd_intensity"]
        assert xuanhua["missing"] == {"exports": ["exports 2017H1"]}
        zhuolu = rows[ZHUOLU]
        assert zhuolu["values"]["gdp"] is None and zhuolu["built"] == []
        assert zhuolu["missing"]["gdp"] == ["gdp 2017Q2"]
        assert zhuolu["missing"]["rd_intensity"] == ["gdp 2017Q2", "rd_spending 2017H1"]


class TestAYearBuiltFromHalvesOrQuarters:
    async def test_halves_quarters_and_a_pushed_year_first(self, metrics: Any) -> None:
        async with metrics() as client:
            await push(
                client,
                obs({"zone_id": XUANHUA}, "gdp", "2017H1", 250, "万元"),
                obs({"zone_id": XUANHUA}, "gdp", "2017Q3", 140, "万元"),
                obs({"zone_id": XUANHUA}, "gdp", "2017Q4", 160, "万元"),
                *quarters({"zone_id": ZHUOLU}, "gdp", "万元", 2017, 10, 20, 30, 40),
                obs({"zone_id": GAOXIN}, "gdp", "2017", 600, "万元"),
                *quarters({"zone_id": GAOXIN}, "gdp", "万元", 2017, 100, 100, 100, 100),
            )
            rows = await matrix(client, period="2017", indicators="gdp")
        assert rows[XUANHUA]["values"] == {"gdp": "550"} and rows[XUANHUA]["built"] == ["gdp"]  # 250 + 140 + 160
        assert rows[ZHUOLU]["values"] == {"gdp": "100"} and rows[ZHUOLU]["built"] == ["gdp"]  # 10 + 20 + 30 + 40
        assert rows[GAOXIN]["values"] == {"gdp": "600"} and rows[GAOXIN]["built"] == []  # pushed, not 400


class TestBuiltValuesElsewhereInTheMatrix:
    async def test_the_city_s_total_is_built_for_a_share_and_for_the_divisions_matrix(self, metrics: Any) -> None:
        async with metrics() as client:
            await push(
                client,
                obs({"zone_id": XUANHUA}, "gdp", "2017H1", 250, "万元"),
                *quarters({"division": "130700"}, "gdp", "万元", 2017, 2000, 3000),
                obs({"division": "130705"}, "gdp", "2017Q1", 700, "万元"),
            )
            zones = await matrix(client, period="2017H1", indicators="gdp_share_of_city")
            divisions = await matrix(
                client, "/v1/matrix/divisions", period="2017H1", divisions="130700,130705", indicators="gdp"
            )
        # 250 / (2000 + 3000) * 100 = 5 %.
        assert zones[XUANHUA]["values"] == {"gdp_share_of_city": "5"} and zones[XUANHUA]["built"] == [
            "gdp_share_of_city"
        ]
        assert divisions["130700"]["values"] == {"gdp": "5000"} and divisions["130700"]["built"] == ["gdp"]
        assert divisions["130705"]["values"] == {"gdp": None}
        assert divisions["130705"]["missing"] == {"gdp": ["gdp 2017Q2"]}

    async def test_proforma_adds_a_predecessor_s_built_year(self, metrics: Any) -> None:
        async with metrics() as client:
            await push(
                client,
                obs({"zone_id": XUANHUA}, "gdp", "2015", 1000, "万元"),
                obs({"zone_id": DONGSHAN}, "gdp", "2015H1", 200, "万元"),
                *quarters({"zone_id": DONGSHAN}, "gdp", "万元", 2015, 0, 0, 140, 160),
            )
            rows = await matrix(
                client, period="2015", indicators="gdp", kind="economic", as_of="2017-12-31", lineage="proforma"
            )
        # 宣化's own 1000, plus 东山's first half 200 and its third and fourth quarters 140 + 160.
        assert rows[XUANHUA]["values"] == {"gdp": "1500"}
        assert rows[XUANHUA]["proforma_from"] == [DONGSHAN] and rows[XUANHUA]["built"] == ["gdp"]
