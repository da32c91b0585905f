"""What the push's quick paths must not change: values stored exactly as the checks say, faults
found in a batch read in one pass, the cached catalog, expired idempotency keys, later periods'
locks (on PostgreSQL a batch of new values is read in one pass while it is copied in; on SQLite
it takes the general path: both must answer the same)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import update

from services.metrics.tables import IdempotencyKey
from tests.helpers import assert_problem
from tests.metrics.builders import (
    CITY,
    XUANHUA,
    XUANHUA_COUNTY,
    ZHUOLU,
    batch,
    conflicts,
    indicator,
    obs,
    runtime,
    values,
)


async def history(client: Any, zone: str, period: str) -> list[dict[str, Any]]:
    r = await client.get(
        "/v1/observations/history",
        params={"zone_id": zone, "indicator": "gdp", "period": period},
        headers=CITY,
    )
    assert r.status_code == 200, r.text
    items: list[dict[str, Any]] = r.json()["items"]
    return items


class TestValuesAreStoredAsTheChecksSay:
    async def test_edge_values_and_their_texts(self, metrics: Any) -> None:
        # (period, value pushed in 万元 unless said) -> (stored value, original value)
        cases: dict[str, tuple[Any, str, str, str]] = {
            "2010": ("-0", "万元", "0", "-0"),  # PostgreSQL stores no negative zero: neither do we
            "2011": ("007.50", "万元", "7.5", "7.50"),
            "2012": ("0.1234565", "万元", "0.123456", "0.1234565"),  # rounded half to even
            "2013": ("0.1234575", "万元", "0.123458", "0.1234575"),
            "2014": (10**16, "万元", "10000000000000000", "10000000000000000"),
            "2015": ("99999999999999999.999999", "万元", "99999999999999999.999999", "99999999999999999.999999"),
            "2016": ("1.5", "亿元", "15000", "1.5"),
            "2017": ("12345", "元", "1.2345", "12345"),
        }
        rows = [obs({"zone_id": XUANHUA}, "gdp", p, v, unit) for p, (v, unit, _, _) in cases.items()]
        async with metrics() as client:
            r = await client.post("/v1/observations", json=batch(*rows), headers=CITY)
            stored = {v["period"]: v["value"] for v in await values(client)}
            originals = {p: (await history(client, XUANHUA, p))[0]["original_value"] for p in cases}
            verify = await client.get("/v1/ledger/verify", headers=CITY)
        assert r.status_code == 200, r.text
        assert stored == {p: c[2] for p, c in cases.items()}
        assert originals == {p: c[3] for p, c in cases.items()}
        assert verify.json()["intact"] is True, verify.text

    async def test_ten_to_the_seventeen_is_too_large(self, metrics: Any) -> None:
        rows = [
            obs({"zone_id": XUANHUA}, "gdp", "2016", 1, "万元"),
            obs({"zone_id": XUANHUA}, "gdp", "2017", 10**17, "万元"),
        ]
        async with metrics() as client:
            r = await client.post("/v1/observations", json=batch(*rows), headers=CITY)
            stored = await values(client)
        found = conflicts(assert_problem(r, 422))
        assert [(c["index"], c["code"]) for c in found] == [(1, "bad_value")]
        assert stored == []

    async def test_other_notations_are_read_by_the_model(self, metrics: Any) -> None:
        rows = [
            obs({"zone_id": XUANHUA}, "gdp", "2016", "1e3", "万元"),
            obs({"zone_id": XUANHUA}, "gdp", "2017", 2.5, "万元"),
        ]
        async with metrics() as client:
            r = await client.post("/v1/observations", json=batch(*rows), headers=CITY)
            comma = await client.post(
                "/v1/observations", json=batch(obs({"zone_id": XUANHUA}, "gdp", "2018", "1,5", "万元")), headers=CITY
            )
            stored = {v["period"]: v["value"] for v in await values(client)}
        assert r.status_code == 200, r.text
        assert stored == {"2016": "1000", "2017": "2.5"}
        # "1,5": 1.5 or 15? Neither is guessed: the row's bad_value conflict (thousands read as 1,234.5)
        assert [(c["index"], c["code"]) for c in conflicts(assert_problem(comma, 422))] == [(0, "bad_value")]


class TestFaultsOfABatchReadInOnePass:
    async def test_a_subject_with_both_zone_and_division_is_a_conflict(self, metrics: Any) -> None:
        rows = [
            obs({"zone_id": XUANHUA}, "gdp", "2017", "1", "万元"),
            obs({"zone_id": ZHUOLU}, "gdp", "2017", "2", "万元"),
            obs({"zone_id": XUANHUA, "division": "130705"}, "gdp", "2018", "3", "万元"),
            obs({}, "gdp", "2018", "4", "万元"),
        ]
        async with metrics() as client:
            r = await client.post("/v1/observations", json=batch(*rows), headers=CITY)
            stored = await values(client)
        body = assert_problem(r, 422)
        summary = body["summary"]
        assert [(c["index"], c["code"]) for c in conflicts(body)] == [(2, "bad_subject"), (3, "bad_subject")]
        assert summary["counts"]["rejected"] == 2
        assert stored == []

    async def test_a_zone_id_longer_than_64_is_a_validation_problem(self, metrics: Any) -> None:
        rows = [obs({"zone_id": "z" * 65}, "gdp", "2017", "1", "万元")]
        async with metrics() as client:
            r = await client.post("/v1/observations", json=batch(*rows), headers=CITY)
        assert ("body", "observations", 0, "zone_id") in {tuple(e["loc"]) for e in assert_problem(r, 422)["errors"]}

    async def test_a_duplicate_in_the_last_row_stores_nothing(self, metrics: Any) -> None:
        rows = [obs({"division": "130700"}, "gdp", str(year), year, "万元") for year in range(2001, 2021)]
        rows.append(obs({"division": "130700"}, "gdp", "2003", 7, "万元"))
        async with metrics() as client:
            r = await client.post("/v1/observations", json=batch(*rows), headers=CITY)
            stored = await values(client)
            verify = await client.get("/v1/ledger/verify", headers=CITY)
        found = conflicts(assert_problem(r, 422))
        assert [(c["index"], c["code"]) for c in found] == [(20, "duplicate_row")]
        assert stored == []
        assert verify.json()["revisions"] == 0

    async def test_a_lock_on_a_later_period_of_the_batch_is_423(self, metrics: Any) -> None:
        rows = [
            obs({"zone_id": XUANHUA}, "gdp", "2017", 1, "万元"),
            obs({"zone_id": XUANHUA}, "gdp", "2018", 2, "万元"),
        ]
        async with metrics() as client:
            lock = await client.post("/v1/locks", json={"period": "2018", "reason": "assessed"}, headers=CITY)
            r = await client.post("/v1/observations", json=batch(*rows), headers=CITY)
            stored = await values(client)
        assert assert_problem(r, 423)["lock"]["id"] == lock.json()["id"]
        assert assert_problem(r, 423)["rows"] == [1]
        assert stored == []


class TestTheCatalogIsReadAgainWhenItChanges:
    async def test_a_new_indicator_and_a_new_version_apply_to_the_next_push(self, metrics: Any) -> None:
        row = obs({"zone_id": XUANHUA}, "probe", "2017", 50, "万元")
        async with metrics() as client:
            before = await client.post("/v1/observations", json=batch(row), headers=CITY)
            await client.post("/v1/indicators", json=indicator("probe", min=0), headers=CITY)
            added = await client.post("/v1/observations", json=batch(row), headers=CITY)
            await client.post("/v1/indicators", json=indicator("probe", min=0, max=10), headers=CITY)
            later = obs({"zone_id": XUANHUA}, "probe", "2018", 50, "万元")
            bounded = await client.post("/v1/observations", json=batch(later), headers=CITY)
        assert [c["code"] for c in conflicts(assert_problem(before, 422))] == ["unknown_indicator"]
        assert added.status_code == 200, added.text
        assert [c["code"] for c in conflicts(assert_problem(bounded, 422))] == ["out_of_range"]


class TestExpiredIdempotencyKeys:
    async def test_a_finished_key_past_its_retention_is_claimed_anew(self, metrics: Any) -> None:
        headers = XUANHUA_COUNTY | {"Idempotency-Key": "old"}
        async with metrics() as client:
            first = await client.post(
                "/v1/observations", json=batch(obs({"zone_id": XUANHUA}, "gdp", "2017", 1, "万元")), headers=headers
            )
            async with runtime(client).db.engine.begin() as conn:
                expired = datetime.now(UTC) - timedelta(hours=49)
                await conn.execute(update(IdempotencyKey).values(created_at=expired))
            other = batch(obs({"zone_id": XUANHUA}, "gdp", "2018", 2, "万元"))
            second = await client.post("/v1/observations", json=other, headers=headers)
            replay = await client.post("/v1/observations", json=other, headers=headers)
            stored = {v["period"]: v["value"] for v in await values(client)}
        assert first.status_code == second.status_code == 200, second.text
        assert "idempotent-replayed" not in second.headers
        assert second.json()["counts"]["created"] == 1
        assert replay.headers["idempotent-replayed"] == "true" and replay.json() == second.json()
        assert stored == {"2017": "1", "2018": "2"}


class TestOneReportForJsonAndFiles:
    async def test_a_value_that_is_not_a_number_is_a_row_conflict_beside_the_others(self, metrics: Any) -> None:
        # Row 1's 约3000 and row 2's null are bad_value conflicts of their rows, reported with row 3's
        # out_of_range (gdp has min 0), as a file's would be; not a validation error of the body.
        rows = [
            obs({"zone_id": XUANHUA}, "gdp", "2017", 100, "万元"),
            obs({"zone_id": XUANHUA}, "gdp", "2017Q1", "约3000", "万元"),
            obs({"zone_id": XUANHUA}, "gdp", "2017Q2", None, "万元"),
            obs({"zone_id": XUANHUA}, "gdp", "2017Q3", -5, "万元"),
        ]
        async with metrics() as client:
            r = await client.post("/v1/observations", json=batch(*rows), headers=CITY)
            stored = await values(client)
        found = [(c["index"], c["field"], c["code"]) for c in conflicts(assert_problem(r, 422))]
        assert found == [(1, "value", "bad_value"), (2, "value", "bad_value"), (3, "value", "out_of_range")]
        assert stored == []

    async def test_each_conflict_is_listed_once(self, metrics: Any) -> None:
        # 2,000 copies of one row: 1,999 duplicate_row conflicts, each once (in errors), none in summary.
        rows = [obs({"zone_id": XUANHUA}, "gdp", "2017", 100, "万元")] * 2000
        async with metrics() as client:
            r = await client.post("/v1/observations", json=batch(*rows), headers=CITY)
        body = assert_problem(r, 422)
        assert len(body["errors"]) == 1999 and "conflicts" not in body["summary"]
        assert body["summary"]["counts"]["rejected"] == 1999
        assert len(r.content) < 1999 * 200  # each conflict about 150 bytes, not twice that
