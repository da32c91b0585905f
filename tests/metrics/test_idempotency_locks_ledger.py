"""Idempotent pushes, period locks and restatements, and the hash-chained ledger."""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import text

from services.metrics.indicators.service import CatalogCache
from services.metrics.jurisdiction import Jurisdiction
from services.metrics.tables import IdempotencyKey
from tests.conftest import auth
from tests.helpers import assert_problem
from tests.metrics.builders import CITY, GAOXIN, XUANHUA, XUANHUA_COUNTY, ZHUOLU, Registry, batch, obs, runtime, values


def county(key: str) -> dict[str, str]:
    return XUANHUA_COUNTY | {"Idempotency-Key": key}


async def revision_count(client: Any) -> int:
    r = await client.get("/v1/ledger/verify", headers=CITY)
    return int(r.json()["revisions"])


class TestIdempotencyKeys:
    async def test_a_county_push_without_a_key_is_400(self, metrics: Any) -> None:
        async with metrics() as client:
            r = await client.post(
                "/v1/observations",
                json=batch(obs({"zone_id": XUANHUA}, "gdp", "2017", 1, "万元")),
                headers=XUANHUA_COUNTY,
            )
        assert "Idempotency-Key" in assert_problem(r, 400)["detail"]

    async def test_a_replay_returns_the_stored_answer_and_writes_nothing(self, metrics: Any) -> None:
        body = batch(
            obs({"zone_id": XUANHUA}, "gdp", "2017", 1, "万元"), obs({"zone_id": XUANHUA}, "gdp", "2018", 2, "万元")
        )
        async with metrics() as client:
            first = await client.post("/v1/observations", json=body, headers=county("push-1"))
            before = await revision_count(client)
            replay = await client.post("/v1/observations", json=body, headers=county("push-1"))
            after = await revision_count(client)
        assert first.status_code == replay.status_code == 200
        assert replay.json() == first.json()
        assert replay.headers["idempotent-replayed"] == "true"
        assert before == after == 2

    async def test_the_same_key_with_another_body_is_422(self, metrics: Any) -> None:
        async with metrics() as client:
            await client.post(
                "/v1/observations", json=batch(obs({"zone_id": XUANHUA}, "gdp", "2017", 1, "万元")), headers=county("k")
            )
            r = await client.post(
                "/v1/observations", json=batch(obs({"zone_id": XUANHUA}, "gdp", "2017", 2, "万元")), headers=county("k")
            )
            stored = await values(client)
        problem = assert_problem(r, 422)
        assert "different request" in problem["detail"]
        assert problem["errors"][0]["loc"] == ["header", "Idempotency-Key"]
        assert [v["value"] for v in stored] == ["1"]

    async def test_a_dry_run_claims_no_key(self, metrics: Any) -> None:
        async with metrics() as client:
            dry = await client.post(
                "/v1/observations",
                json=batch(obs({"zone_id": XUANHUA}, "gdp", "2017", 1, "万元"), dry_run=True),
                headers=county("d"),
            )
            real = await client.post(
                "/v1/observations", json=batch(obs({"zone_id": XUANHUA}, "gdp", "2017", 2, "万元")), headers=county("d")
            )
        assert dry.status_code == real.status_code == 200
        assert "idempotent-replayed" not in real.headers and real.json()["counts"]["created"] == 1

    async def test_concurrent_requests_with_one_key_run_once(self, metrics: Any) -> None:
        body = batch(*(obs({"zone_id": XUANHUA}, "gdp", str(year), year, "万元") for year in range(2010, 2020)))
        async with metrics() as client:
            answers = await asyncio.gather(
                *(client.post("/v1/observations", json=body, headers=county("race")) for _ in range(6))
            )
            revisions = await revision_count(client)
        ran = [a for a in answers if a.status_code == 200 and "idempotent-replayed" not in a.headers]
        others = [a for a in answers if a not in ran]
        assert len(ran) == 1 and ran[0].json()["counts"]["created"] == 10
        assert all(a.status_code == 409 or a.json() == ran[0].json() for a in others)
        assert revisions == 10

    async def test_keys_are_scoped_to_the_token_subject(self, metrics: Any) -> None:
        other = auth("county", division="130705", sub="another-system") | {"Idempotency-Key": "shared"}
        async with metrics() as client:
            a = await client.post(
                "/v1/observations",
                json=batch(obs({"zone_id": XUANHUA}, "gdp", "2017", 1, "万元")),
                headers=county("shared"),
            )
            b = await client.post(
                "/v1/observations", json=batch(obs({"zone_id": XUANHUA}, "gdp", "2018", 1, "万元")), headers=other
            )
        assert a.status_code == b.status_code == 200
        assert "idempotent-replayed" not in b.headers

    async def test_the_same_key_while_the_first_is_running_is_409(self, metrics: Any, registry: Registry) -> None:
        registry.gate = asyncio.Event()
        body = batch(obs({"zone_id": XUANHUA}, "gdp", "2017", 1, "万元"))
        async with metrics() as client:
            first = asyncio.create_task(client.post("/v1/observations", json=body, headers=county("slow")))
            await asyncio.wait_for(registry.entered.wait(), 10)  # the first request is inside the registry call
            second = await client.post("/v1/observations", json=body, headers=county("slow"))
            registry.gate.set()
            done = await first
            third = await client.post("/v1/observations", json=body, headers=county("slow"))
        assert "still being processed" in assert_problem(second, 409)["detail"]
        assert done.status_code == 200
        assert third.headers["idempotent-replayed"] == "true"

    async def test_a_failed_request_frees_its_key_for_the_retry(self, metrics: Any) -> None:
        bad = batch(obs({"zone_id": XUANHUA}, "gdp", "2017", "x", "万元"))
        async with metrics() as client:
            failed = await client.post("/v1/observations", json=bad, headers=county("retry"))
            again = await client.post("/v1/observations", json=bad, headers=county("retry"))
        assert failed.status_code == again.status_code == 422
        assert "idempotent-replayed" not in again.headers


class TestTheRuntime:
    async def test_holds_fresh_caches_and_one_key_policy_over_the_service_s_key_table(self, metrics: Any) -> None:
        async with metrics() as first_run:
            first = runtime(first_run)
            assert isinstance(first.jurisdiction, Jurisdiction) and isinstance(first.catalogs, CatalogCache)
            assert first.idempotency.db is first.db and first.idempotency.model is IdempotencyKey
        async with metrics() as second_run:
            second = runtime(second_run)
            assert second.jurisdiction is not first.jurisdiction and second.idempotency is not first.idempotency


class TestLockedPeriods:
    async def test_a_write_into_a_locked_period_is_423_naming_the_lock(self, metrics: Any) -> None:
        async with metrics() as client:
            lock = await client.post(
                "/v1/locks", json={"period": "2017", "reason": "2017 annual assessment published"}, headers=CITY
            )
            r = await client.post(
                "/v1/observations",
                json=batch(obs({"zone_id": XUANHUA}, "gdp", "2017", 1, "万元")),
                headers=county("l1"),
            )
            other_period = await client.post(
                "/v1/observations",
                json=batch(obs({"zone_id": XUANHUA}, "gdp", "2018", 1, "万元")),
                headers=county("l2"),
            )
        assert lock.status_code == 201
        body = assert_problem(r, 423)
        assert body["lock"] == {
            "id": lock.json()["id"],
            "period": "2017",
            "kind": None,
            "reason": "2017 annual assessment published",
        }
        assert f"lock {lock.json()['id']}" in body["detail"]
        assert other_period.status_code == 200

    async def test_a_kind_lock_covers_only_zones_of_that_kind_and_division_totals(self, metrics: Any) -> None:
        async with metrics() as client:
            await client.post("/v1/locks", json={"period": "2017", "kind": "high_tech", "reason": "r"}, headers=CITY)
            economic = await client.post(
                "/v1/observations", json=batch(obs({"zone_id": XUANHUA}, "gdp", "2017", 1, "万元")), headers=CITY
            )
            high_tech = await client.post(
                "/v1/observations", json=batch(obs({"zone_id": GAOXIN}, "gdp", "2017", 1, "万元")), headers=CITY
            )
            totals = await client.post(
                "/v1/observations", json=batch(obs({"division": "130700"}, "gdp", "2017", 1, "万元")), headers=CITY
            )
        assert economic.status_code == 200
        assert assert_problem(high_tech, 423)["lock"]["kind"] == "high_tech"
        assert_problem(totals, 423)

    async def test_resending_unchanged_values_into_a_locked_period_is_accepted(self, metrics: Any) -> None:
        row = obs({"zone_id": XUANHUA}, "gdp", "2017", 1, "万元")
        async with metrics() as client:
            await client.post("/v1/observations", json=batch(row), headers=CITY)
            await client.post("/v1/locks", json={"period": "2017", "reason": "r"}, headers=CITY)
            r = await client.post("/v1/observations", json=batch(row), headers=county("same"))
        assert r.json()["counts"]["unchanged"] == 1

    async def test_a_city_admin_restatement_goes_through_and_is_marked(self, metrics: Any) -> None:
        async with metrics() as client:
            await client.post(
                "/v1/observations", json=batch(obs({"zone_id": XUANHUA}, "gdp", "2017", 1, "万元")), headers=CITY
            )
            lock = (await client.post("/v1/locks", json={"period": "2017", "reason": "r"}, headers=CITY)).json()
            restated = await client.post(
                "/v1/observations",
                json=batch(
                    obs({"zone_id": XUANHUA}, "gdp", "2017", 2, "万元"),
                    restatement_reason="statistics bureau audit found a double count",
                ),
                headers=CITY,
            )
            by_county = await client.post(
                "/v1/observations",
                json=batch(obs({"zone_id": XUANHUA}, "gdp", "2017", 3, "万元"), restatement_reason="we say so"),
                headers=county("r"),
            )
            history = await client.get(
                "/v1/observations/history",
                params={"zone_id": XUANHUA, "indicator": "gdp", "period": "2017"},
                headers=CITY,
            )
        assert restated.status_code == 200 and restated.json()["restatement"] is True
        assert_problem(by_county, 403)
        last = history.json()["items"][-1]
        assert last["new_value"] == "2"
        assert last["restatement_reason"] == "statistics bureau audit found a double count"
        assert last["lock"] == lock["id"]

    async def test_a_lock_on_a_year_holds_its_halves_and_quarters_pushed_or_imported(self, metrics: Any) -> None:
        parts = ["2017H1", "2017H2", "2017Q1", "2017Q2", "2017Q3", "2017Q4"]
        async with metrics() as client:
            lock = (await client.post("/v1/locks", json={"period": "2017", "reason": "r"}, headers=CITY)).json()
            pushed = [
                await client.post(
                    "/v1/observations", json=batch(obs({"zone_id": XUANHUA}, "gdp", p, 1, "万元")), headers=CITY
                )
                for p in parts
            ]
            csv = f"zone,indicator,period,value,unit,note\n{XUANHUA},gdp,2017Q4,1,万元,\n".encode()
            imported = await client.post(
                "/v1/observations/import", files={"file": ("v.csv", csv, "text/csv")}, headers=CITY
            )
            next_year = await client.post(
                "/v1/observations", json=batch(obs({"zone_id": XUANHUA}, "gdp", "2018Q1", 1, "万元")), headers=CITY
            )
        for r in [*pushed, imported]:
            body = assert_problem(r, 423)
            assert body["lock"]["id"] == lock["id"] and body["lock"]["period"] == "2017"
        assert "period 2017 is locked (which holds 2017Q4)" in assert_problem(imported, 423)["detail"]
        assert next_year.status_code == 200

    async def test_a_lock_on_a_half_holds_its_quarters_only(self, metrics: Any) -> None:
        async with metrics() as client:
            await client.post("/v1/locks", json={"period": "2017H2", "reason": "r"}, headers=CITY)
            answers = {
                p: await client.post(
                    "/v1/observations", json=batch(obs({"zone_id": XUANHUA}, "gdp", p, 1, "万元")), headers=CITY
                )
                for p in ("2017Q3", "2017Q4", "2017Q1", "2017H1", "2017")
            }
        assert assert_problem(answers["2017Q3"], 423)["lock"]["period"] == "2017H2"
        assert_problem(answers["2017Q4"], 423)
        assert [answers[p].status_code for p in ("2017Q1", "2017H1", "2017")] == [200, 200, 200]

    async def test_a_restatement_of_a_quarter_under_a_year_lock_records_the_year_s_lock(self, metrics: Any) -> None:
        async with metrics() as client:
            lock = (await client.post("/v1/locks", json={"period": "2017", "reason": "r"}, headers=CITY)).json()
            restated = await client.post(
                "/v1/observations",
                json=batch(obs({"zone_id": XUANHUA}, "gdp", "2017Q2", 2, "万元"), restatement_reason="audit"),
                headers=CITY,
            )
            history = await client.get(
                "/v1/observations/history",
                params={"zone_id": XUANHUA, "indicator": "gdp", "period": "2017Q2"},
                headers=CITY,
            )
        assert restated.status_code == 200 and restated.json()["restatement"] is True
        assert history.json()["items"][-1]["lock"] == lock["id"]

    async def test_the_narrowest_lock_is_the_one_named(self, metrics: Any) -> None:
        async with metrics() as client:
            await client.post("/v1/locks", json={"period": "2017", "reason": "year"}, headers=CITY)
            half = (await client.post("/v1/locks", json={"period": "2017H2", "reason": "half"}, headers=CITY)).json()
            r = await client.post(
                "/v1/observations", json=batch(obs({"zone_id": XUANHUA}, "gdp", "2017Q4", 1, "万元")), headers=CITY
            )
        assert assert_problem(r, 423)["lock"]["id"] == half["id"]

    async def test_the_same_lock_twice_is_409_and_a_county_may_not_lock(self, metrics: Any) -> None:
        async with metrics() as client:
            await client.post("/v1/locks", json={"period": "2017", "reason": "r"}, headers=CITY)
            twice = await client.post("/v1/locks", json={"period": "2017", "reason": "again"}, headers=CITY)
            county_lock = await client.post("/v1/locks", json={"period": "2018", "reason": "r"}, headers=XUANHUA_COUNTY)
        assert_problem(twice, 409)
        assert_problem(county_lock, 403)


class TestTheLedgerDetectsTampering:
    async def _three_revisions(self, client: Any) -> None:
        for value in (10, 11, 12):
            r = await client.post(
                "/v1/observations", json=batch(obs({"zone_id": ZHUOLU}, "gdp", "2017", value, "万元")), headers=CITY
            )
            assert r.status_code == 200

    async def test_an_untouched_ledger_is_intact(self, metrics: Any) -> None:
        async with metrics() as client:
            await self._three_revisions(client)
            r = await client.get("/v1/ledger/verify", headers=auth("statistics_bureau"))
        assert r.json() == {
            "intact": True,
            "revisions": 3,
            "first_broken": None,
            "observations_checked": 1,
            "observation_mismatches": [],
        }

    async def test_a_value_altered_in_the_database_breaks_the_chain_at_that_revision(self, metrics: Any) -> None:
        async with metrics() as client:
            await self._three_revisions(client)
            async with runtime(client).db.engine.begin() as conn:
                await conn.execute(text("UPDATE revision SET new_value = '99' WHERE seq = 2"))
            r = await client.get("/v1/ledger/verify", headers=CITY)
        body = r.json()
        assert body["intact"] is False
        assert body["first_broken"]["seq"] == "2"
        assert "altered" in body["first_broken"]["reason"]
        assert (body["first_broken"]["zone_id"], body["first_broken"]["division"]) == (ZHUOLU, None)

    async def test_a_deleted_revision_breaks_the_link_of_the_next(self, metrics: Any) -> None:
        async with metrics() as client:
            await self._three_revisions(client)
            async with runtime(client).db.engine.begin() as conn:
                await conn.execute(text("DELETE FROM revision WHERE seq = 2"))
            r = await client.get("/v1/ledger/verify", headers=CITY)
        assert r.json()["first_broken"]["seq"] == "3"

    async def test_a_current_value_altered_in_the_database_breaks_the_chain_at_its_version(self, metrics: Any) -> None:
        # The current row is the value's latest version (seq 3), sealed like the history rows.
        async with metrics() as client:
            await self._three_revisions(client)
            async with runtime(client).db.engine.begin() as conn:
                await conn.execute(text("UPDATE observation SET value = '1'"))
            r = await client.get("/v1/ledger/verify", headers=CITY)
        body = r.json()
        assert body["intact"] is False
        assert body["first_broken"]["seq"] == "3"
        assert "altered" in body["first_broken"]["reason"]
        assert (body["first_broken"]["zone_id"], body["first_broken"]["division"]) == (ZHUOLU, None)

    async def test_a_history_version_altered_in_the_database_breaks_the_chain_at_it(self, metrics: Any) -> None:
        async with metrics() as client:
            await self._three_revisions(client)
            async with runtime(client).db.engine.begin() as conn:
                await conn.execute(text("UPDATE revision SET note = 'edited' WHERE seq = 1"))
            r = await client.get("/v1/ledger/verify", headers=CITY)
        assert r.json()["first_broken"]["seq"] == "1"

    async def test_a_deleted_current_value_is_reported_with_its_ledger_value(self, metrics: Any) -> None:
        async with metrics() as client:
            await self._three_revisions(client)
            async with runtime(client).db.engine.begin() as conn:
                await conn.execute(text("DELETE FROM observation"))
            r = await client.get("/v1/ledger/verify", headers=CITY)
        body = r.json()
        assert body["intact"] is False
        assert "removed" in body["first_broken"]["reason"]
        assert body["observations_checked"] == 0
        assert body["observation_mismatches"] == [
            {
                "zone_id": ZHUOLU,
                "division": None,
                "indicator": "gdp",
                "period": "2017",
                "value": None,
                "ledger_value": "11",
            }
        ]

    async def test_a_county_cannot_run_the_verification(self, metrics: Any) -> None:
        async with metrics() as client:
            r = await client.get("/v1/ledger/verify", headers=XUANHUA_COUNTY)
        assert_problem(r, 403)
