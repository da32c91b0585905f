"""Runs as official acts (issue #16): draft → publish → supersede → withdraw, the refusals, dry runs.

The economic world: twelve zones Z01…Z12 whose score is their GDP (goalposts 0–100), Z01 highest.
The source's defaults for economic zones (三十) on a first annual run, worked by hand: the top ten
by score are commended (Z01…Z10) and the bottom five are warned, commended zones first excluded,
so only Z11 and Z12 are warned: 12 outcomes, 2 of them warnings, each warning a summons.
"""

from __future__ import annotations

from collections import Counter
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
    ECON,
    RUN_2025,
    SCIENCE,
    Registry,
    World,
    assessment,
    db_of,
    descending,
    econ_world,
    matrix,
    method_doc,
    publish,
    run,
    zone,
)
from tests.conftest import auth
from tests.helpers import assert_problem

TECH = ["H1", "H2", "H3", "H4", "H5"]
HT_METHOD = method_doc(code="ht-annual", applies_to=["high_tech"])


def tech_world(**years: list[float]) -> World:
    metrics = FakeMetricsClient(
        {
            y.removeprefix("p"): matrix(y.removeprefix("p"), {z: {"gdp": v} for z, v in zip(TECH, values, strict=True)})
            for y, values in years.items()
        },
        indicators=CATALOG,
    )
    return World(registry=Registry([zone(z, kind="high_tech") for z in TECH]), metrics=metrics)


async def in_force(client: Any, zone_id: str, *, include_withdrawn: bool = False) -> list[dict[str, Any]]:
    params = {"include_withdrawn": "true"} if include_withdrawn else {}
    r = await client.get(f"/v1/zones/{zone_id}/outcomes", params=params)
    assert r.status_code == 200, r.text
    return list(r.json()["items"])


async def summons(client: Any) -> Counter[tuple[int, str]]:
    r = await client.get("/v1/summons", headers=ADMIN)
    assert r.status_code == 200, r.text
    return Counter((s["assessment"], s["status"]) for s in r.json()["items"])


async def get(client: Any, run_id: int, headers: dict[str, str] | None = None) -> dict[str, Any]:
    r = await client.get(f"/v1/assessments/{run_id}", headers=headers or {})
    assert r.status_code == 200, r.text
    return dict(r.json())


class TestDraftPublishSupersedeWithdraw:
    async def test_outcomes_count_only_while_their_run_is_published(self, app_client: Any) -> None:
        world = econ_world(p2025=descending())
        async with assessment(app_client, world) as client:
            await publish(client, method_doc())
            # Draft: stored and verifiable by the bureaus, invisible to the public, nothing in force.
            draft = await run(client, "2025", publish=False)
            public_get = await client.get(f"/v1/assessments/{draft['id']}")
            public_list = (await client.get("/v1/assessments")).json()["items"]
            bureau_list = (await client.get("/v1/assessments", params={"status": "draft"}, headers=COMMERCE)).json()
            anonymous_drafts = await client.get("/v1/assessments", params={"status": "draft"})
            zone_reader_drafts = await client.get(
                "/v1/assessments", params={"status": "draft"}, headers=auth("zone_committee", zone="Z01")
            )
            draft_outcomes = (await client.get(f"/v1/assessments/{draft['id']}/outcomes", headers=ADMIN)).json()
            verified = (await client.post(f"/v1/assessments/{draft['id']}/verify", headers=SCIENCE)).json()
            assert await in_force(client, "Z12") == [] and await summons(client) == Counter()

            # Published: the outcomes are in force, the warnings summon, the values are locked.
            published = await client.post(f"/v1/assessments/{draft['id']}/publish", json={"note": "市政府常务会审定"})
            assert published.status_code == 401  # a publication needs a token
            published = await client.post(
                f"/v1/assessments/{draft['id']}/publish", json={"note": "市政府常务会审定"}, headers=COMMERCE
            )
            first = await get(client, draft["id"])
            locks = [(lock.period, lock.kind) for lock in world.metrics.locks]
            z12_first = await in_force(client, "Z12")
            summons_first = await summons(client)

            # Another run of the same key: a 409 naming the run in force, until it supersedes it with a reason.
            corrected = await run(client, "2025", publish=False, label="2025 年度综合考评（更正）")
            refused = await client.post(f"/v1/assessments/{corrected['id']}/publish", headers=ADMIN)
            wrong = await client.post(
                f"/v1/assessments/{corrected['id']}/publish", json={"supersedes": 999, "reason": "x"}, headers=ADMIN
            )
            no_reason = await client.post(
                f"/v1/assessments/{corrected['id']}/publish", json={"supersedes": draft["id"]}, headers=ADMIN
            )
            reason = "统计局更正了Z03的地区生产总值"
            superseding = await client.post(
                f"/v1/assessments/{corrected['id']}/publish",
                json={"supersedes": draft["id"], "reason": reason},
                headers=ADMIN,
            )
            old, new = await get(client, draft["id"]), await get(client, corrected["id"])
            z12_second = await in_force(client, "Z12")
            z12_history = await in_force(client, "Z12", include_withdrawn=True)
            summons_second = await summons(client)
            again = await client.post(
                f"/v1/assessments/{draft['id']}/publish",
                json={"supersedes": corrected["id"], "reason": "x"},
                headers=ADMIN,
            )

            # Withdrawn: nothing in force any more; history kept.
            no_reason_withdraw = await client.post(
                f"/v1/assessments/{corrected['id']}/withdraw", json={}, headers=ADMIN
            )
            withdrawn = await client.post(
                f"/v1/assessments/{corrected['id']}/withdraw", json={"reason": "考评办法被上级撤销"}, headers=ADMIN
            )
            draft_withdraw = await client.post(
                f"/v1/assessments/{draft['id']}/withdraw", json={"reason": "x"}, headers=ADMIN
            )
            z12_after = await in_force(client, "Z12")
            z12_all = await in_force(client, "Z12", include_withdrawn=True)
            summons_after = await summons(client)
            listing = (await client.get("/v1/assessments", params={"period": "2025"})).json()["items"]

        # draft
        assert_problem(public_get, 404)
        assert public_list == []
        assert [r["id"] for r in bureau_list["items"]] == [draft["id"]] and draft["status"] == "draft"
        assert_problem(anonymous_drafts, 401)
        assert_problem(zone_reader_drafts, 403)
        assert len(draft_outcomes["items"]) == 12 and {o["status"] for o in draft_outcomes["items"]} == {"draft"}
        assert verified["identical"] is True
        # published
        assert published.status_code == 200, published.text
        assert (first["status"], first["published_by"], first["superseded_by"]) == (
            "published",
            "test-commerce_bureau",
            None,
        )
        assert [e["event"] for e in first["events"]] == ["created", "published"]
        assert first["events"][1]["reason"] == "市政府常务会审定"
        assert [(o["assessment"], o["outcome"], o["status"]) for o in z12_first] == [
            (draft["id"], "warned", "in_force")
        ]
        assert summons_first == Counter({(draft["id"], "pending"): 2})
        assert locks == [("2025", "economic")]  # the period's values of economic zones, locked on publishing
        # superseded
        assert assert_problem(refused, 409)["code"] == "already_published"
        assert refused.json()["published"] == draft["id"]
        assert assert_problem(wrong, 409)["code"] == "supersedes_mismatch"
        assert assert_problem(no_reason, 422)["errors"][0]["loc"] == ["body", "reason"]
        assert superseding.status_code == 200, superseding.text
        assert (old["status"], old["superseded_by"], new["status"]) == ("superseded", corrected["id"], "published")
        assert old["events"][-1] == {
            **old["events"][-1],
            "event": "superseded",
            "reason": reason,
            "related": corrected["id"],
        }
        assert [(o["assessment"], o["status"]) for o in z12_second] == [(corrected["id"], "in_force")]
        assert [(o["assessment"], o["status"], o["withdrawn_reason"]) for o in z12_history] == [
            (corrected["id"], "in_force", None),
            (draft["id"], "withdrawn", reason),
        ]
        assert summons_second == Counter({(draft["id"], "cancelled"): 2, (corrected["id"], "pending"): 2})
        assert assert_problem(again, 409)["code"] == "not_a_draft"
        # withdrawn
        assert_problem(no_reason_withdraw, 422)
        assert withdrawn.status_code == 200 and withdrawn.json()["withdrawn_reason"] == "考评办法被上级撤销"
        assert assert_problem(draft_withdraw, 409)["code"] == "not_published"
        assert z12_after == []
        assert {(o["assessment"], o["status"]) for o in z12_all} == {
            (corrected["id"], "withdrawn"),
            (draft["id"], "withdrawn"),
        }
        assert summons_after == Counter({(draft["id"], "cancelled"): 2, (corrected["id"], "cancelled"): 2})
        assert sorted((r["id"], r["status"]) for r in listing) == [
            (draft["id"], "superseded"),
            (corrected["id"], "withdrawn"),
        ]

    async def test_a_bureau_publishes_only_its_own_kind(self, app_client: Any) -> None:
        async with assessment(app_client, econ_world(p2025=descending())) as client:
            await publish(client, method_doc())
            draft = await run(client, "2025", publish=False)
            refused = await client.post(f"/v1/assessments/{draft['id']}/publish", headers=SCIENCE)
        assert_problem(refused, 403)

    async def test_publish_takes_an_idempotency_key_for_one_run_only(self, app_client: Any) -> None:
        async with assessment(app_client, econ_world(p2025=descending())) as client:
            await publish(client, method_doc())
            draft = await run(client, "2025", publish=False)
            other = await run(client, "2025", publish=False)
            headers = {**ADMIN, "Idempotency-Key": "publish-2025"}
            first = await client.post(f"/v1/assessments/{draft['id']}/publish", headers=headers)
            retry = await client.post(f"/v1/assessments/{draft['id']}/publish", headers=headers)
            elsewhere = await client.post(f"/v1/assessments/{other['id']}/publish", headers=headers)
            z12 = await in_force(client, "Z12")
        assert (first.status_code, retry.status_code) == (200, 200)
        assert retry.headers["Idempotent-Replayed"] == "true" and retry.json() == first.json()
        assert assert_problem(elsewhere, 422)["errors"][0]["loc"] == ["header", "Idempotency-Key"]
        assert len(z12) == 1  # published once: one warning in force


class TestTheRefusals:
    async def test_registry_in_future(self, app_client: Any) -> None:
        now = datetime.fromisoformat("2026-03-01T08:00:00+08:00")
        async with assessment(app_client, econ_world(p2025=descending())) as client:
            runtime_of(client.app, AssessmentRuntime).clock = lambda: now  # type: ignore[attr-defined]
            await publish(client, method_doc())
            refused = await client.post(
                "/v1/assessments", json={**RUN_2025, "registry_as_of": "2026-03-02"}, headers=ADMIN
            )
            accepted = await client.post(
                "/v1/assessments", json={**RUN_2025, "registry_as_of": "2026-03-01"}, headers=ADMIN
            )
        problem = assert_problem(refused, 422)
        assert problem["code"] == "registry_in_future" and problem["errors"][0]["loc"] == ["body", "registry_as_of"]
        assert accepted.status_code == 201 and accepted.json()["registry_as_of"] == "2026-03-01"

    async def test_insufficient_coverage_lists_each_missing_value(self, app_client: Any) -> None:
        # 12 zones, Z11 lacks gdp and Z12 has none at all: 10/12 = 83 % < 90 % (the default).
        values: dict[str, dict[str, float | None]] = {**descending(), "Z11": {"gdp": None}}
        del values["Z12"]
        async with assessment(app_client, econ_world(p2025=values)) as client:
            await publish(client, method_doc())
            refused = await client.post("/v1/assessments", json=RUN_2025, headers=ADMIN)
            stored = (await client.get("/v1/assessments", headers=ADMIN)).json()["items"]
        problem = assert_problem(refused, 422)
        assert problem["code"] == "insufficient_coverage"
        assert problem["missing"] == [
            {"zone_id": "Z11", "division": None, "indicator": "gdp"},
            {"zone_id": "Z12", "division": None, "indicator": "gdp"},
        ]
        assert (problem["coverage"]["complete"], problem["coverage"]["assessed"]) == (10, 12)
        assert stored == []

    async def test_a_run_over_the_threshold_still_names_what_was_missing(self, app_client: Any) -> None:
        # 11 of 12 complete = 91.7 % ≥ 90 %: stored, with Z12's gap named in its coverage.
        values = descending()
        del values["Z12"]
        async with assessment(app_client, econ_world(p2025=values)) as client:
            await publish(client, method_doc())
            body = await run(client, "2025", publish=False)
        assert body["coverage"] == {
            "assessed": 12,
            "complete": 11,
            "share": pytest.approx(11 / 12, abs=1e-6),
            "min_coverage": 0.9,
            "required": ["gdp"],
            "missing": [{"zone_id": "Z12", "division": None, "indicator": "gdp"}],
        }

    async def test_an_imputed_indicator_is_not_required(self, app_client: Any) -> None:
        # R&D imputed by the mean: only GDP is required, and all twelve zones have it.
        rd = {"indicator": "rd_intensity", "missing": "mean", "normalisation": {"method": "min_max"}}
        gdp = {"indicator": "gdp", "normalisation": {"method": "goalposts", "min": 0, "max": 100}}
        async with assessment(app_client, econ_world(p2025=descending())) as client:
            await publish(client, method_doc(gdp, rd))
            body = await run(client, "2025", publish=False)
        assert (body["coverage"]["required"], body["coverage"]["complete"]) == (["gdp"], 12)

    async def test_a_methodology_with_a_coverage_outside_zero_to_one_is_refused(self, app_client: Any) -> None:
        async with assessment(app_client, World()) as client:
            r = await client.post("/v1/methodologies", json=method_doc(min_coverage=1.5), headers=ADMIN)
        assert_problem(r, 422)

    async def test_a_dry_run_of_the_current_year_answers_and_stores_nothing(self, app_client: Any) -> None:
        now = datetime.fromisoformat("2025-07-01T08:00:00+08:00")
        async with assessment(app_client, econ_world(p2025=descending())) as client:
            runtime_of(client.app, AssessmentRuntime).clock = lambda: now  # type: ignore[attr-defined]
            await publish(client, method_doc())
            headers = {**ADMIN, "Idempotency-Key": "dry"}
            dry = await client.post("/v1/assessments", json={**RUN_2025, "dry_run": True}, headers=headers)
            stored = (await client.get("/v1/assessments", headers=ADMIN)).json()["items"]
            async with db_of(client).engine.begin() as conn:
                keys = (await conn.execute(text("SELECT count(*) FROM idempotency_key"))).scalar_one()
            real = await client.post("/v1/assessments", json=RUN_2025, headers=ADMIN)
        assert dry.status_code == 200, dry.text
        body = dry.json()
        assert body["dry_run"] is True and "id" not in body
        assert [r["code"] for r in body["refusals"]] == ["period_not_ended"]
        assert body["registry_as_of"] == "2025-07-01"  # the zones of today: the year has not ended
        assert Counter(o["outcome"] for o in body["outcomes"]) == Counter({"commended": 10, "warned": 2})
        assert [r["zone_id"] for r in body["results"][:3]] == ["Z01", "Z02", "Z03"]
        assert stored == [] and keys == 0  # nothing stored, not even the key
        assert assert_problem(real, 422)["code"] == "period_not_ended"


class TestOnlyPublishedRunsCount:
    async def test_two_consecutive_warnings_count_only_published_runs(self, app_client: Any) -> None:
        # H4 and H5 are warned in 2024 and 2025 (bottom two of five, see test_outcomes).
        async with assessment(app_client, tech_world(p2024=[90, 80, 70, 60, 50], p2025=[91, 81, 71, 61, 51])) as client:
            await publish(client, HT_METHOD)
            draft_2024 = await run(client, "2024", methodology="ht-annual", kind="high_tech", publish=False)
            without = await run(client, "2025", methodology="ht-annual", kind="high_tech", publish=False)
            await client.post(f"/v1/assessments/{draft_2024['id']}/publish", headers=ADMIN)
            stale = await client.post(f"/v1/assessments/{without['id']}/publish", headers=ADMIN)
            with_published = await run(client, "2025", methodology="ht-annual", kind="high_tech", publish=False)
            await client.post(
                f"/v1/assessments/{draft_2024['id']}/withdraw", json={"reason": "数据有误"}, headers=ADMIN
            )
            after_withdrawal = await run(client, "2025", methodology="ht-annual", kind="high_tech", publish=False)
            flags = {}
            for name, body in (("without", without), ("with", with_published), ("after", after_withdrawal)):
                items = (await client.get(f"/v1/assessments/{body['id']}/outcomes", headers=ADMIN)).json()["items"]
                flags[name] = sorted(o["zone_id"] for o in items if o["outcome"] == "revocation_review")
        assert flags == {"without": [], "with": ["H4", "H5"], "after": []}
        assert assert_problem(stale, 409)["code"] == "stale_basis"  # computed before 2024 was published

    async def test_rank_change_compares_with_the_previous_periods_published_run_only(self, app_client: Any) -> None:
        # GDP ranks: 2024 Z12 first … Z01 last (reversed); 2025 Z01 first … Z12 last.
        reversed_ = {z: {"gdp": 40.0 + 5 * i} for i, z in enumerate(ECON)}
        async with assessment(app_client, econ_world(p2024=reversed_, p2025=descending())) as client:
            await publish(client, method_doc())
            no_previous = await run(client, "2025", publish=False)  # no 2024 run published yet
            draft_2024 = await run(client, "2024", publish=False)
            still_none = await run(client, "2025", publish=False)  # a 2024 draft is not compared with
            await client.post(f"/v1/assessments/{draft_2024['id']}/publish", headers=ADMIN)
            first_2025 = await run(client, "2025")
            rerun = await run(client, "2025", publish=False)  # a re-run compares with 2024, not the first 2025 run
        for body in (no_previous, still_none):
            assert body["previous_assessment"] is None
            assert all(r["rank_change"] is None for r in body["results"])
        for body in (first_2025, rerun):
            changes = {r["zone_id"]: r["rank_change"] for r in body["results"]}
            # Z01: 12th → 1st = +11; Z12: 1st → 12th = −11 (previous − current)
            assert (changes["Z01"], changes["Z12"], body["previous_assessment"]) == (11, -11, draft_2024["id"])


class TestBulletinsOfRunsNotInForce:
    async def test_a_drafts_bulletin_is_watermarked_and_a_superseded_one_says_so(self, app_client: Any) -> None:
        async with assessment(app_client, econ_world(p2025=descending())) as client:
            await publish(client, method_doc())
            first = await run(client, "2025")
            draft = await run(client, "2025", publish=False)
            draft_html = (await client.get(f"/v1/assessments/{draft['id']}/bulletin.html", headers=ADMIN)).text
            draft_csv = (await client.get(f"/v1/assessments/{draft['id']}/bulletin.csv", headers=ADMIN)).text
            hidden = await client.get(f"/v1/assessments/{draft['id']}/bulletin.html")
            published_html = (await client.get(f"/v1/assessments/{first['id']}/bulletin.html")).text
            body = {"supersedes": first["id"], "reason": "更正"}
            await client.post(f"/v1/assessments/{draft['id']}/publish", json=body, headers=ADMIN)
            superseded_html = (await client.get(f"/v1/assessments/{first['id']}/bulletin.html")).text
        assert "草稿" in draft_html and draft_csv.lstrip("\ufeff").startswith("草稿 – 未发布")
        assert_problem(hidden, 404)  # a draft's bulletin is not public
        assert "草稿" not in published_html
        assert f"本通报已被考评 #{draft['id']} 替代" in superseded_html and "草稿" not in superseded_html
