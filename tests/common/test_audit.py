"""The audit log of writes (services/common/audit.py, ADR 0012): every committed write of every
service leaves one row naming the token's subject, issuer and client, in the write's transaction;
a read, a refused or rolled-back write leaves none; ``GET /v1/audit`` shows it to city_admin."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from libs.domain.kernel.contracts import Actor
from libs.domain.kernel.values import Role
from services.common.audit import close_request, note_actor, open_request
from services.common.db import serialise_writes
from services.common.runtime import runtime_of
from services.permits.runtime import PermitsRuntime
from services.registry.runtime import RegistryRuntime
from tests.assessment.builders import World, method_doc
from tests.conftest import make_token
from tests.metrics.builders import XUANHUA, Registry, batch, obs
from tests.permits.builders import ZONE, fake_registry, item_body

ISSUER = "devzones"  # the development tokens' issuer
CITY = {"Authorization": f"Bearer {make_token('city_admin', sub='auditor')}"}

Row = tuple[str, str, str | None, str | None, str | None]


def bearer(role: str, sub: str, client_id: str | None = None, **scope: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {make_token(role, sub=sub, client_id=client_id, **scope)}"}


async def audit(client: httpx.AsyncClient, **params: str) -> list[dict[str, Any]]:
    r = await client.get("/v1/audit", params={"limit": "500", **params}, headers=CITY)
    assert r.status_code == 200, r.text
    items: list[dict[str, Any]] = r.json()["items"]
    return items


def rows(entries: list[dict[str, Any]]) -> list[Row]:
    """What each entry says of the write, newest first."""
    return [(e["method"], e["route"], e["sub"], e["issuer"], e["client_id"]) for e in entries]


async def created(response: Any) -> None:
    r = await response
    assert r.status_code in (200, 201), r.text


class TestAMachineClientAndAPersonAreToldApartInEveryService:
    async def test_registry(self, app_client: Callable[..., Any]) -> None:
        async with app_client("registry") as client:
            person = bearer("city_admin", "clerk-wang")
            machine = bearer("city_admin", "svc-sync", client_id="city-sync")
            division = {"name": "张家口市", "valid_from": "2000-01-01", "is_city": True}
            await created(client.post("/v1/divisions", headers=person, json={"code": "130700", **division}))
            await created(client.get("/v1/divisions", headers=person))  # a read: no entry
            await created(
                client.post("/v1/divisions", headers=machine, json={**division, "code": "130705", "is_city": False})
            )
            entries = await audit(client)
            by_client = await audit(client, client_id="city-sync")
            by_sub = await audit(client, sub="clerk-wang")
            later = await audit(client, since="2999-01-01T00:00:00Z")
            earlier = await audit(client, since="2000-01-01T00:00:00+08:00")
        assert rows(entries) == [
            ("POST", "/v1/divisions", "svc-sync", ISSUER, "city-sync"),
            ("POST", "/v1/divisions", "clerk-wang", ISSUER, None),
        ]
        assert [e["sub"] for e in by_client] == ["svc-sync"]
        assert [e["client_id"] for e in by_sub] == [None]
        assert later == [] and earlier == entries
        assert all(isinstance(e["id"], str) and e["request_id"] for e in entries)

    async def test_metrics_and_the_batch_records_the_client(self, app_client: Callable[..., Any]) -> None:
        from services.metrics.dependencies import registry_client

        fake = Registry()
        # A county push carries an Idempotency-Key: its claim (a transaction of its own) is no entry.
        person = bearer("county", "county-clerk", division="130705") | {"Idempotency-Key": "k1"}
        machine = bearer("county", "svc-130705", client_id="county-130705-stats", division="130705")
        machine |= {"Idempotency-Key": "k2"}
        async with app_client("metrics", overrides={registry_client: lambda: fake}) as client:
            await created(
                client.post(
                    "/v1/observations", headers=person, json=batch(obs({"zone_id": XUANHUA}, "gdp", "2017", 1, "万元"))
                )
            )
            await created(
                client.post(
                    "/v1/observations", headers=machine, json=batch(obs({"zone_id": XUANHUA}, "gdp", "2018", 2, "万元"))
                )
            )
            entries = await audit(client)
            values = await client.get("/v1/observations", params={"zone_id": XUANHUA}, headers=CITY)
            verified = await client.get("/v1/ledger/verify", headers=CITY)
            db = client.app.state.runtime.db  # type: ignore[attr-defined]
            async with db.engine.begin() as conn:
                await conn.execute(
                    text("UPDATE batch SET recorded_by_client = 'forged' WHERE recorded_by_client IS NOT NULL")
                )
            tampered = await client.get("/v1/ledger/verify", headers=CITY)
        assert rows(entries) == [
            ("POST", "/v1/observations", "svc-130705", ISSUER, "county-130705-stats"),
            ("POST", "/v1/observations", "county-clerk", ISSUER, None),
        ]
        by_period = {v["period"]: v for v in values.json()["items"]}
        assert (by_period["2017"]["recorded_by_client"], by_period["2017"]["recorded_by_issuer"]) == (None, ISSUER)
        assert by_period["2018"]["recorded_by_client"] == "county-130705-stats"
        assert verified.json()["intact"] is True, verified.text
        assert tampered.json()["intact"] is False, tampered.text

    async def test_permits_through_the_hot_intake(self, app_client: Callable[..., Any]) -> None:
        from services.permits.dependencies import registry_client

        fake = fake_registry()
        admin = bearer("bureau_admin", "admin-li", zone=ZONE)
        portal = bearer("applicant", "ent-9", client_id="enterprise-portal")
        bureau = {"name": "审批局", "document_prefix": "张经审", "seal": "行政审批专用章"}
        async with app_client("permits", overrides={registry_client: lambda: fake}) as client:
            await created(client.put(f"/v1/catalog/bureaus/{ZONE}", headers=admin, json=bureau))
            item = await client.post("/v1/catalog/items", headers=admin, json=item_body(materials=[]))
            assert item.status_code == 201, item.text
            body = {"item": item.json()["id"], "zone_id": ZONE, "project_name": "项目", "applicant": {"name": "企业"}}
            await created(client.post("/v1/applications", headers=portal, json=body))
            entries = await audit(client)
        assert rows(entries) == [
            ("POST", "/v1/applications", "ent-9", ISSUER, "enterprise-portal"),
            ("POST", "/v1/catalog/items", "admin-li", ISSUER, None),
            ("PUT", "/v1/catalog/bureaus/{zone_id}", "admin-li", ISSUER, None),
        ]

    async def test_assessment(self, app_client: Callable[..., Any]) -> None:
        world = World()
        person = bearer("city_admin", "planner-zhao")
        machine = bearer("city_admin", "svc-pipeline", client_id="methodology-pipeline")
        async with app_client("assessment", overrides=world.overrides()) as client:
            await created(client.post("/v1/methodologies", headers=person, json=method_doc()))
            await created(client.post("/v1/methodologies", headers=machine, json=method_doc(code="econ-two")))
            entries = await audit(client)
        assert rows(entries) == [
            ("POST", "/v1/methodologies", "svc-pipeline", ISSUER, "methodology-pipeline"),
            ("POST", "/v1/methodologies", "planner-zhao", ISSUER, None),
        ]


class TestWhatLeavesNoEntry:
    async def test_a_refused_write_a_repeat_that_changes_nothing_and_a_read_leave_none(
        self, app_client: Callable[..., Any]
    ) -> None:
        async with app_client("registry") as client:
            person = bearer("city_admin", "clerk-wang")
            body = {"code": "130700", "name": "张家口市", "valid_from": "2000-01-01", "is_city": True}
            await created(client.post("/v1/divisions", headers=person, json=body))
            again = await client.post("/v1/divisions", headers=person, json=body)  # the same again: no change
            invalid = await client.post("/v1/divisions", headers=person, json={"code": "x"})
            county = bearer("county", "c", division="130705")
            forbidden = await client.post("/v1/divisions", headers=county, json={**body, "code": "130705"})
            await client.get("/v1/divisions", headers=person)
            entries = await audit(client)
        assert (again.status_code, invalid.status_code, forbidden.status_code) == (200, 422, 403)
        assert len(entries) == 1

    async def test_a_rolled_back_transaction_leaves_none_and_a_lock_is_not_a_write(
        self, app_client: Callable[..., Any]
    ) -> None:
        async with app_client("registry") as client:
            db = runtime_of(client.app, RegistryRuntime).db  # type: ignore[attr-defined]
            token = open_request("req-seam", {"method": "POST", "path": "/v1/seam"})
            note_actor(Actor(sub="svc", roles=frozenset({Role.CITY_ADMIN}), issuer=ISSUER, client_id="c1"))
            try:
                async with db.sessions() as s:  # wrote, then failed: rolled back
                    await s.execute(text("INSERT INTO write_lock (name, counter) VALUES ('a', 1)"))
                    await s.rollback()
                async with db.sessions() as s:  # only the write lock, then committed
                    await serialise_writes(s, "write_lock", "registry")
                    await s.commit()
                async with db.sessions() as s:  # a read, committed
                    await s.execute(text("SELECT count(*) FROM write_lock"))
                    await s.commit()
                async with db.sessions() as s:  # a write, committed
                    await s.execute(text("INSERT INTO write_lock (name, counter) VALUES ('b', 1)"))
                    await s.commit()
            finally:
                close_request(token)
            async with db.sessions() as s:
                stored = (
                    await s.execute(text("SELECT request_id, method, route, sub, client_id FROM audit_log"))
                ).all()
        assert [tuple(r) for r in stored] == [("req-seam", "POST", "/v1/seam", "svc", "c1")]


class TestTheGroupCommitGivesEachRequestItsOwnEntry:
    async def test_concurrent_intakes(self, app_client: Callable[..., Any]) -> None:
        from services.permits.dependencies import registry_client

        fake = fake_registry()
        admin = bearer("bureau_admin", "admin-li", zone=ZONE)
        bureau = {"name": "审批局", "document_prefix": "张经审", "seal": "行政审批专用章"}
        async with app_client("permits", overrides={registry_client: lambda: fake}) as client:
            runtime = runtime_of(client.app, PermitsRuntime)  # type: ignore[attr-defined]
            await created(client.put(f"/v1/catalog/bureaus/{ZONE}", headers=admin, json=bureau))
            item = (await client.post("/v1/catalog/items", headers=admin, json=item_body(materials=[]))).json()
            body = {"item": item["id"], "zone_id": ZONE, "project_name": "项目", "applicant": {"name": "企业"}}
            n = 12
            answers = await asyncio.gather(
                *(
                    client.post(
                        "/v1/applications",
                        headers={
                            **bearer("applicant", f"ent-{i}", client_id=f"portal-{i % 2}"),
                            "X-Request-ID": f"r{i}",
                        },
                        json=body,
                    )
                    for i in range(n)
                )
            )
            everything = await audit(client)
            paged: list[dict[str, Any]] = []
            cursor: str | None = None
            while True:
                params = {"limit": "5"} | ({"cursor": cursor} if cursor else {})
                page = (await client.get("/v1/audit", params=params, headers=CITY)).json()
                paged += page["items"]
                cursor = page["next_cursor"]
                if cursor is None:
                    break
        intakes = [e for e in everything if e["route"] == "/v1/applications"]
        assert [a.status_code for a in answers] == [201] * n
        assert paged == everything and len(everything) == n + 2
        assert [int(e["id"]) for e in everything] == sorted((int(e["id"]) for e in everything), reverse=True)
        got = sorted((e["request_id"], e["sub"], e["client_id"]) for e in intakes)
        assert got == sorted((f"r{i}", f"ent-{i}", f"portal-{i % 2}") for i in range(n))
        writer = runtime.intake_writer
        if writer is not None:  # PostgreSQL: the intakes went through the group commit, several per statement
            assert writer.cases == n and writer.statements < n


@pytest.mark.parametrize("service", ["registry", "metrics", "permits", "assessment"])
async def test_only_city_admin_reads_the_audit_log(app_client: Callable[..., Any], service: str) -> None:
    overrides: dict[Any, Any] = {}
    if service == "assessment":
        overrides = World().overrides()
    async with app_client(service, overrides=overrides) as client:
        anonymous = await client.get("/v1/audit")
        county = await client.get("/v1/audit", headers=bearer("county", "c", division="130705"))
        page = await client.get("/v1/audit", params={"since": "2026-01-01T00:00:00+08:00"}, headers=CITY)
        bad_cursor = await client.get("/v1/audit", params={"cursor": "nope"}, headers=CITY)
    assert (anonymous.status_code, county.status_code, page.status_code) == (401, 403, 200)
    assert page.json() == {"items": [], "next_cursor": None}
    assert bad_cursor.status_code == 422
