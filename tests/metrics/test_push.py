"""Pushing values: storage in canonical units, every conflict code, atomicity, scope, fail-closed."""

from __future__ import annotations

from datetime import date
from typing import Any

import httpx

from libs.domain.clients.registry import RegistryClient
from libs.domain.metrics.contracts import MAX_BATCH_ROWS
from services.metrics.dependencies import registry_client
from tests.conftest import auth
from tests.helpers import assert_problem, free_port
from tests.metrics.builders import (
    CITY,
    DONGSHAN,
    GAOXIN,
    HUAIAN,
    XUANHUA,
    XUANHUA_COUNTY,
    ZHUOLU,
    Registry,
    batch,
    conflicts,
    obs,
    values,
    zone,
)


class TestAValidBatchIsStoredInCanonicalUnits:
    async def test_values_are_converted_and_summarised(self, metrics: Any) -> None:
        body = batch(
            obs({"zone_id": XUANHUA}, "gdp", "2017", "1.5", "亿元"),  # 1.5 亿元 = 15,000 万元
            obs({"zone_id": XUANHUA}, "land_area_mu", "2017", 2, "平方公里"),  # 2 km² = 2 × 1,500 亩 = 3,000 亩
            obs({"zone_id": XUANHUA}, "exports", "2017", 250, "万美元", note="customs"),
            obs({"division": "130700"}, "gdp", "2017", 1200, "亿元"),  # 12,000,000 万元
        )
        async with metrics() as client:
            r = await client.post("/v1/observations", json=body, headers=CITY)
            stored = await values(client)
        assert r.status_code == 200, r.text
        summary = r.json()
        assert summary["status"] == "ok"
        assert summary["counts"] == {"created": 4, "updated": 0, "unchanged": 0, "rejected": 0, "skipped": 0}
        assert summary["conflicts"] == []
        got = {(v["zone_id"] or v["division"], v["indicator"]): v for v in stored}
        assert got[(XUANHUA, "gdp")]["value"] == "15000"
        assert got[(XUANHUA, "gdp")]["unit"] == "万元"
        assert got[(XUANHUA, "land_area_mu")]["value"] == "3000"
        assert got[(XUANHUA, "exports")]["note"] == "customs"
        assert got[("130700", "gdp")]["value"] == "12000000"

    async def test_notes_with_tabs_newlines_and_backslashes_round_trip(self, metrics: Any) -> None:
        note = "第一行\t制表\n第二行 \\N 反斜杠\\ 回车\r结束"
        body = batch(obs({"zone_id": XUANHUA}, "gdp", "2017", 1, "万元", note=note))
        async with metrics() as client:
            r = await client.post("/v1/observations", json=body, headers=CITY)
            stored = await values(client)
            history = await client.get(
                "/v1/observations/history",
                params={"zone_id": XUANHUA, "indicator": "gdp", "period": "2017"},
                headers=CITY,
            )
            verified = await client.get("/v1/ledger/verify", headers=CITY)
        assert r.status_code == 200, r.text
        assert [v["note"] for v in stored] == [note]
        assert history.status_code == 200, history.text
        assert verified.status_code == 200 and verified.json()["intact"] is True, verified.text

    async def test_a_nul_character_is_refused_not_a_500(self, metrics: Any) -> None:
        body = batch(obs({"zone_id": XUANHUA}, "gdp", "2017", 1, "万元", note="a\u0000b"))
        async with metrics() as client:
            r = await client.post("/v1/observations", json=body, headers=CITY)
            stored = await values(client)
        assert r.status_code == 422, r.text
        assert stored == []

    async def test_a_changed_value_is_a_new_revision_and_an_equal_one_is_unchanged(self, metrics: Any) -> None:
        async with metrics() as client:
            await client.post(
                "/v1/observations", json=batch(obs({"zone_id": XUANHUA}, "gdp", "2017", 100, "万元")), headers=CITY
            )
            same = await client.post(
                "/v1/observations", json=batch(obs({"zone_id": XUANHUA}, "gdp", "2017", "0.01", "亿元")), headers=CITY
            )
            changed = await client.post(
                "/v1/observations",
                json=batch(obs({"zone_id": XUANHUA}, "gdp", "2017", 120, "万元", note="revised by the county")),
                headers=XUANHUA_COUNTY | {"Idempotency-Key": "k1"},
            )
            history = await client.get(
                "/v1/observations/history",
                params={"zone_id": XUANHUA, "indicator": "gdp", "period": "2017"},
                headers=CITY,
            )
        assert same.json()["counts"]["unchanged"] == 1 and same.json()["batch"] is None
        assert changed.json()["counts"]["updated"] == 1
        revisions = history.json()["items"]
        assert [(r["old_value"], r["new_value"]) for r in revisions] == [
            (None, "100"),
            ("100", "120"),
        ]
        assert revisions[1]["recorded_by"] == "test-county"
        assert revisions[1]["recorded_by_division"] == "130705"
        assert revisions[1]["note"] == "revised by the county"
        assert revisions[1]["prev_hash"] == revisions[0]["hash"]

    async def test_a_batch_whose_first_value_is_new_and_a_later_one_stored_updates_that_one(self, metrics: Any) -> None:
        # On PostgreSQL a batch is first tried as all new values (see _AllNew); the stored
        # value of row 1 must send it down the general path, with nothing of the attempt left.
        async with metrics() as client:
            await client.post(
                "/v1/observations", json=batch(obs({"zone_id": XUANHUA}, "gdp", "2018", 5, "万元")), headers=CITY
            )
            r = await client.post(
                "/v1/observations",
                json=batch(
                    obs({"zone_id": XUANHUA}, "gdp", "2017", 1, "万元"),
                    obs({"zone_id": XUANHUA}, "gdp", "2018", 6, "万元"),
                    obs({"zone_id": ZHUOLU}, "gdp", "2018", 7, "万元"),
                ),
                headers=CITY,
            )
            stored = await values(client)
            ledger = await client.get("/v1/ledger/verify", headers=CITY)
        assert r.status_code == 200, r.text
        assert r.json()["counts"] | {"skipped": 0} == {
            "created": 2,
            "updated": 1,
            "unchanged": 0,
            "rejected": 0,
            "skipped": 0,
        }
        got = {(v["zone_id"], v["period"]): (v["value"], v["revision"]) for v in stored}
        assert got == {
            (XUANHUA, "2017"): ("1", 1),
            (XUANHUA, "2018"): ("6", 2),
            (ZHUOLU, "2018"): ("7", 1),
        }
        assert ledger.json()["intact"] is True and ledger.json()["revisions"] == 4

    async def test_a_dry_run_reports_without_storing(self, metrics: Any) -> None:
        async with metrics() as client:
            r = await client.post(
                "/v1/observations",
                json=batch(obs({"zone_id": XUANHUA}, "gdp", "2017", 1, "万元"), dry_run=True),
                headers=CITY,
            )
            stored = await values(client)
        assert r.json()["dry_run"] is True and r.json()["counts"]["created"] == 1
        assert stored == []


class TestEveryBadRowIsReportedAndNothingIsStored:
    async def test_a_division_code_is_six_ascii_digits_and_nothing_else(self, metrics: Any) -> None:
        # GB/T 2260 codes: "130700\n" (a trailing newline) and full-width "１３０７００" would otherwise
        # be stored as subjects of their own, beside "130700".
        rows = [
            obs({"division": "130700"}, "gdp", "2017", 1, "万元"),
            obs({"division": "130700\n"}, "gdp", "2017", 1, "万元"),
            obs({"division": "\uff11\uff13\uff10\uff17\uff10\uff10"}, "gdp", "2017", 1, "万元"),
        ]
        async with metrics() as client:
            r = await client.post("/v1/observations", json=batch(*rows), headers=CITY)
            stored = await values(client)
        found = {(c["index"], c["code"]) for c in conflicts(assert_problem(r, 422))}
        assert found == {(1, "bad_subject"), (2, "bad_subject")}
        assert stored == []

    async def test_each_conflict_code_names_its_row(self, metrics: Any, registry: Registry) -> None:
        rows = [
            obs({"zone_id": XUANHUA}, "gdp", "2017", 100, "万元"),  # 0: good
            obs({"zone_id": XUANHUA, "division": "130705"}, "gdp", "2017", 1, "万元"),  # 1 bad_subject
            obs({"division": "13070"}, "gdp", "2017", 1, "万元"),  # 2 bad_subject (not 6 digits)
            obs({"zone_id": "nosuchzone"}, "gdp", "2017", 1, "万元"),  # 3 unknown_zone
            obs({"zone_id": HUAIAN}, "gdp", "2015", 1, "万元"),  # 4 zone_not_existing (established 2016-10-14)
            obs({"zone_id": DONGSHAN}, "gdp", "2016", 1, "万元"),  # 5 zone_ended (merged 2016-10-14)
            obs({"zone_id": XUANHUA}, "gross_output", "2017", 1, "万元"),  # 6 unknown_indicator
            obs({"zone_id": XUANHUA}, "rd_intensity", "2017", 2.5, "%"),  # 7 derived_indicator
            obs({"zone_id": XUANHUA}, "gdp", "2017M3", 1, "万元"),  # 8 bad_period
            obs({"zone_id": XUANHUA}, "tax_per_mu", "2017H1", 1, "万元/亩"),  # 9 derived + period type (year only)
            obs({"zone_id": XUANHUA}, "gdp", "2999", 1, "万元"),  # 10 future_period
            obs({"zone_id": XUANHUA}, "gdp", "2017", "1e30", "万元"),  # 11 bad_value (too large)
            obs({"zone_id": XUANHUA}, "gdp", "2017Q1", -5, "万元"),  # 12 out_of_range (min 0)
            obs({"zone_id": XUANHUA}, "gdp", "2017Q2", 5, "卢布"),  # 13 unknown_unit
            obs({"zone_id": XUANHUA}, "gdp", "2017Q3", 5, "亩"),  # 14 incompatible_unit
            obs({"zone_id": XUANHUA}, "gdp", "2017", 100, "万元"),  # 15 duplicate_row of 0
        ]
        async with metrics() as client:
            r = await client.post("/v1/observations", json=batch(*rows), headers=CITY)
            stored = await values(client)
        body = assert_problem(r, 422)
        summary = body["summary"]
        assert summary["status"] == "conflict"
        found = {(c["index"], c["code"]) for c in conflicts(body)}
        assert found == {
            (1, "bad_subject"),
            (2, "bad_subject"),
            (3, "unknown_zone"),
            (4, "zone_not_existing"),
            (5, "zone_ended"),
            (6, "unknown_indicator"),
            (7, "derived_indicator"),
            (8, "bad_period"),
            (9, "derived_indicator"),
            (9, "period_type_not_allowed"),
            (10, "future_period"),
            (11, "bad_value"),
            (12, "out_of_range"),
            (13, "unknown_unit"),
            (14, "incompatible_unit"),
            (15, "duplicate_row"),
        }
        assert summary["counts"]["rejected"] == 15
        assert summary["counts"]["created"] == 1  # what the good row would have done
        assert {tuple(e["loc"][:2]) for e in body["errors"]} >= {("observations", 3), ("observations", 15)}
        assert stored == []

    async def test_one_bad_row_among_good_ones_stores_nothing(self, metrics: Any) -> None:
        good = [obs({"zone_id": XUANHUA}, "gdp", f"{y}", 100 + y, "万元") for y in range(2010, 2020)]
        async with metrics() as client:
            r = await client.post(
                "/v1/observations",
                json=batch(*good, obs({"zone_id": XUANHUA}, "gdp", "2017", "abc", "万元")),
                headers=CITY,
            )
            stored = await values(client)
            verify = await client.get("/v1/ledger/verify", headers=CITY)
        assert r.status_code == 422
        assert stored == []
        assert verify.json()["revisions"] == 0

    async def test_a_value_outside_an_indicators_range_is_a_conflict(self, metrics: Any) -> None:
        async with metrics() as client:
            # solid_waste_reuse_rate is derived; a custom bounded base indicator shows the range check.
            await client.post(
                "/v1/indicators",
                json={
                    "code": "occupancy_rate",
                    "name_zh": "入驻率",
                    "name_en": "Occupancy",
                    "unit": "%",
                    "kind": "stock",
                    "period_types": ["year"],
                    "min": 0,
                    "max": 100,
                },
                headers=CITY,
            )
            r = await client.post(
                "/v1/observations",
                json=batch(obs({"zone_id": XUANHUA}, "occupancy_rate", "2017", "100.5", "%")),
                headers=CITY,
            )
        assert conflicts(assert_problem(r, 422))[0]["code"] == "out_of_range"


def _divisions_batch() -> list[dict[str, Any]]:
    """1,500 rows of gdp: 300 division codes (130000 … 130299) × the years 2016 … 2020, row
    ``5 * i + (year - 2016)`` being division ``130000 + i`` in that year with value ``10 * i + year``
    万元: more rows than one chunk of a streamed push (the first one and the later ones)."""
    return [
        obs({"division": f"{130000 + i}"}, "gdp", str(year), 10 * i + year, "万元")
        for i in range(300)
        for year in range(2016, 2021)
    ]


class TestALargeBatchIsCheckedWhileItIsStored:
    """On PostgreSQL a batch of new values is checked a chunk at a time while it is copied in;
    a fault in a later chunk must still store nothing and report exactly what a check of the
    whole batch reports."""

    async def test_every_row_is_stored_and_sealed(self, metrics: Any) -> None:
        async with metrics() as client:
            r = await client.post("/v1/observations", json=batch(*_divisions_batch()), headers=CITY)
            last = await values(client, division="130299")
            verify = await client.get("/v1/ledger/verify", headers=CITY)
        assert r.status_code == 200, r.text
        assert r.json()["counts"] == {"created": 1500, "updated": 0, "unchanged": 0, "rejected": 0, "skipped": 0}
        # division 130299: 10 × 299 + year = 2990 + year
        assert [(v["period"], v["value"]) for v in last] == [
            ("2016", "5006"),
            ("2017", "5007"),
            ("2018", "5008"),
            ("2019", "5009"),
            ("2020", "5010"),
        ]
        assert verify.json()["intact"] is True and verify.json()["revisions"] == 1500, verify.text

    async def test_faults_in_later_chunks_store_nothing(self, metrics: Any) -> None:
        rows = _divisions_batch()
        rows[1200] = dict(rows[7])  # row 7 is 130001 in 2018: a duplicate, 1,193 rows later
        rows[1499] = obs({"division": "130299"}, "gdp", "2020", 5010, "kg")  # the last row: a mass for money
        async with metrics() as client:
            r = await client.post("/v1/observations", json=batch(*rows), headers=CITY)
            stored = await values(client)
            verify = await client.get("/v1/ledger/verify", headers=CITY)
        assert r.status_code == 422, r.text
        summary = r.json()["summary"]
        assert [(c["index"], c["field"], c["code"]) for c in conflicts(r.json())] == [
            (1200, "subject", "duplicate_row"),
            (1499, "unit", "incompatible_unit"),
        ]
        assert summary["counts"]["rejected"] == 2
        assert stored == []
        assert verify.json()["revisions"] == 0


class TestBatchSizeLimit:
    async def test_more_rows_than_the_limit_is_413(self, metrics: Any) -> None:
        rows = [obs({"division": "130700"}, "gdp", "2017", i, "万元") for i in range(MAX_BATCH_ROWS + 1)]
        async with metrics() as client:
            r = await client.post("/v1/observations", json=batch(*rows), headers=CITY)
            spec = (await client.get("/openapi.json")).json()
        assert assert_problem(r, 413)["limit_rows"] == MAX_BATCH_ROWS
        schema = spec["components"]["schemas"]["ObservationBatch"]["properties"]["observations"]
        assert schema["maxItems"] == MAX_BATCH_ROWS


class TestACountyWritesOnlyForItsZones:
    async def test_its_own_zone_and_its_own_totals_are_accepted(self, metrics: Any) -> None:
        body = batch(
            obs({"zone_id": XUANHUA}, "gdp", "2017", 100, "万元"),
            obs({"division": "130705"}, "gdp", "2017", 900, "万元"),
        )
        async with metrics() as client:
            r = await client.post("/v1/observations", json=body, headers=XUANHUA_COUNTY | {"Idempotency-Key": "a"})
        assert r.status_code == 200, r.text

    async def test_another_countys_zone_is_403_naming_the_rows(self, metrics: Any) -> None:
        body = batch(
            obs({"zone_id": XUANHUA}, "gdp", "2017", 100, "万元"),
            obs({"zone_id": ZHUOLU}, "gdp", "2017", 100, "万元"),  # 涿鹿县's zone
            obs({"division": "130731"}, "gdp", "2017", 100, "万元"),  # 涿鹿县's totals
        )
        async with metrics() as client:
            r = await client.post("/v1/observations", json=body, headers=XUANHUA_COUNTY | {"Idempotency-Key": "b"})
            stored = await values(client)
        problem = assert_problem(r, 403)
        # every refused row, with the division it belongs to (涿鹿县 130731 for the zone and its totals)
        assert problem["code"] == "outside_scope"
        # and what 宣化区 (130705) may write for in 2017: its one zone (东山 merged into it in 2016),
        # or its own totals under its division code
        keys = ("index", "line", "column", "zone_id", "division", "accepted", "accepted_count")
        assert [{k: row[k] for k in keys if k in row} for row in problem["rows"]] == [
            {
                "index": 1,
                "line": None,
                "column": None,
                "zone_id": ZHUOLU,
                "division": "130731",
                "accepted": [f"{XUANHUA} 河北宣化经济开发区"],
                "accepted_count": 1,
            },
            {
                "index": 2,
                "line": None,
                "column": None,
                "zone_id": None,
                "division": "130731",
                "accepted": ["130705"],
                "accepted_count": 1,
            },
        ]
        assert problem["rows"][1]["msg"] == (
            "130731 is not the caller's division; the caller may write its own division's totals only"
        )
        assert stored == []

    async def test_the_entrusted_division_writes_for_a_city_zone(self, metrics: Any) -> None:
        wanquan = auth("county", division="130708")  # 高新区 is the city's, entrusted to 万全区
        async with metrics() as client:
            ok = await client.post(
                "/v1/observations",
                json=batch(obs({"zone_id": GAOXIN}, "gdp", "2017", 1, "万元")),
                headers=wanquan | {"Idempotency-Key": "c"},
            )
        assert ok.status_code == 200, ok.text

    async def test_a_zone_committee_writes_only_for_its_zone(self, metrics: Any) -> None:
        committee = auth("zone_committee", zone=ZHUOLU)
        async with metrics() as client:
            own = await client.post(
                "/v1/observations", json=batch(obs({"zone_id": ZHUOLU}, "gdp", "2017", 1, "万元")), headers=committee
            )
            other = await client.post(
                "/v1/observations", json=batch(obs({"zone_id": XUANHUA}, "gdp", "2017", 1, "万元")), headers=committee
            )
        assert own.status_code == 200
        [row] = assert_problem(other, 403)["rows"]
        keys = ("index", "line", "zone_id", "division", "accepted", "accepted_count")
        assert {k: row[k] for k in keys} == {
            "index": 0,
            "line": None,
            "zone_id": XUANHUA,
            "division": "130705",
            "accepted": [f"{ZHUOLU} 河北涿鹿经济开发区"],  # the committee's own zone, named as in 2017
            "accepted_count": 1,
        }

    async def test_scope_follows_the_registry_state_during_the_period(self, metrics: Any, registry: Registry) -> None:
        # 东山 was managed by 宣化县 (130721) until its merger on 2016-10-14: 宣化县 may push its 2015 values.
        xuanhua_county_old = auth("county", division="130721")
        async with metrics() as client:
            r = await client.post(
                "/v1/observations",
                json=batch(obs({"zone_id": DONGSHAN}, "gdp", "2015", 1, "万元")),
                headers=xuanhua_county_old | {"Idempotency-Key": "d"},
            )
        assert r.status_code == 200, r.text

    async def test_a_transfer_seen_in_the_change_feed_moves_the_scope(self, metrics: Any, registry: Registry) -> None:
        huaian_county = auth("county", division="130728")
        async with metrics() as client:
            before = await client.post(
                "/v1/observations",
                json=batch(obs({"zone_id": XUANHUA}, "gdp", "2018", 1, "万元")),
                headers=huaian_county | {"Idempotency-Key": "e1"},
            )
            # The registry records a transfer of 宣化 to 怀安县 from 2018-01-01 (a test scenario).
            registry.replace_states(
                XUANHUA,
                [
                    zone(XUANHUA, "河北宣化经济开发区", authority="130705", valid_to=date(2018, 1, 1)),
                    zone(XUANHUA, "河北宣化经济开发区", authority="130728", valid_from=date(2018, 1, 1)),
                ],
            )
            registry.record_change([XUANHUA], date(2018, 1, 1))
            after = await client.post(
                "/v1/observations",
                json=batch(obs({"zone_id": XUANHUA}, "gdp", "2018", 1, "万元")),
                headers=huaian_county | {"Idempotency-Key": "e2"},
            )
        assert before.status_code == 403
        assert after.status_code == 200, after.text

    async def test_a_bureau_that_does_not_push_is_403(self, metrics: Any) -> None:
        async with metrics() as client:
            r = await client.post(
                "/v1/observations",
                json=batch(obs({"zone_id": XUANHUA}, "gdp", "2017", 1, "万元")),
                headers=auth("commerce_bureau"),
            )
        assert_problem(r, 403)


class TestRegistryDownFailsClosed:
    async def test_zone_rows_are_503_and_nothing_is_stored(self, app_client: Any) -> None:
        port = free_port()  # nothing listens there

        def down() -> RegistryClient:
            return RegistryClient(httpx.AsyncClient(), f"http://127.0.0.1:{port}", read_attempts=1)

        async with app_client("metrics", overrides={registry_client: down}) as client:
            r = await client.post(
                "/v1/observations", json=batch(obs({"zone_id": XUANHUA}, "gdp", "2017", 1, "万元")), headers=CITY
            )
            stored = await values(client)
        assert assert_problem(r, 503)["service"] == "registry"
        assert stored == []

    async def test_a_registry_without_a_change_feed_is_treated_as_down(self, metrics: Any) -> None:
        class NoFeed(Registry):
            async def changes(self, *, after: str | None = None, limit: int = 500) -> Any:
                from libs.domain.kernel.errors import NotFound

                raise NotFound("no route", service="registry")

        async with metrics(NoFeed()) as client:
            r = await client.post(
                "/v1/observations", json=batch(obs({"zone_id": XUANHUA}, "gdp", "2017", 1, "万元")), headers=CITY
            )
        assert assert_problem(r, 503)["service"] == "registry"


class TestAMalformedBodyIsAValidationProblem:
    async def test_not_json_and_missing_fields_are_422_naming_the_fields(self, metrics: Any) -> None:
        async with metrics() as client:
            garbage = await client.post(
                "/v1/observations", content=b"{not json", headers=CITY | {"content-type": "application/json"}
            )
            missing = await client.post(
                "/v1/observations", json={"observations": [{"zone_id": XUANHUA, "value": 1}]}, headers=CITY
            )
        assert_problem(garbage, 422)
        locs = {tuple(e["loc"]) for e in assert_problem(missing, 422)["errors"]}
        assert {("body", "observations", 0, "indicator"), ("body", "observations", 0, "period")} <= locs
