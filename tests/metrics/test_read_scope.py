"""Who may read what: raw values and their revisions by the city, a county's own, a zone committee's own.

The fixture: the small Zhangjiakou of the builders, with 涿鹿 (ZHUOLU) transferred from 涿鹿县
(130731) to 怀安县 (130728) on 2018-07-01. Every expectation below is worked out by hand from the
zones' states (docs/metrics.md#who-may-read-what): a county reads its division's totals and a zone's
values for the periods it administered or managed the zone by entrustment in.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from tests.conftest import auth
from tests.helpers import assert_problem
from tests.metrics.builders import (
    CITY,
    DONGSHAN,
    GAOXIN,
    HUAIAN,
    MERGE_DAY,
    XUANHUA,
    ZHUOLU,
    Registry,
    batch,
    obs,
    zone,
)

TRANSFER_DAY = date(2018, 7, 1)
ROWS: list[tuple[str, str, str, int]] = [  # (subject type, subject id, period, gdp)
    ("zone", XUANHUA, "2017", 1),
    ("zone", DONGSHAN, "2015", 2),
    ("zone", ZHUOLU, "2017", 3),
    ("zone", ZHUOLU, "2018H1", 4),
    ("zone", ZHUOLU, "2018H2", 5),
    ("zone", ZHUOLU, "2018", 6),
    ("zone", ZHUOLU, "2019", 7),
    ("zone", GAOXIN, "2017", 8),
    ("zone", HUAIAN, "2017", 9),
    ("division", "130728", "2017", 10),
    ("division", "130731", "2017", 11),
    ("division", "130700", "2017", 12),
]
CITY_ROLES = ["city_admin", "commerce_bureau", "science_bureau", "statistics_bureau"]


@pytest.fixture
def registry() -> Registry:
    """The builders' registry, 涿鹿 passing from 涿鹿县 to 怀安县 on 2018-07-01."""
    registry = Registry()
    registry.replace_states(
        ZHUOLU,
        [
            zone(ZHUOLU, "河北涿鹿工业园", authority="130731", valid_to=MERGE_DAY),
            zone(ZHUOLU, "河北涿鹿经济开发区", authority="130731", valid_from=MERGE_DAY, valid_to=TRANSFER_DAY),
            zone(ZHUOLU, "河北涿鹿经济开发区", authority="130728", valid_from=TRANSFER_DAY),
        ],
    )
    return registry


async def seed(client: Any) -> None:
    rows = [
        obs({"zone_id" if kind == "zone" else "division": subject}, "gdp", period, value, "万元")
        for kind, subject, period, value in ROWS
    ]
    r = await client.post("/v1/observations", json=batch(*rows), headers=CITY)
    assert r.status_code == 200, r.text
    assert r.json()["counts"]["created"] == len(ROWS)


def seen(items: list[dict[str, Any]]) -> list[tuple[str, str, str]]:
    return [(item["zone_id"] or item["division"], item["period"], item["value"]) for item in items]


async def read_all(client: Any, headers: dict[str, str], limit: int, **params: str) -> list[dict[str, Any]]:
    """Every page of ``GET /v1/observations``, following the cursors (each page at most ``limit``)."""
    items: list[dict[str, Any]] = []
    cursor: str | None = None
    for _ in range(20):
        query = {"limit": str(limit), **params, **({"cursor": cursor} if cursor else {})}
        r = await client.get("/v1/observations", params=query, headers=headers)
        assert r.status_code == 200, r.text
        page = r.json()
        assert len(page["items"]) <= limit
        items.extend(page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            return items
    raise AssertionError("no end of the pages")


# In key order: period text, then indicator, then subject type (division before zone), then id.
HUAIAN_COUNTY_SEES = [
    ("130728", "2017", "10"),
    (HUAIAN, "2017", "9"),
    (ZHUOLU, "2018", "6"),  # the year overlaps both counties' time
    (ZHUOLU, "2018H2", "5"),
    (ZHUOLU, "2019", "7"),
]
ZHUOLU_COUNTY_SEES = [
    ("130731", "2017", "11"),
    (ZHUOLU, "2017", "3"),
    (ZHUOLU, "2018", "6"),
    (ZHUOLU, "2018H1", "4"),
]


class TestTheList:
    @pytest.mark.parametrize("role", CITY_ROLES)
    async def test_the_city_reads_every_value(self, metrics: Any, role: str) -> None:
        async with metrics() as client:
            await seed(client)
            items = await read_all(client, auth(role), 500)
        assert sorted(int(i["value"]) for i in items) == list(range(1, 13))

    @pytest.mark.parametrize("limit", [1, 2, 500])
    async def test_a_county_reads_its_totals_and_its_zones_in_the_periods_it_managed_them(
        self, metrics: Any, limit: int
    ) -> None:
        async with metrics() as client:
            await seed(client)
            huaian = await read_all(client, auth("county", division="130728"), limit)
            zhuolu = await read_all(client, auth("county", division="130731"), limit)
        assert seen(huaian) == HUAIAN_COUNTY_SEES
        assert seen(zhuolu) == ZHUOLU_COUNTY_SEES

    async def test_a_county_reads_the_zones_it_manages_by_entrustment(self, metrics: Any) -> None:
        async with metrics() as client:
            await seed(client)
            xuanhua_county = await read_all(client, auth("county", division="130721"), 500)
            wanquan = await read_all(client, auth("county", division="130708"), 500)
            xuanhua_district = await read_all(client, auth("county", division="130705"), 500)
        assert seen(xuanhua_county) == [(DONGSHAN, "2015", "2")]  # a city zone entrusted to 宣化县
        assert seen(wanquan) == [(GAOXIN, "2017", "8")]
        assert seen(xuanhua_district) == [(XUANHUA, "2017", "1")]  # not 东山's 2015, merged into 宣化 later

    async def test_a_filter_on_another_subject_is_an_empty_page_not_a_refusal(self, metrics: Any) -> None:
        county = auth("county", division="130728")
        async with metrics() as client:
            await seed(client)
            other_zone = await read_all(client, county, 500, zone_id=XUANHUA)
            city_totals = await read_all(client, county, 500, division="130700")
            part_of_own = await read_all(client, county, 500, zone_id=ZHUOLU)
            one_period = await read_all(client, county, 500, period="2018H1")
        assert other_zone == [] and city_totals == [] and one_period == []
        assert seen(part_of_own) == HUAIAN_COUNTY_SEES[2:]

    async def test_a_county_token_without_a_division_is_refused(self, metrics: Any) -> None:
        async with metrics() as client:
            await seed(client)
            r = await client.get("/v1/observations", headers=auth("county"))
        assert assert_problem(r, 403)["code"] == "scope_claim_missing"

    async def test_a_zone_committee_reads_its_own_zone(self, metrics: Any) -> None:
        committee = auth("zone_committee", zone=HUAIAN)
        async with metrics() as client:
            await seed(client)
            own = await read_all(client, committee, 500)
            other = await client.get("/v1/observations", params={"zone_id": ZHUOLU}, headers=committee)
        assert seen(own) == [(HUAIAN, "2017", "9")]
        assert assert_problem(other, 403)["code"] == "own_zone_only"

    async def test_a_transfer_recorded_later_moves_the_rows_at_once(self, metrics: Any, registry: Registry) -> None:
        """The registry's change feed is polled before a county's read, as before a write."""
        county = auth("county", division="130728")
        async with metrics() as client:
            await seed(client)
            before = await read_all(client, county, 500)
            registry.replace_states(
                HUAIAN, [zone(HUAIAN, "河北怀安经济开发区", authority="130731", valid_from=MERGE_DAY)]
            )
            registry.record_change([HUAIAN])
            after = await read_all(client, county, 500)
        assert seen(before) == HUAIAN_COUNTY_SEES
        assert seen(after) == [r for r in HUAIAN_COUNTY_SEES if r[0] != HUAIAN]


async def history(client: Any, headers: dict[str, str], period: str, **subject: str) -> Any:
    params = {"indicator": "gdp", "period": period, **subject}
    return await client.get("/v1/observations/history", params=params, headers=headers)


class TestTheHistory:
    async def test_a_county_reads_the_history_of_its_own_values(self, metrics: Any) -> None:
        county = auth("county", division="130728")
        async with metrics() as client:
            await seed(client)
            zhuolu_h2 = await history(client, county, "2018H2", zone_id=ZHUOLU)
            zhuolu_year = await history(client, county, "2018", zone_id=ZHUOLU)
            totals = await history(client, county, "2017", division="130728")
            nothing_yet = await history(client, county, "2016", zone_id=HUAIAN)
        assert [i["new_value"] for i in zhuolu_h2.json()["items"]] == ["5"]
        assert [i["new_value"] for i in zhuolu_year.json()["items"]] == ["6"]
        assert [i["new_value"] for i in totals.json()["items"]] == ["10"]
        assert nothing_yet.status_code == 200 and nothing_yet.json()["items"] == []

    @pytest.mark.parametrize(
        ("period", "subject"),
        [
            ("2018H1", {"zone_id": ZHUOLU}),  # still 涿鹿县's then
            ("2017", {"zone_id": ZHUOLU}),
            ("2017", {"zone_id": XUANHUA}),  # never 怀安县's
            ("2030", {"zone_id": XUANHUA}),  # no such value: still a 403, the ids being public
            ("2017", {"division": "130731"}),
            ("2017", {"division": "130700"}),  # the city's totals
            ("2017", {"zone_id": "no-such-zone"}),
        ],
    )
    async def test_a_county_is_refused_the_history_of_a_value_outside_its_scope(
        self, metrics: Any, period: str, subject: dict[str, str]
    ) -> None:
        async with metrics() as client:
            await seed(client)
            r = await history(client, auth("county", division="130728"), period, **subject)
        assert assert_problem(r, 403)["code"] == "outside_read_scope"

    @pytest.mark.parametrize("role", CITY_ROLES)
    async def test_the_city_reads_every_history(self, metrics: Any, role: str) -> None:
        async with metrics() as client:
            await seed(client)
            zone_value = await history(client, auth(role), "2018H1", zone_id=ZHUOLU)
            city_totals = await history(client, auth(role), "2017", division="130700")
        assert [i["new_value"] for i in zone_value.json()["items"]] == ["4"]
        assert [i["new_value"] for i in city_totals.json()["items"]] == ["12"]

    async def test_a_zone_committee_reads_its_own_zone_s_history_only(self, metrics: Any) -> None:
        committee = auth("zone_committee", zone=ZHUOLU)
        async with metrics() as client:
            await seed(client)
            own = await history(client, committee, "2018H1", zone_id=ZHUOLU)
            other = await history(client, committee, "2017", zone_id=HUAIAN)
        assert [i["new_value"] for i in own.json()["items"]] == ["4"]
        assert assert_problem(other, 403)["code"] == "own_zone_only"
