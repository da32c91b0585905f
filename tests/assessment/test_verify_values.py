"""Verification compares a run's stored input values with the metrics service's today (the fake here;
tests/assessment/test_verify_restated.py does it against the real metrics app over HTTP).

The method: GDP on goalposts 0–100 (weight 3), R&D intensity on goalposts 0–5 % (weight 1), as in
test_runs.py; the scores do not matter here, only which values are reported as restated.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from libs.domain.clients.metrics import FakeMetricsClient
from libs.domain.kernel.i18n import Text
from services.assessment.runs.restated import MAX_RESTATED, check_values, same_value
from services.assessment.tables import Assessment
from tests.assessment.builders import (
    CATALOG,
    Registry,
    World,
    assessment,
    dead_metrics,
    division,
    matrix,
    method_doc,
    publish,
    run,
    zone,
)

GDP = {"indicator": "gdp", "weight": 3, "normalisation": {"method": "goalposts", "min": 0, "max": 100}}
RD = {"indicator": "rd_intensity", "weight": 1, "normalisation": {"method": "goalposts", "min": 0, "max": 5}}
VALUES_2025 = {
    "A": {"gdp": 80, "rd_intensity": 2.5},
    "B": {"gdp": 60, "rd_intensity": 5},
    "C": {"gdp": 40, "rd_intensity": 1},
}


def world() -> World:
    zones = [zone("A", "甲开发区"), zone("B", "乙开发区"), zone("C", "丙开发区"), zone("H", "高新区", kind="high_tech")]
    divisions = [division("130700", "张家口市", is_city=True), division("130703", "桥西区")]
    fake = FakeMetricsClient(
        {"2025": matrix("2025", VALUES_2025)},
        indicators=CATALOG,
        division_matrices={"2025": matrix("2025", {"130703": {"gdp": 70, "rd_intensity": 2}})},
    )
    return World(registry=Registry(zones, divisions=divisions), metrics=fake)


class TestVerificationAsksTheMatrixAsTheRunDid:
    async def test_same_period_indicators_kind_registry_date_and_lineage(self, app_client: Any) -> None:
        w = world()
        async with assessment(app_client, w) as client:
            await publish(client, method_doc(GDP, RD))
            await run(client, "2025")
            asked_by_the_run = list(w.metrics.matrix_requests)
            w.metrics.matrix_requests.clear()
            body = (await client.post("/v1/assessments/1/verify")).json()
        assert w.metrics.matrix_requests == asked_by_the_run
        assert w.metrics.matrix_requests == [
            {
                "period": "2025",
                # the method's, then what the default sanction policy reads (实际利用外资)
                "indicators": ["gdp", "rd_intensity", "foreign_investment_used"],
                "kind": "economic",
                "as_of": date(2025, 12, 31),  # the run's registry_as_of, the end of 2025
                "lineage": "proforma",
            }
        ]
        assert (body["identical"], body["values_checked"], body["values_note"], body["restated"]) == (
            True,
            True,
            None,
            [],
        )


class TestValuesRestatedSinceTheRunAreListed:
    async def test_each_value_beyond_the_sixth_decimal_and_only_those(self, app_client: Any) -> None:
        # Today: A's gdp 80 -> 84 (restated), B's rd_intensity 5 -> none (gone), C's gdp 40 -> 40.0000004
        # (within half a unit of the sixth decimal: the same stored value) and C's rd_intensity
        # 1 -> 1.000001 (one unit of the sixth decimal: restated). A zone H outside the run is ignored.
        w = world()
        async with assessment(app_client, w) as client:
            await publish(client, method_doc(GDP, RD))
            created = await run(client, "2025")
            w.metrics.matrices["2025"] = matrix(
                "2025",
                {
                    "A": {"gdp": 84, "rd_intensity": 2.5},
                    "B": {"gdp": 60, "rd_intensity": None},
                    "C": {"gdp": 40.0000004, "rd_intensity": 1.000001},
                    "H": {"gdp": 1, "rd_intensity": 1},
                },
            )
            body = (await client.post(f"/v1/assessments/{created['id']}/verify")).json()
        assert body["restated"] == [
            {"zone_id": "A", "indicator": "gdp", "stored": "80", "current": "84"},
            {"zone_id": "B", "indicator": "rd_intensity", "stored": "5", "current": None},
            {"zone_id": "C", "indicator": "rd_intensity", "stored": "1", "current": "1.000001"},
        ]
        # the stored run still recomputes to itself: identical is about that only
        assert (body["identical"], body["differences"], body["values_checked"]) == (True, [], True)

    async def test_a_zone_missing_from_today_s_matrix_has_every_value_gone(self, app_client: Any) -> None:
        w = world()
        async with assessment(app_client, w) as client:
            await publish(client, method_doc(GDP, RD))
            created = await run(client, "2025")
            w.metrics.matrices["2025"] = matrix("2025", {z: v for z, v in VALUES_2025.items() if z != "B"})
            body = (await client.post(f"/v1/assessments/{created['id']}/verify")).json()
        assert body["restated"] == [
            {"zone_id": "B", "indicator": "gdp", "stored": "60", "current": None},
            {"zone_id": "B", "indicator": "rd_intensity", "stored": "5", "current": None},
        ]


class TestWithoutTheMetricsServiceVerificationStillAnswers:
    async def test_values_checked_is_false_with_the_reason_and_the_recomputation_stands(self, app_client: Any) -> None:
        w = world()
        async with assessment(app_client, w) as client:
            await publish(client, method_doc(GDP, RD))
            created = await run(client, "2025")
            w.metrics = dead_metrics()
            r = await client.post(f"/v1/assessments/{created['id']}/verify")
        body = r.json()
        assert r.status_code == 200
        assert (body["identical"], body["inputs_intact"], body["subjects_checked"]) == (True, True, 3)
        assert (body["values_checked"], body["restated"]) == (False, [])
        assert body["values_note"].startswith("the metrics service could not be asked (")
        assert "metrics service unreachable" in body["values_note"]
        assert body["values_note"].endswith("); verified from the stored inputs alone")


class TestAReferenceRunIsNotComparedWithTodaysValues:
    async def test_values_checked_is_false_and_says_why(self, app_client: Any) -> None:
        w = world()
        async with assessment(app_client, w) as client:
            await publish(client, method_doc(GDP, RD))
            created = await run(client, "2025", scope="divisions_without_zone")
            w.metrics.matrix_requests.clear()
            body = (await client.post(f"/v1/assessments/{created['id']}/verify")).json()
            chinese = await client.post(f"/v1/assessments/{created['id']}/verify", headers={"Accept-Language": "zh"})
        assert (body["identical"], body["values_checked"], body["restated"]) == (True, False, [])
        assert body["values_note"] == "only a run ranking zones has its values compared with the metrics service"
        assert chinese.json()["values_note"] == "参照评分的考评不与指标服务的现值比较"
        assert w.metrics.matrix_requests == []


class TestTheToleranceIsHalfAUnitOfTheSixthDecimal:
    def test_values_the_service_stores_alike_are_the_same_and_one_unit_apart_are_not(self) -> None:
        assert same_value(2.5, 2.5) and same_value(None, None)
        assert same_value(2.5, 2.5000004)  # 4e-7 < 5e-7
        assert not same_value(2.5, 2.500001)  # 1e-6: the smallest restatement at six decimals
        assert not same_value(1_000_000.0, 1_000_000.000001)  # at 1e6 the relative part allows 1e-8 only
        assert same_value(0.1 + 0.2, 0.3)  # float noise of a derived value (5.6e-17)
        assert not same_value(None, 0.0) and not same_value(0.0, None)


class TestALongListOfRestatedValuesIsCutShortAndSaysSo:
    async def test_201_restated_values_list_the_first_200_and_count_them_all(self) -> None:
        # 201 zones Z000..Z200 stored with gdp = i, answered today as i + 1: each one is restated.
        zones = [{"id": f"Z{i:03}", "name": f"Z{i:03}", "values": {"gdp": float(i)}} for i in range(201)]
        stored = Assessment(
            subjects="zones",
            period="2025",
            kind="economic",
            registry_as_of=date(2025, 12, 31),
            inputs={"methodology": method_doc(GDP), "zones": zones},
        )
        fake = FakeMetricsClient({"2025": matrix("2025", {z["id"]: {"gdp": z["values"]["gdp"] + 1} for z in zones})})
        found = await check_values(fake, stored)  # type: ignore[arg-type]
        assert (found.checked, len(found.restated), MAX_RESTATED) == (True, 200, 200)
        assert (found.restated[0].zone_id, found.restated[0].stored, found.restated[0].current) == ("Z000", 0, 1)
        assert found.restated[-1].zone_id == "Z199"
        assert found.note == Text("共201项数值已更正，仅列出前200项", "201 values restated; the first 200 are listed")
