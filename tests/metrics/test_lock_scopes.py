"""Who may lock which scope: the city any, each bureau the kind whose assessment it publishes.

A published run locks its period through ``POST /v1/locks`` with the publisher's own token, so a
lock is attributed to the person who published (``created_by`` is the token's ``sub``).
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import make_token
from tests.helpers import assert_problem
from tests.metrics.builders import CITY, GAOXIN, XUANHUA, batch, obs


def bearer(role: str, sub: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {make_token(role, sub=sub)}"}


COMMERCE = bearer("commerce_bureau", "shangwu-wang")
SCIENCE = bearer("science_bureau", "keji-zhao")
MAYOR = bearer("city_admin", "shi-li")


def lock(period: str, kind: str | None) -> dict[str, Any]:
    return {"period": period, "kind": kind, "reason": f"{period} assessment published"}


class TestACityAdminLocksAnyScope:
    @pytest.mark.parametrize("kind", [None, "economic", "high_tech"])
    async def test_every_zone_or_one_kind_is_locked_in_the_caller_s_name(self, metrics: Any, kind: str | None) -> None:
        async with metrics() as client:
            r = await client.post("/v1/locks", json=lock("2025", kind), headers=MAYOR)
        assert r.status_code == 201
        assert (r.json()["kind"], r.json()["created_by"]) == (kind, "shi-li")


class TestABureauLocksItsOwnKindOnly:
    @pytest.mark.parametrize(
        ("headers", "kind", "sub"),
        [(COMMERCE, "economic", "shangwu-wang"), (SCIENCE, "high_tech", "keji-zhao")],
        ids=["commerce_bureau", "science_bureau"],
    )
    async def test_its_own_kind_is_locked_in_the_caller_s_name(
        self, metrics: Any, headers: dict[str, str], kind: str, sub: str
    ) -> None:
        async with metrics() as client:
            r = await client.post("/v1/locks", json=lock("2025", kind), headers=headers)
            listed = await client.get("/v1/locks", params={"period": "2025"}, headers=CITY)
        assert r.status_code == 201
        assert (r.json()["period"], r.json()["kind"], r.json()["created_by"]) == ("2025", kind, sub)
        assert [(x["kind"], x["created_by"]) for x in listed.json()["items"]] == [(kind, sub)]

    @pytest.mark.parametrize(
        ("headers", "kind", "allowed", "asked"),
        [
            (COMMERCE, "high_tech", ["economic"], "high_tech zones"),
            (COMMERCE, None, ["economic"], "every zone (no kind)"),
            (SCIENCE, "economic", ["high_tech"], "economic zones"),
            (SCIENCE, None, ["high_tech"], "every zone (no kind)"),
        ],
        ids=["commerce-high_tech", "commerce-every-zone", "science-economic", "science-every-zone"],
    )
    async def test_another_kind_or_every_zone_is_a_403_and_stores_nothing(
        self, metrics: Any, headers: dict[str, str], kind: str | None, allowed: list[str], asked: str
    ) -> None:
        async with metrics() as client:
            r = await client.post("/v1/locks", json=lock("2025", kind), headers=headers)
            listed = await client.get("/v1/locks", headers=CITY)
        body = assert_problem(r, 403)
        assert body["code"] == "lock_kind_not_allowed"
        assert body["allowed_kinds"] == allowed
        assert "required_roles" not in body  # the role is admitted; the scope is what is refused
        assert body["detail"] == (  # in English, as asked (tests/metrics/test_languages.py: in Chinese)
            "the commerce bureau locks economic zones and the science bureau high-tech zones only: "
            f"this token may not lock {asked}"
        )
        assert listed.json()["items"] == []

    async def test_a_county_or_the_statistics_bureau_may_not_lock_at_all(self, metrics: Any) -> None:
        async with metrics() as client:
            county = await client.post("/v1/locks", json=lock("2025", "economic"), headers=bearer("county", "c"))
            stats = await client.post(
                "/v1/locks", json=lock("2025", "economic"), headers=bearer("statistics_bureau", "s")
            )
        assert "required_roles" in assert_problem(county, 403)
        assert "required_roles" in assert_problem(stats, 403)

    async def test_a_lock_that_exists_is_a_409_whoever_made_it(self, metrics: Any) -> None:
        async with metrics() as client:
            first = await client.post("/v1/locks", json=lock("2025", "economic"), headers=MAYOR)
            again = await client.post("/v1/locks", json=lock("2025", "economic"), headers=COMMERCE)
        assert assert_problem(again, 409)["lock"] == first.json()["id"]


class TestABureauLockOnAYearHoldsItsKindsHalvesAndQuarters:
    async def test_2025q4_and_2025h2_of_its_kind_are_refused_and_the_other_kind_is_not(self, metrics: Any) -> None:
        # commerce_bureau locks 2025 for economic zones: 宣化 (economic) 2025Q4 and 2025H2 fall inside
        # the year (Period.enclosing: 2025Q4 -> 2025H2 -> 2025), so both are 423; 高新区 (high_tech) is free.
        async with metrics() as client:
            made = (await client.post("/v1/locks", json=lock("2025", "economic"), headers=COMMERCE)).json()
            q4 = await client.post(
                "/v1/observations", json=batch(obs({"zone_id": XUANHUA}, "gdp", "2025Q4", 1, "万元")), headers=CITY
            )
            h2 = await client.post(
                "/v1/observations", json=batch(obs({"zone_id": XUANHUA}, "gdp", "2025H2", 1, "万元")), headers=CITY
            )
            other_kind = await client.post(
                "/v1/observations", json=batch(obs({"zone_id": GAOXIN}, "gdp", "2025Q4", 1, "万元")), headers=CITY
            )
        for r in (q4, h2):
            assert assert_problem(r, 423)["lock"] == {
                "id": made["id"],
                "period": "2025",
                "kind": "economic",
                "reason": "2025 assessment published",
            }
        assert other_kind.status_code == 200
