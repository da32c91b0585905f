"""Bulletins, the half-year indicator rankings, target progress, sensitivity and reference scores."""

from __future__ import annotations

import csv
import io
from datetime import date
from typing import Any

import pytest
from openpyxl import load_workbook

from libs.domain.clients.metrics import FakeMetricsClient
from libs.domain.metrics.contracts import MatrixRead
from tests.assessment.builders import (
    ADMIN,
    CATALOG,
    Registry,
    World,
    assessment,
    division,
    indicator,
    matrix,
    method_doc,
    publish,
    run,
    zone,
)
from tests.helpers import assert_problem

ZONES = [zone("A", "甲开发区"), zone("B", "乙开发区"), zone("C", "丙开发区")]


class RecordingMetrics(FakeMetricsClient):
    """The fake metrics service, remembering the date each matrix was asked for."""

    def __init__(self, *args: Any, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.asked: list[tuple[str, date | None]] = []

    async def matrix(
        self, *, period: str, indicators: Any, kind: Any = None, as_of: Any = None, lineage: str = "proforma"
    ) -> MatrixRead:
        self.asked.append((period, as_of))
        return await super().matrix(period=period, indicators=indicators, kind=kind, as_of=as_of, lineage=lineage)


def zone_world(values: dict[str, dict[str, float | None]], period: str = "2025") -> World:
    metrics = FakeMetricsClient({period: matrix(period, values)}, indicators=CATALOG)
    return World(registry=Registry(ZONES), metrics=metrics)


class TestTheRunBulletin:
    async def test_html_with_an_svg_chart_csv_and_xlsx_with_chinese_headers(self, app_client: Any) -> None:
        values = {"A": {"gdp": 80}, "B": {"gdp": 60}, "C": {"gdp": 40}}
        async with assessment(app_client, zone_world(values)) as client:
            await publish(client, method_doc(note="权重为示例"))
            body = await run(client, "2025")
            html = await client.get(f"/v1/assessments/{body['id']}/bulletin.html")
            csv_ = await client.get(f"/v1/assessments/{body['id']}/bulletin.csv")
            xlsx = await client.get(f"/v1/assessments/{body['id']}/bulletin.xlsx")
            bad = await client.get(f"/v1/assessments/{body['id']}/bulletin.pdf")
        assert html.headers["content-type"].startswith("text/html")
        page = html.text
        assert "<svg" in page and "综合得分" in page and "甲开发区" in page and "权重为示例" in page
        assert "期间：2025年；" in page
        rows = list(csv.reader(io.StringIO(csv_.content.decode("utf-8-sig"))))
        assert rows[0][:5] == ["排名", "开发区", "综合得分（100分制）", "上期排名", "名次变化"]
        assert rows[1][:3] == ["1", "甲开发区", "80.00"]  # goalposts 0–100: 80 → 0.8 × 100, two decimals
        assert "attachment" in csv_.headers["content-disposition"]
        sheet = load_workbook(io.BytesIO(xlsx.content)).active
        assert sheet is not None and [c.value for c in sheet[4]][:3] == ["排名", "开发区", "综合得分（100分制）"]
        assert_problem(bad, 404)  # no such file operation (there is no ?format= switch)


class TestTheHalfYearIndicatorBulletin:
    def world(self) -> tuple[World, RecordingMetrics]:
        def half(gdp: list[float], energy: list[float | None]) -> dict[str, dict[str, float | None]]:
            return {z: {"gdp": g, "energy_intensity": e} for z, g, e in zip("ABC", gdp, energy, strict=True)}

        metrics = RecordingMetrics(
            {
                "2025H1": matrix("2025H1", half([10, 30, 20], [0.5, 0.8, None])),
                "2024H2": matrix("2024H2", half([40, 20, 10], [0.9, 0.6, None])),
            },
            indicators=CATALOG,
        )
        return World(registry=Registry(ZONES), metrics=metrics), metrics

    async def test_each_indicator_is_ranked_on_its_own_with_the_change_since_the_previous_half(
        self, app_client: Any
    ) -> None:
        world, metrics = self.world()
        async with assessment(app_client, world) as client:
            r = await client.get(
                "/v1/rankings", params={"period": "2025H1", "kind": "economic", "indicators": "gdp,energy_intensity"}
            )
        body = r.json()
        assert (body["period"], body["previous_period"], body["as_of"]) == ("2025H1", "2024H2", "2025-06-30")
        gdp, energy = body["indicators"]
        assert [(x["zone_id"], x["rank"], x["previous_rank"], x["rank_change"]) for x in gdp["rows"]] == [
            ("B", 1, 2, 1),
            ("C", 2, 3, 1),
            ("A", 3, 1, -2),
        ]
        # lower is better: A (0.5) first, B (0.8) second; C has no value and no rank
        assert [(x["zone_id"], x["rank"], x["movement"]) for x in energy["rows"]] == [
            ("A", 1, "up"),
            ("B", 2, "down"),
            ("C", None, None),
        ]
        assert [x["value"] for x in energy["rows"]] == ["0.5", "0.8", None]  # measurements: decimal strings
        assert r.headers["content-type"] == "application/json"
        # the previous half is asked for the zones standing at this half's end (pro-forma lineage)
        assert ("2024H2", date(2025, 6, 30)) in metrics.asked

    async def test_the_same_bulletin_in_html_csv_and_xlsx(self, app_client: Any) -> None:
        world, _ = self.world()
        params = {"period": "2025H1", "kind": "economic", "indicators": "gdp,energy_intensity"}
        async with assessment(app_client, world) as client:
            html = await client.get("/v1/rankings.html", params=params)
            csv_ = await client.get("/v1/rankings.csv", params=params)
            xlsx = await client.get("/v1/rankings.xlsx", params=params)
        assert html.text.count("<svg") == 2 and "2025年上半年 开发区主要指标排名通报" in html.text
        assert "对比期间：2024年下半年" in html.text and "2025H1" not in html.text
        rows = list(csv.reader(io.StringIO(csv_.content.decode("utf-8-sig"))))
        assert rows[0] == ["分项", "排名", "开发区", "数值", "单位", "上期数值", "上期排名", "名次变化"]
        assert len(rows) == 7 and rows[1][2:4] == ["乙开发区", "30.00"]  # as the HTML shows it
        assert len(load_workbook(io.BytesIO(xlsx.content)).sheetnames) == 2

    async def test_unknown_indicators_and_bad_periods_are_problems(self, app_client: Any) -> None:
        world, _ = self.world()
        async with assessment(app_client, world) as client:
            unknown = await client.get(
                "/v1/rankings", params={"period": "2025H1", "kind": "economic", "indicators": "gdp,nope"}
            )
            bad = await client.get("/v1/rankings", params={"period": "H1-2025", "kind": "economic"})
        assert assert_problem(unknown, 422)["errors"][0]["loc"] == ["query", "indicators", 1]
        problem = assert_problem(bad, 422)  # parsed at the edge: a validation problem like any bad field
        assert problem["type"] == "urn:devzones:problem:validation"
        assert (problem["errors"][0]["loc"], problem["errors"][0]["type"]) == (["query", "period"], "period")


class TestTargetProgress:
    async def test_targets_are_evaluated_and_projected_from_the_zones_data(self, app_client: Any) -> None:
        catalog = [
            indicator("gdp_share_of_city", unit="%"),
            indicator("rd_spending"),
            indicator("gdp"),
        ]

        def zone_values(share: float, rd: float) -> dict[str, float | None]:
            return {"gdp_share_of_city": share, "rd_spending": rd, "gdp": 1000}

        years = {
            2017: (zone_values(25, 20), zone_values(25, 20)),
            2018: (zone_values(27, 25), zone_values(25, 20)),
            2019: (zone_values(28, 30), zone_values(26, 20)),
        }
        metrics = FakeMetricsClient(
            {str(y): matrix(str(y), {"X": x, "Y": yv}) for y, (x, yv) in years.items()}, indicators=catalog
        )
        async with assessment(app_client, World(metrics=metrics)) as client:
            r = await client.get("/v1/targets/progress", params={"year": 2019})
        items = {i["id"]: i for i in r.json()["items"]}
        share = items["gdp_share_2020"]  # 50, 52, 54 % in 2017–2019 → 56 % by 2020 ≥ 55
        assert (share["value"], share["met"], share["target"]) == ("54", False, "55")
        assert share["projection"]["value"] == pytest.approx(56) and share["projection"]["on_track"] is True
        rd = items["rd_intensity_2020"]  # 2.0, 2.25, 2.5 % → 2.75 % by 2020 < 3
        assert rd["value"] == "2.5" and rd["met"] is False and rd["projection"]["on_track"] is False
        assert rd["projection"]["value"] == pytest.approx(2.75)
        assert items["gdp_share_2018"]["met"] is True and items["gdp_share_2018"]["projection"] is None
        assert "not in the metrics catalog" in items["employment_2020"]["note"]


class TestSensitivity:
    async def test_rank_intervals_with_a_bounded_number_of_samples(self, app_client: Any) -> None:
        two = {"indicator": "gdp", "weight": 1, "normalisation": {"method": "goalposts", "min": 0, "max": 100}}
        rd = {"indicator": "rd_intensity", "weight": 1, "normalisation": {"method": "goalposts", "min": 0, "max": 5}}
        values = {
            "A": {"gdp": 90, "rd_intensity": 4.5},
            "B": {"gdp": 50, "rd_intensity": 1},
            "C": {"gdp": 40, "rd_intensity": 2},
        }
        async with assessment(app_client, zone_world(values)) as client:
            await publish(client, method_doc(two, rd))
            body = await run(client, "2025")
            url = f"/v1/assessments/{body['id']}/sensitivity"
            first = await client.get(url, params={"samples": 50})
            again = await client.get(url, params={"samples": 50})
            too_few = await client.get(url, params={"samples": 5})
            too_many = await client.get(url, params={"samples": 5000})
        result = first.json()
        assert result == again.json() and result["samples"] == 50 and result["seed"] == int(body["id"])
        a = result["rank_intervals"][0]
        assert (a["zone_id"], a["rank"], a["median_rank"], a["p5_rank"], a["p95_rank"]) == ("A", 1, 1, 1, 1)
        assert_problem(too_few, 422)
        assert_problem(too_many, 422)


class TestReferenceScoresOfCountiesWithoutAZone:
    async def test_counties_are_scored_against_the_zones_ruler_in_a_separate_table(self, app_client: Any) -> None:
        # min_max over the zones (40..80): 桥西区 with 70 scores 75 (2nd among the zones' 100, 50, 0),
        # 崇礼区 with 30 is below every zone and scores 0 (tied with the last zone: 3rd).
        divisions = [
            division("130700", "张家口市", is_city=True),
            division("130703", "桥西区"),
            division("130709", "崇礼区"),
            division("130705", "宣化区", has_zone=True),
        ]
        metrics = FakeMetricsClient(
            {"2025": matrix("2025", {"A": {"gdp": 80}, "B": {"gdp": 60}, "C": {"gdp": 40}})},
            indicators=CATALOG,
            division_matrices={
                "2025": matrix("2025", {"130703": {"gdp": 70}, "130709": {"gdp": 30}, "130705": {"gdp": 99}})
            },
        )
        leaf = {"indicator": "gdp", "normalisation": {"method": "min_max"}}
        world = World(registry=Registry(ZONES, divisions=divisions), metrics=metrics)
        async with assessment(app_client, world) as client:
            await publish(client, method_doc(leaf))
            body = await run(client, "2025", scope="divisions_without_zone")
            fetched = (await client.get(f"/v1/assessments/{body['id']}")).json()
            wrong = await client.post(
                "/v1/assessments",
                json={"methodology": "econ-annual", "period": "2025", "kind": "economic", "label": "x",
                      "scope": "divisions_without_zone", "divisions": ["130703", "130705"]},
                headers=ADMIN,
            )  # fmt: skip
            html = await client.get(f"/v1/assessments/{body['id']}/bulletin.html")
            verified = (await client.post(f"/v1/assessments/{body['id']}/verify")).json()
            zone_runs = (await client.get("/v1/assessments")).json()["items"]
        refs = [(r["division"], r["score"], r["reference_rank"], r["recommended"]) for r in body["reference_scores"]]
        assert refs == [("130703", 75.0, 2, True), ("130709", 0.0, 3, False)]
        assert body["results"] == [] and fetched["reference_scores"] == body["reference_scores"]
        assert assert_problem(wrong, 422)["errors"][0]["loc"] == ["body", "divisions", 1]
        assert "参考得分" in html.text and "桥西区" in html.text
        assert verified["identical"] is True and verified["subjects_checked"] == 2
        assert [r["scope"] for r in zone_runs] == ["divisions_without_zone"]
