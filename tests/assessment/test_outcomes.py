"""Rewards, warnings, revocation review and summons decided by annual runs (三十).

Each zone's score is its GDP (goalposts 0–100, scale 100), so ranks read off the data.
"""

from __future__ import annotations

from typing import Any

from libs.domain.clients.metrics import FakeMetricsClient
from tests.assessment.builders import (
    ADMIN,
    CATALOG,
    COMMERCE,
    SCIENCE,
    Registry,
    World,
    assessment,
    matrix,
    method_doc,
    publish,
    run,
    zone,
)
from tests.conftest import auth
from tests.helpers import assert_problem

ECON = [f"Z{i:02d}" for i in range(1, 13)]
TECH = ["H1", "H2", "H3", "H4", "H5"]


def econ_world(**years: dict[str, dict[str, float]]) -> World:
    zones = [zone(z) for z in ECON]
    metrics = FakeMetricsClient(
        {y.removeprefix("p"): matrix(y.removeprefix("p"), rows) for y, rows in years.items()}, indicators=CATALOG
    )
    return World(registry=Registry(zones), metrics=metrics)


def tech_world(**years: list[float]) -> World:
    zones = [zone(z, kind="high_tech") for z in TECH]
    metrics = FakeMetricsClient(
        {
            y.removeprefix("p"): matrix(y.removeprefix("p"), {z: {"gdp": v} for z, v in zip(TECH, values, strict=True)})
            for y, values in years.items()
        },
        indicators=CATALOG,
    )
    return World(registry=Registry(zones), metrics=metrics)


HT_METHOD = method_doc(code="ht-annual", applies_to=["high_tech"])


def descending() -> dict[str, dict[str, float]]:
    return {z: {"gdp": 95.0 - 5 * i} for i, z in enumerate(ECON)}


async def outcomes_of(client: Any, run_id: int) -> list[dict[str, Any]]:
    r = await client.get(f"/v1/assessments/{run_id}/outcomes")
    assert r.status_code == 200, r.text
    return list(r.json()["items"])


def who(items: list[dict[str, Any]], outcome: str, rule: str | None = None) -> list[str]:
    return sorted(o["zone_id"] for o in items if o["outcome"] == outcome and (rule is None or o["rule"] == rule))


class TestEconomicZones:
    async def test_the_first_annual_run_commends_the_top_ten_and_big_foreign_investors(self, app_client: Any) -> None:
        values = descending()
        values["Z11"]["foreign_investment_used"] = 12_000.0  # 1.2亿美元
        values["Z05"]["foreign_investment_used"] = 9_000.0
        async with assessment(app_client, econ_world(p2025=values)) as client:
            await publish(client, method_doc())
            body = await run(client, "2025")
            items = await outcomes_of(client, body["id"])
        assert who(items, "commended", "top_by_score") == ECON[:10]
        assert who(items, "commended", "indicator_at_least") == ["Z11"]
        # 12 zones: the bottom 5 are taken among the 2 not commended by score (commend_first)
        assert who(items, "warned", "bottom_by_score") == ["Z11", "Z12"]
        z11 = next(o for o in items if o["zone_id"] == "Z11" and o["rule"] == "indicator_at_least")
        assert z11["label"] == "利用外资1亿美元以上" and z11["numbers"]["value"] == 12_000.0
        assert body["outcomes"] == len(items)

    async def test_rank_improvements_and_drops_compare_with_the_previous_year(self, app_client: Any) -> None:
        # 2024 Z01..Z12 in order; 2025 exactly reversed: Z12 +11, Z11 +9, Z10 +7, Z09 +5, Z08 +3, Z07 +1,
        # Z06 −1, Z05 −3, Z04 −5, Z03 −7, Z02 −9, Z01 −11.
        reversed_ = {z: {"gdp": 40.0 + 5 * i} for i, z in enumerate(ECON)}
        async with assessment(app_client, econ_world(p2024=descending(), p2025=reversed_)) as client:
            await publish(client, method_doc())
            await run(client, "2024")
            body = await run(client, "2025")
            items = await outcomes_of(client, body["id"])
        assert who(items, "commended", "top_by_improvement") == ["Z07", "Z08", "Z09", "Z10", "Z11", "Z12"]
        assert who(items, "warned", "largest_drops") == ["Z01", "Z02", "Z03", "Z04", "Z05"]
        drop = next(o for o in items if o["zone_id"] == "Z01" and o["rule"] == "largest_drops")
        assert drop["numbers"] == {"previous_rank": 1, "rank": 12, "change": -11, "n": 5, "cutoff_change": -3}

    async def test_every_warning_summons_the_zones_leaders(self, app_client: Any) -> None:
        async with assessment(app_client, econ_world(p2025=descending())) as client:
            await publish(client, method_doc())
            body = await run(client, "2025")
            summons = (await client.get("/v1/summons", headers=COMMERCE)).json()["items"]
            own = await client.get("/v1/summons", headers=auth("zone_committee", zone="Z12"))
            z12 = auth("zone_committee", zone="Z12")
            other = await client.get("/v1/summons", params={"zone_id": "Z11"}, headers=z12)
            anonymous = await client.get("/v1/summons")
            items = await outcomes_of(client, body["id"])
        assert sorted(s["zone_id"] for s in summons) == ["Z11", "Z12"]
        assert all("主要负责人" in s["summoned"] and s["status"] == "pending" for s in summons)
        assert [s["zone_id"] for s in own.json()["items"]] == ["Z12"]
        assert_problem(other, 403)
        assert_problem(anonymous, 401)
        warned = [o for o in items if o["outcome"] == "warned"]
        assert all(o["summons"] is not None for o in warned)
        assert all(o["summons"] is None for o in items if o["outcome"] == "commended")

    async def test_a_half_year_run_decides_nothing(self, app_client: Any) -> None:
        async with assessment(app_client, econ_world(p2025H1=descending())) as client:
            await publish(client, method_doc(period_type="half"))
            body = await run(client, "2025H1")
            items = await outcomes_of(client, body["id"])
        assert items == [] and any("annual runs only" in n for n in body["notes"])


class TestHighTechZones:
    async def test_warned_two_years_running_is_flagged_for_revocation_review(self, app_client: Any) -> None:
        async with assessment(app_client, tech_world(p2024=[90, 80, 70, 60, 50], p2025=[91, 81, 71, 61, 51])) as client:
            await publish(client, HT_METHOD)
            first = await run(client, "2024", methodology="ht-annual", kind="high_tech")
            second = await run(client, "2025", methodology="ht-annual", kind="high_tech")
            items = await outcomes_of(client, second["id"])
            zone_history = (await client.get("/v1/zones/H5/outcomes")).json()["items"]
        assert who(items, "commended") == ["H1", "H2", "H3"]
        assert who(items, "warned") == ["H4", "H5"]
        flagged = [o for o in items if o["outcome"] == "revocation_review"]
        assert sorted(o["zone_id"] for o in flagged) == ["H4", "H5"]
        assert f"run #{first['id']}" in flagged[0]["detail"]
        assert [(o["assessment"], o["outcome"]) for o in zone_history] == [
            (second["id"], "revocation_review"),
            (second["id"], "warned"),
            (first["id"], "warned"),
        ]

    async def test_a_tie_at_the_cut_off_includes_all_tied_zones(self, app_client: Any) -> None:
        async with assessment(app_client, tech_world(p2025=[90, 80, 70, 70, 50])) as client:
            await publish(client, HT_METHOD)
            body = await run(client, "2025", methodology="ht-annual", kind="high_tech")
            items = await outcomes_of(client, body["id"])
        top = [o for o in items if o["rule"] == "top_by_score"]
        assert sorted(o["zone_id"] for o in top) == ["H1", "H2", "H3", "H4"]
        assert sorted(o["zone_id"] for o in top if o["tie"]) == ["H3", "H4"]
        assert all("tied at the cut-off" in o["detail"] for o in top if o["tie"])


class TestOutcomesAndPoliciesArePages:
    async def test_a_runs_outcomes_walked_a_page_of_one_at_a_time(self, app_client: Any) -> None:
        # 5 high-tech zones 90, 80, 70, 60, 50 under the source defaults: the top 3 commended (three
        # outcomes at least), so pages of one must follow next_cursor through every outcome in order.
        async with assessment(app_client, tech_world(p2025=[90, 80, 70, 60, 50])) as client:
            await publish(client, HT_METHOD)
            body = await run(client, "2025", methodology="ht-annual", kind="high_tech")
            every = await outcomes_of(client, body["id"])
            walked: list[dict[str, Any]] = []
            cursor: str | None = None
            pages = 0
            while True:
                params: dict[str, Any] = {"limit": 1} | ({"cursor": cursor} if cursor else {})
                page = (await client.get(f"/v1/assessments/{body['id']}/outcomes", params=params)).json()
                pages += 1
                assert len(page["items"]) <= 1
                walked.extend(page["items"])
                cursor = page["next_cursor"]
                if cursor is None:
                    break
            bad = await client.get(f"/v1/assessments/{body['id']}/outcomes", params={"cursor": "bm9wZQ"})
        assert len(every) >= 3 and walked == every and pages in (len(every), len(every) + 1)
        assert all(isinstance(o["id"], str) and o["assessment"] == body["id"] for o in every)
        assert_problem(bad, 422)

    async def test_the_policies_of_the_two_kinds_a_page_of_one_at_a_time(self, app_client: Any) -> None:
        async with assessment(app_client, World()) as client:
            first = (await client.get("/v1/sanction-policies", params={"limit": 1})).json()
            second = (
                await client.get("/v1/sanction-policies", params={"limit": 1, "cursor": first["next_cursor"]})
            ).json()
            only = (await client.get("/v1/sanction-policies", params={"kind": "high_tech"})).json()
            bad = await client.get("/v1/sanction-policies", params={"cursor": "bm9wZQ"})
        assert [p["kind"] for p in first["items"]] == ["economic"] and first["next_cursor"] is not None
        assert [p["kind"] for p in second["items"]] == ["high_tech"] and second["next_cursor"] is None
        assert [p["kind"] for p in only["items"]] == ["high_tech"] and only["next_cursor"] is None
        assert_problem(bad, 422)


class TestPoliciesAreDataAndVersioned:
    async def test_the_source_defaults_apply_until_a_policy_is_stored(self, app_client: Any) -> None:
        async with assessment(app_client, World()) as client:
            policies = (await client.get("/v1/sanction-policies")).json()["items"]
        econ = next(p for p in policies if p["kind"] == "economic")
        assert (econ["version"], econ["default"]) == (0, True)
        assert [r["n"] for r in econ["commend"] if r["rule"] == "top_by_score"] == [10]

    async def test_a_stored_policy_is_used_by_later_runs(self, app_client: Any) -> None:
        policy = {"commend": [{"rule": "top_by_score", "n": 1, "label": "第1名"}], "warn": []}
        async with assessment(app_client, tech_world(p2025=[90, 80, 70, 60, 50])) as client:
            await publish(client, HT_METHOD)
            stored = await client.put("/v1/sanction-policies/high_tech", json=policy, headers=SCIENCE)
            refused = await client.put("/v1/sanction-policies/high_tech", json=policy, headers=COMMERCE)
            body = await run(client, "2025", methodology="ht-annual", kind="high_tech")
            items = await outcomes_of(client, body["id"])
        assert stored.status_code == 200 and stored.json()["version"] == 1
        assert_problem(refused, 403)
        assert [(o["zone_id"], o["label"]) for o in items] == [("H1", "第1名")]

    async def test_a_bad_policy_is_refused_with_every_fault(self, app_client: Any) -> None:
        policy = {
            "commend": [{"rule": "bottom_by_score", "n": 3, "label": "x"}],
            "warn": [{"rule": "indicator_at_least", "label": "y", "indicator": "no_such", "threshold": 1}],
        }
        async with assessment(app_client, World()) as client:
            r = await client.put("/v1/sanction-policies/economic", json=policy, headers=ADMIN)
        assert {tuple(e["loc"]) for e in assert_problem(r, 422)["errors"]} == {("body", "commend", 0, "rule")}

    async def test_an_unknown_indicator_in_a_rule_is_refused(self, app_client: Any) -> None:
        policy = {
            "commend": [],
            "warn": [{"rule": "indicator_at_least", "label": "y", "indicator": "no", "threshold": 1}],
        }
        async with assessment(app_client, World()) as client:
            r = await client.put("/v1/sanction-policies/economic", json=policy, headers=ADMIN)
        assert assert_problem(r, 422)["errors"][0]["loc"] == ["body", "warn", 0, "indicator"]

    async def test_a_zone_unknown_to_the_registry_has_no_outcomes_page(self, app_client: Any) -> None:
        async with assessment(app_client, World()) as client:
            assert_problem(await client.get("/v1/zones/nowhere/outcomes"), 404)
