"""Runs over the API: computed from the registry and metrics fakes, stored, read back, verified.

The method of these tests: GDP on goalposts 0–100 (weight 3) and R&D intensity on goalposts
0–5 % (weight 1), arithmetic, scale 100. Worked by hand for 2025:
A: 0.75×0.80 + 0.25×0.50 = 0.725 → 72.5 (1st); B: 0.75×0.60 + 0.25×1.00 = 0.70 → 70.0 (2nd);
C: 0.75×0.40 + 0.25×0.20 = 0.35 → 35.0 (3rd). And for 2024: A 42.5 (2nd), B 87.5 (1st), C 33.75 (3rd).
"""

from __future__ import annotations

import asyncio
import json
from datetime import datetime
from typing import Any

import pytest
from sqlalchemy import text

from libs.domain.clients.metrics import FakeMetricsClient
from services.assessment.runtime import AssessmentRuntime
from services.common.runtime import runtime_of
from tests.assessment.builders import (
    ADMIN,
    CATALOG,
    COMMERCE,
    Registry,
    World,
    assessment,
    db_of,
    dead_metrics,
    dead_registry,
    lineage,
    matrix,
    method_doc,
    publish,
    run,
    zone,
)
from tests.helpers import assert_problem

GDP = {"indicator": "gdp", "weight": 3, "normalisation": {"method": "goalposts", "min": 0, "max": 100}}
RD = {"indicator": "rd_intensity", "weight": 1, "normalisation": {"method": "goalposts", "min": 0, "max": 5}}
VALUES_2025 = {
    "A": {"gdp": 80, "rd_intensity": 2.5},
    "B": {"gdp": 60, "rd_intensity": 5},
    "C": {"gdp": 40, "rd_intensity": 1},
}
VALUES_2024 = {
    "A": {"gdp": 50, "rd_intensity": 1},
    "B": {"gdp": 90, "rd_intensity": 4},
    "C": {"gdp": 45, "rd_intensity": 0},
}


def world(**matrices: dict[str, Any]) -> World:
    zones = [zone("A", "甲开发区"), zone("B", "乙开发区"), zone("C", "丙开发区"), zone("H", "高新区", kind="high_tech")]
    fake = FakeMetricsClient(
        {period.removeprefix("p"): matrix(period.removeprefix("p"), rows) for period, rows in matrices.items()},
        indicators=CATALOG,
    )
    return World(registry=Registry(zones), metrics=fake)


def by_zone(body: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {r["zone_id"]: r for r in body["results"]}


class TestARunScoresAndRanksEveryZoneOfTheKind:
    async def test_scores_ranks_sub_scores_and_leaves_are_those_worked_by_hand(self, app_client: Any) -> None:
        async with assessment(app_client, world(p2025=VALUES_2025)) as client:
            await publish(client, method_doc(GDP, RD))
            created = await run(client, "2025", publish=False)  # a draft, read back by its bureau
            fetched = (await client.get(f"/v1/assessments/{created['id']}", headers=ADMIN)).json()
        results = by_zone(created)
        assert [r["zone_id"] for r in created["results"]] == ["A", "B", "C"]
        assert {z: (r["score"], r["rank"]) for z, r in results.items()} == {
            "A": (pytest.approx(72.5), 1),
            "B": (pytest.approx(70.0), 2),
            "C": (pytest.approx(35.0), 3),
        }
        assert results["A"]["groups"] == {"root": pytest.approx(0.725)}
        assert results["A"]["leaves"]["rd_intensity"] == {
            "indicator": "rd_intensity",
            "raw": "2.5",  # the stored measurement, a decimal string
            "normalised": pytest.approx(0.5),
            "transformed": None,  # every key present, null where it does not apply
            "winsorised": None,
            "imputed": None,
            "note": None,
        }
        assert "H" not in results  # a high-tech zone is never measured with the economic ruler
        assert (created["zone_count"], created["ranked"], created["registry_as_of"]) == (3, 3, "2025-12-31")
        assert created["methodology"]["code"] == "econ-annual" and len(created["inputs_sha256"]) == 64
        assert fetched == created

    async def test_every_leaf_detail_is_answered_as_it_is_stored_and_verified(self, app_client: Any) -> None:
        # GDP: ln on goalposts 1..100, so 80 scores ln 80 / ln 100 and C's 0 is outside the domain
        # (missing: zero). R&D: winsorised to the [0, 0.5] quantiles of A and B (2.5 .. 3.75, so
        # B's 5 becomes 3.75), then min_max over 2.5 .. 3.75; C has none: the mean of A and B, 0.5.
        gdp = {"indicator": "gdp", "transform": "ln", "normalisation": {"method": "goalposts", "min": 1, "max": 100}}
        rd = {
            "indicator": "rd_intensity",
            "winsorise": {"lower": 0, "upper": 0.5},
            "missing": "mean",
            "normalisation": {"method": "min_max"},
        }
        values = {"A": {"gdp": 80, "rd_intensity": 2.5}, "B": {"gdp": 60, "rd_intensity": 5}, "C": {"gdp": 0}}
        async with assessment(app_client, world(p2025=values)) as client:
            await publish(client, method_doc(gdp, rd))
            created = await run(client, "2025", publish=False)
            fetched = (await client.get(f"/v1/assessments/{created['id']}", headers=ADMIN)).json()
            verified = (await client.post(f"/v1/assessments/{created['id']}/verify", headers=ADMIN)).json()
        leaves = {z: r["leaves"] for z, r in by_zone(created).items()}
        assert leaves["A"]["gdp"] == {
            "indicator": "gdp",
            "raw": "80",
            "normalised": 0.951545,  # ln 80 / ln 100 = 0.9515449934..., rounded to 6 places
            "transformed": 4.382027,  # ln 80 = 4.3820266346...
            "winsorised": None,
            "imputed": None,
            "note": None,
        }
        assert leaves["C"]["gdp"] == {
            "indicator": "gdp",
            "raw": "0",
            "normalised": 0.0,
            "transformed": None,
            "winsorised": None,
            "note": "0 is outside the domain of ln: counted as missing",
            "imputed": "zero",
        }
        assert leaves["B"]["rd_intensity"] == {
            "indicator": "rd_intensity",
            "raw": "5",
            "normalised": 1.0,
            "transformed": None,
            "winsorised": 3.75,
            "imputed": None,
            "note": None,
        }
        assert leaves["C"]["rd_intensity"] == {
            "indicator": "rd_intensity",
            "raw": None,
            "normalised": 0.5,
            "transformed": None,
            "winsorised": None,
            "imputed": "mean",
            "note": None,
        }
        assert by_zone(created)["C"]["missing"] == ["gdp", "rd_intensity"]
        assert fetched == created
        assert verified["identical"] is True and verified["differences"] == []

    async def test_the_first_run_has_no_rank_changes_and_says_so(self, app_client: Any) -> None:
        async with assessment(app_client, world(p2025=VALUES_2025)) as client:
            await publish(client, method_doc(GDP, RD))
            body = await run(client, "2025")
        assert all(r["movement"] is None and r["previous_rank"] is None for r in body["results"])
        assert any("no published run of econ-annual for economic zones in 2024" in n for n in body["notes"])

    async def test_scores_equal_to_six_decimals_share_a_rank(self, app_client: Any) -> None:
        values = {"A": {"gdp": 70.0000001}, "B": {"gdp": 70.0000004}, "C": {"gdp": 10}}
        async with assessment(app_client, world(p2025=values)) as client:
            await publish(client, method_doc())
            body = await run(client, "2025")
        assert {r["zone_id"]: r["rank"] for r in body["results"]} == {"A": 1, "B": 1, "C": 3}

    async def test_a_zone_missing_an_exclude_zone_indicator_is_listed_as_not_ranked(self, app_client: Any) -> None:
        values = {"A": {"gdp": 80, "rd_intensity": 2.5}, "B": {"gdp": 60, "rd_intensity": 5}, "C": {"gdp": 40}}
        rd = {**RD, "missing": "exclude_zone"}
        async with assessment(app_client, world(p2025=values)) as client:
            # 2 of 3 zones complete is below the default 90 % coverage: this test is about exclusion
            await publish(client, method_doc(GDP, rd, min_coverage=0.5))
            body = await run(client, "2025")
        c = by_zone(body)["C"]
        assert (c["rank"], c["score"], c["missing"]) == (None, None, ["rd_intensity"])
        assert "rd_intensity" in c["excluded"]
        assert body["results"][-1]["zone_id"] == "C" and body["ranked"] == 2

    async def test_a_kind_without_zones_is_refused_as_no_subjects_and_nothing_is_stored(self, app_client: Any) -> None:
        async with assessment(app_client, World(registry=Registry([zone("H", kind="high_tech")]))) as client:
            await publish(client, method_doc(GDP, RD))
            payload = {"methodology": "econ-annual", "period": "2025", "kind": "economic", "label": "2025"}
            refused = await client.post("/v1/assessments", json=payload, headers=ADMIN)
            listed = await client.get("/v1/assessments")
        problem = assert_problem(refused, 422)
        assert problem["code"] == "no_subjects" and problem["errors"][0]["type"] == "no_subjects"
        assert listed.json()["items"] == []


class TestOnlyEndedPeriodsAreAssessed:
    @pytest.mark.parametrize(
        ("period", "today"), [("2026", "2026-12-31"), ("2030", "2026-12-07"), ("2025", "2025-12-31")]
    )
    async def test_a_period_ending_after_today_in_china_is_refused(
        self, app_client: Any, period: str, today: str
    ) -> None:
        # 16:00 UTC on the period's last day is already the next day in China: the last case is the
        # day itself, still 23:59 in China at 15:59 UTC
        now = datetime.fromisoformat(f"{today}T15:59:00+00:00")
        async with assessment(app_client, world(p2025=VALUES_2025)) as client:
            runtime_of(client.app, AssessmentRuntime).clock = lambda: now  # type: ignore[attr-defined]
            await publish(client, method_doc(GDP, RD))
            payload = {"methodology": "econ-annual", "period": period, "kind": "economic", "label": period}
            refused = await client.post("/v1/assessments", json=payload, headers=ADMIN)
        problem = assert_problem(refused, 422)
        assert problem["code"] == "period_not_ended" and problem["errors"][0]["loc"] == ["body", "period"]

    async def test_a_period_is_assessed_from_the_first_day_after_it_in_china(self, app_client: Any) -> None:
        now = datetime.fromisoformat("2025-12-31T16:00:00+00:00")  # 2026-01-01 00:00 in China
        async with assessment(app_client, world(p2025=VALUES_2025)) as client:
            runtime_of(client.app, AssessmentRuntime).clock = lambda: now  # type: ignore[attr-defined]
            await publish(client, method_doc(GDP, RD))
            body = await run(client, "2025")
        assert body["period"] == "2025" and body["zone_count"] == 3


class TestRankChangesAgainstTheEarlierRun:
    async def test_the_change_is_previous_minus_current_rank(self, app_client: Any) -> None:
        async with assessment(app_client, world(p2024=VALUES_2024, p2025=VALUES_2025)) as client:
            await publish(client, method_doc(GDP, RD))
            first = await run(client, "2024")
            second = await run(client, "2025")
        assert {z: r["rank"] for z, r in by_zone(first).items()} == {"B": 1, "A": 2, "C": 3}
        moves = {z: (r["previous_rank"], r["rank_change"], r["movement"]) for z, r in by_zone(second).items()}
        assert moves == {"A": (2, 1, "up"), "B": (1, -1, "down"), "C": (3, 0, "same")}
        assert second["previous_assessment"] == first["id"]

    async def test_a_merged_zone_keeps_its_best_predecessors_rank_and_a_new_zone_is_new(self, app_client: Any) -> None:
        # 2024: P1 (gdp 90) 1st, P2 (80) 2nd, Q (70) 3rd. Mid-2025 P1 and P2 merge into M; N is new.
        zones = [
            zone("P1", valid_to="2025-06-30", status="active"),
            zone("P2", valid_to="2025-06-30", status="active"),
            zone("Q"),
            zone("M", valid_from="2025-06-30"),
            zone("N", valid_from="2025-03-01"),
        ]
        metrics = FakeMetricsClient(
            {
                "2024": matrix("2024", {"P1": {"gdp": 90}, "P2": {"gdp": 80}, "Q": {"gdp": 70}}),
                "2025": matrix("2025", {"M": {"gdp": 60}, "Q": {"gdp": 75}, "N": {"gdp": 50}}),
            },
            indicators=CATALOG,
        )
        registry = Registry(zones, lineages={"M": lineage("M", "P2", "P1")})
        async with assessment(app_client, World(registry=registry, metrics=metrics)) as client:
            await publish(client, method_doc())
            await run(client, "2024")
            body = await run(client, "2025")
        results = by_zone(body)
        assert (results["Q"]["rank"], results["Q"]["previous_rank"], results["Q"]["rank_change"]) == (1, 3, 2)
        assert results["M"]["previous_rank"] == 1 and results["M"]["previous_via"] == ["P1", "P2"]
        assert (results["M"]["rank"], results["M"]["rank_change"], results["M"]["movement"]) == (2, -1, "down")
        assert (results["N"]["movement"], results["N"]["previous_rank"]) == ("new", None)
        assert ("lineage", "Q") not in registry.calls  # a zone ranked before needs no lineage


class TestVerification:
    async def test_a_stored_run_recomputes_identically(self, app_client: Any) -> None:
        async with assessment(app_client, world(p2024=VALUES_2024, p2025=VALUES_2025)) as client:
            await publish(client, method_doc(GDP, RD))
            await run(client, "2024")
            second = await run(client, "2025")
            verified = await client.post(f"/v1/assessments/{second['id']}/verify")
        body = verified.json()
        assert verified.status_code == 200
        assert (body["identical"], body["inputs_intact"], body["differences"]) == (True, True, [])
        assert body["inputs_sha256"] == body["recomputed_sha256"] == second["inputs_sha256"]
        assert body["subjects_checked"] == 3

    async def test_a_tampered_score_is_reported(self, app_client: Any) -> None:
        async with assessment(app_client, world(p2025=VALUES_2025)) as client:
            await publish(client, method_doc(GDP, RD))
            created = await run(client, "2025")
            async with db_of(client).engine.begin() as conn:
                await conn.execute(text("UPDATE assessment_result SET score = 99.0 WHERE zone = 'C'"))
            body = (await client.post(f"/v1/assessments/{created['id']}/verify")).json()
        assert body["identical"] is False and body["inputs_intact"] is True
        assert body["differences"] == [
            {"zone_id": "C", "division": None, "outcome": None, "field": "score", "stored": 99.0, "recomputed": 35.0}
        ]

    async def test_tampered_inputs_no_longer_match_their_digest(self, app_client: Any) -> None:
        async with assessment(app_client, world(p2025=VALUES_2025)) as client:
            await publish(client, method_doc(GDP, RD))
            created = await run(client, "2025")
            async with db_of(client).engine.begin() as conn:
                row = (await conn.execute(text("SELECT inputs FROM assessment"))).scalar_one()
                inputs = json.loads(row) if isinstance(row, str) else row
                inputs["zones"][2]["values"]["gdp"] = 41.0
                await conn.execute(text("UPDATE assessment SET inputs = :i"), {"i": json.dumps(inputs)})
            body = (await client.post(f"/v1/assessments/{created['id']}/verify")).json()
        assert body["inputs_intact"] is False and body["identical"] is False
        assert {d["field"] for d in body["differences"]} >= {"score"}

    async def test_an_unknown_run_is_404(self, app_client: Any) -> None:
        async with assessment(app_client, world()) as client:
            assert_problem(await client.post("/v1/assessments/9/verify"), 404)
            assert_problem(await client.get("/v1/assessments/9"), 404)


class TestBadRequestsAreProblems:
    async def test_kind_period_and_methodology_are_checked(self, app_client: Any) -> None:
        async with assessment(app_client, world(p2025=VALUES_2025)) as client:
            await publish(client, method_doc(GDP, RD))
            base = {"methodology": "econ-annual", "period": "2025", "kind": "economic", "label": "x"}
            wrong_kind = await client.post("/v1/assessments", json={**base, "kind": "high_tech"}, headers=ADMIN)
            half = await client.post("/v1/assessments", json={**base, "period": "2025H1"}, headers=ADMIN)
            garbage = await client.post("/v1/assessments", json={**base, "period": "last year"}, headers=ADMIN)
            unknown = await client.post("/v1/assessments", json={**base, "methodology": "nope"}, headers=ADMIN)
            old = await client.post("/v1/assessments", json={**base, "version": 7}, headers=ADMIN)
        assert assert_problem(wrong_kind, 422)["errors"][0]["loc"] == ["body", "kind"]
        assert assert_problem(half, 422)["errors"][0]["loc"] == ["body", "period"]
        assert assert_problem(garbage, 422)["errors"][0]["loc"] == ["body", "period"]
        assert_problem(unknown, 404)
        assert_problem(old, 404)

    async def test_a_bureau_runs_only_its_own_kind(self, app_client: Any) -> None:
        async with assessment(app_client, world(p2025=VALUES_2025)) as client:
            await publish(client, method_doc(GDP, RD, applies_to=["economic", "high_tech"]))
            refused = await client.post(
                "/v1/assessments",
                json={"methodology": "econ-annual", "period": "2025", "kind": "high_tech", "label": "x"},
                headers=COMMERCE,
            )
            allowed = await client.post(
                "/v1/assessments",
                json={"methodology": "econ-annual", "period": "2025", "kind": "economic", "label": "x"},
                headers=COMMERCE,
            )
        assert_problem(refused, 403)
        assert allowed.status_code == 201


class TestUpstreamDown:
    @pytest.mark.parametrize("which", ["registry", "metrics"])
    async def test_a_service_down_is_a_503_and_nothing_is_stored(self, app_client: Any, which: str) -> None:
        ok = world(p2025=VALUES_2025)
        async with assessment(app_client, ok) as client:
            await publish(client, method_doc(GDP, RD))
            if which == "registry":
                ok.registry = dead_registry()
            else:
                ok.metrics = dead_metrics()
            r = await client.post(
                "/v1/assessments",
                json={"methodology": "econ-annual", "period": "2025", "kind": "economic", "label": "x"},
                headers=ADMIN,
            )
            listing = (await client.get("/v1/assessments")).json()
        assert assert_problem(r, 503)["service"] == which
        assert listing["items"] == []

    async def test_with_both_down_the_registry_asked_first_is_named(self, app_client: Any) -> None:
        ok = world(p2025=VALUES_2025)
        async with assessment(app_client, ok) as client:
            await publish(client, method_doc(GDP, RD))
            ok.registry, ok.metrics = dead_registry(), dead_metrics()
            r = await client.post(
                "/v1/assessments",
                json={"methodology": "econ-annual", "period": "2025", "kind": "economic", "label": "x"},
                headers=ADMIN,
            )
            listing = (await client.get("/v1/assessments", headers=ADMIN)).json()
        assert assert_problem(r, 503)["service"] == "registry"
        assert listing["items"] == []


RUN_2025 = {"methodology": "econ-annual", "period": "2025", "kind": "economic", "label": "x"}


class TestRetries:
    async def test_the_same_idempotency_key_returns_the_stored_run(self, app_client: Any) -> None:
        body = RUN_2025
        async with assessment(app_client, world(p2025=VALUES_2025)) as client:
            await publish(client, method_doc(GDP, RD))
            headers = {**ADMIN, "Idempotency-Key": "run-2025"}
            first = await client.post("/v1/assessments", json=body, headers=headers)
            again = await client.post("/v1/assessments", json=body, headers=headers)
            other = await client.post("/v1/assessments", json={**body, "label": "y"}, headers=headers)
            listing = (await client.get("/v1/assessments", headers=ADMIN)).json()  # drafts: with a token
        assert (first.status_code, again.status_code) == (201, 200)
        assert again.json() == first.json()
        assert again.headers["Idempotent-Replayed"] == "true" and "Idempotent-Replayed" not in first.headers
        assert again.headers["Location"] == first.headers["Location"] == f"/v1/assessments/{first.json()['id']}"
        assert assert_problem(other, 422)["errors"][0]["loc"] == ["header", "Idempotency-Key"]
        assert len(listing["items"]) == 1

    async def test_a_key_belongs_to_its_sender(self, app_client: Any) -> None:
        async with assessment(app_client, world(p2025=VALUES_2025)) as client:
            await publish(client, method_doc(GDP, RD))
            mine = await client.post("/v1/assessments", json=RUN_2025, headers={**ADMIN, "Idempotency-Key": "k"})
            theirs = await client.post("/v1/assessments", json=RUN_2025, headers={**COMMERCE, "Idempotency-Key": "k"})
            listing = (await client.get("/v1/assessments", headers=ADMIN)).json()
        assert (mine.status_code, theirs.status_code) == (201, 201)
        assert len(listing["items"]) == 2

    async def test_concurrent_requests_with_one_key_run_once(self, app_client: Any) -> None:
        async with assessment(app_client, world(p2025=VALUES_2025)) as client:
            await publish(client, method_doc(GDP, RD))
            headers = {**ADMIN, "Idempotency-Key": "run-once"}
            answers = await asyncio.gather(
                *(client.post("/v1/assessments", json=RUN_2025, headers=headers) for _ in range(4))
            )
            listing = (await client.get("/v1/assessments", headers=ADMIN)).json()
        statuses = sorted(a.status_code for a in answers)
        assert statuses.count(201) == 1 and set(statuses) <= {200, 201, 409}
        for answer in answers:
            if answer.status_code == 409:
                assert_problem(answer, 409)
            elif answer.status_code == 200:
                assert answer.headers["Idempotent-Replayed"] == "true"
        assert len(listing["items"]) == 1

    async def test_a_failed_run_releases_its_key(self, app_client: Any) -> None:
        ok = world(p2025=VALUES_2025)
        async with assessment(app_client, ok) as client:
            await publish(client, method_doc(GDP, RD))
            metrics, ok.metrics = ok.metrics, dead_metrics()
            headers = {**ADMIN, "Idempotency-Key": "retry-me"}
            failed = await client.post("/v1/assessments", json=RUN_2025, headers=headers)
            ok.metrics = metrics
            retried = await client.post("/v1/assessments", json=RUN_2025, headers=headers)
            again = await client.post("/v1/assessments", json=RUN_2025, headers=headers)
        assert_problem(failed, 503)
        assert (retried.status_code, again.status_code) == (201, 200)
        assert again.json() == retried.json()

    async def test_a_refused_caller_claims_no_key(self, app_client: Any) -> None:
        async with assessment(app_client, world(p2025=VALUES_2025)) as client:
            await publish(client, method_doc(GDP, RD, applies_to=["economic", "high_tech"]))
            body = {**RUN_2025, "kind": "high_tech"}
            headers = {**COMMERCE, "Idempotency-Key": "not-mine"}
            refused = [await client.post("/v1/assessments", json=body, headers=headers) for _ in range(2)]
            async with db_of(client).engine.begin() as conn:
                keys = (await conn.execute(text("SELECT count(*) FROM idempotency_key"))).scalar_one()
        assert [r.status_code for r in refused] == [403, 403]
        assert keys == 0


class TestListingRuns:
    async def test_runs_are_listed_by_period_and_a_bad_period_is_a_validation_problem(self, app_client: Any) -> None:
        async with assessment(app_client, world(p2024=VALUES_2024, p2025=VALUES_2025)) as client:
            await publish(client, method_doc(GDP, RD))
            await run(client, "2024")
            await run(client, "2025")
            only = (await client.get("/v1/assessments", params={"period": "2025"})).json()
            everything = (await client.get("/v1/assessments")).json()
            bad = await client.get("/v1/assessments", params={"period": "last year"})
        assert [r["period"] for r in only["items"]] == ["2025"]
        assert [r["period"] for r in everything["items"]] == ["2025", "2024"]
        problem = assert_problem(bad, 422)
        assert problem["type"] == "urn:devzones:problem:validation"
        assert (problem["errors"][0]["loc"], problem["errors"][0]["type"]) == (["query", "period"], "period")
