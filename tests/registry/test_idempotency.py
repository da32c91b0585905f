"""``POST /v1/reorganisations`` with an ``Idempotency-Key``: the shared policy of
``services.common.idempotency`` (keys in the registry's ``idempotency_key`` table), through the API."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from tests.conftest import auth
from tests.registry.builders import World

ADMIN = auth("city_admin")


def _act(on: str, *ops: dict[str, Any]) -> dict[str, Any]:
    return {"legal_basis": "测试〔2020〕1号", "effective_on": on, "title": "test act", "operations": list(ops)}


async def _post(w: World, body: dict[str, Any], key: str, **params: Any) -> httpx.Response:
    return await w.client.post(
        "/v1/reorganisations", headers={**ADMIN, "Idempotency-Key": key}, params=params, json=body
    )


async def _acts(w: World) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = (await w.client.get("/v1/reorganisations")).json()["items"]
    return items


class TestARetryWithTheSameKey:
    async def test_answers_the_first_act_as_answered_then_and_records_nothing(self, world: Any) -> None:
        async with world() as w:
            a = await w.zone("甲区")
            body = _act("2015-01-01", {"op": "rename", "zone_id": a, "name": "乙区"})
            first = await _post(w, body, "k1")
            again = await _post(w, body, "k1")
            acts = await _acts(w)
        assert first.status_code == 201
        assert "idempotent-replayed" not in first.headers
        assert again.status_code == 200
        assert again.headers["idempotent-replayed"] == "true"
        assert again.json() == first.json()
        assert again.headers["location"] == first.headers["location"] == f"/v1/reorganisations/{first.json()['id']}"
        assert len(acts) == 2

    async def test_with_another_body_is_refused_on_the_header(self, world: Any) -> None:
        async with world() as w:
            a = await w.zone("甲区")
            first = await _post(w, _act("2015-01-01", {"op": "rename", "zone_id": a, "name": "乙区"}), "k1")
            other = await _post(w, _act("2015-01-01", {"op": "rename", "zone_id": a, "name": "丙区"}), "k1")
            acts = await _acts(w)
            now = await w.get(a, "2016-01-01")
        assert first.status_code == 201
        assert other.status_code == 422
        assert other.json()["errors"][0]["loc"] == ["header", "Idempotency-Key"]
        assert len(acts) == 2
        assert now["name"] == "乙区"

    async def test_a_key_belongs_to_the_caller_who_sent_it(self, world: Any) -> None:
        async with world() as w:
            a = await w.zone("甲区")
            body = _act("2015-01-01", {"op": "rename", "zone_id": a, "name": "乙区"})
            first = await _post(w, body, "k1")
            other = await w.client.post(
                "/v1/reorganisations", headers={**auth("city_admin", sub="another"), "Idempotency-Key": "k1"}, json=body
            )
        assert first.status_code == 201
        assert other.status_code == 422  # runs anew: the rename is already recorded
        assert other.json()["errors"][0]["type"] == "no_change"


class TestConcurrentRequestsWithOneKey:
    async def test_exactly_one_records_the_act(self, world: Any) -> None:
        async with world() as w:
            a = await w.zone("甲区")
            body = _act("2015-01-01", {"op": "rename", "zone_id": a, "name": "乙区"})
            answers = await asyncio.gather(*(_post(w, body, "race") for _ in range(5)))
            acts = await _acts(w)
        statuses = sorted(r.status_code for r in answers)
        assert statuses.count(201) == 1
        assert set(statuses) <= {200, 201, 409}
        assert all(r.headers["idempotent-replayed"] == "true" for r in answers if r.status_code == 200)
        assert len(acts) == 2


class TestAKeyIsNotTaken:
    async def test_by_a_write_that_failed_so_the_retry_runs(self, world: Any) -> None:
        async with world() as w:
            body = _act(
                "2015-01-01",
                {"op": "establish", "ref": "z", "name": "甲区", "kind": "economic", "authority": "130799"},
            )
            refused = await _post(w, body, "k1")
            r = await w.client.post(
                "/v1/divisions", headers=ADMIN, json={"code": "130799", "name": "测试县", "valid_from": "2000-01-01"}
            )
            assert r.status_code == 201
            retried = await _post(w, body, "k1")
        assert refused.status_code == 422
        assert refused.json()["errors"][0]["type"] == "unknown_division"
        assert retried.status_code == 201
        assert "idempotent-replayed" not in retried.headers

    async def test_by_a_dry_run(self, world: Any) -> None:
        async with world() as w:
            a = await w.zone("甲区")
            rename = {"op": "rename", "zone_id": a, "name": "乙区"}
            tried = await _post(w, _act("2015-01-01", rename), "k1", dry_run="true")
            recorded = await _post(w, _act("2015-01-01", {**rename, "name": "丙区"}), "k1")
        assert tried.status_code == 200
        assert tried.json()["dry_run"] is True
        assert recorded.status_code == 201
        assert recorded.json()["resulting"][0]["name"] == "丙区"
