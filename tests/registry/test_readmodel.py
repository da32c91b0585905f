"""The in-memory read model never answers older than a committed write it can know about."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import select

from tests.conftest import auth
from tests.registry.builders import readmodel, runtime

ADMIN = auth("city_admin")


async def _setup(client: Any) -> str:
    r = await client.post(
        "/v1/divisions", headers=ADMIN, json={"code": "130728", "name": "怀安县", "valid_from": "2000-01-01"}
    )
    assert r.status_code == 201
    r = await client.post(
        "/v1/reorganisations",
        headers=ADMIN,
        json={
            "legal_basis": "t",
            "effective_on": "2010-01-01",
            "title": "t",
            "operations": [{"op": "establish", "ref": "a", "name": "甲区", "kind": "economic", "authority": "130728"}],
        },
    )
    assert r.status_code == 201
    return str(r.json()["zone_ids_by_ref"]["a"])


class TestReadYourWrites:
    async def test_a_read_right_after_a_write_sees_it(self, registry: Any) -> None:
        async with registry() as client:
            zone = await _setup(client)
            for i in range(5):
                name = f"乙区{i}"
                r = await client.post(
                    "/v1/reorganisations",
                    headers=ADMIN,
                    json={
                        "legal_basis": "t",
                        "effective_on": f"201{i + 1}-01-01",
                        "title": "t",
                        "operations": [{"op": "rename", "zone_id": zone, "name": name}],
                    },
                )
                assert r.status_code == 201
                got = (await client.get(f"/v1/zones/{zone}", params={"as_of": "2030-01-01"})).json()
                assert got["name"] == name

    async def test_a_failed_write_leaves_reads_answering(self, registry: Any) -> None:
        async with registry() as client:
            zone = await _setup(client)
            bad = await client.post(
                "/v1/reorganisations",
                headers=ADMIN,
                json={
                    "legal_basis": "t",
                    "effective_on": "2011-01-01",
                    "title": "t",
                    "operations": [{"op": "rename", "zone_id": zone, "name": "甲区"}],
                },
            )
            got = await client.get(f"/v1/zones/{zone}", params={"as_of": "2030-01-01"})
            model = readmodel(client)
        assert bad.status_code == 422
        assert got.json()["name"] == "甲区"
        assert model.index is not None and model.required <= model.index.version


class TestTheIndexReadsAreChosenOncePerSnapshot:
    async def test_made_once_and_withdrawn_while_the_snapshot_may_not_answer(self, registry: Any) -> None:
        async with registry() as client:
            zone = await _setup(client)
            model = readmodel(client)
            for _ in range(50):  # PostgreSQL: once it listens
                if model.trusted:
                    break
                await asyncio.sleep(0.1)
            url = f"/v1/zones/{zone}"
            assert (await client.get(url)).status_code == 200
            ready = model.ready
            assert ready is not None and model.index is not None and ready.index is model.index
            assert (await client.get(url)).status_code == 200
            assert model.ready is ready  # the next read made nothing new
            version = model.index.version
            model.require(version + 1)  # a change this snapshot lacks (none exists: it never catches up)
            assert model.ready is None
            assert (await client.get(url)).status_code == 200  # from SQL
            assert model.ready is None
            model.required = version
            model.trusted = False
            assert model.ready is None
            model.trusted = True
            assert model.ready is not None and model.ready.index is model.index


class TestSeveralInstances:
    @pytest.mark.parametrize("backend", ["postgresql"])
    async def test_another_instance_learns_of_a_write_through_notify(self, app_client: Any, backend: str) -> None:
        async with app_client("registry") as writer, app_client("registry") as reader:
            zone = await _setup(writer)
            for _ in range(50):  # the listener connects within a second or two
                if readmodel(reader).trusted:
                    break
                await asyncio.sleep(0.1)
            first = (await reader.get(f"/v1/zones/{zone}", params={"as_of": "2030-01-01"})).json()
            assert readmodel(reader).index is not None  # answered from memory
            r = await writer.post(
                "/v1/reorganisations",
                headers=ADMIN,
                json={
                    "legal_basis": "t",
                    "effective_on": "2012-01-01",
                    "title": "t",
                    "operations": [{"op": "rename", "zone_id": zone, "name": "丙区"}],
                },
            )
            assert r.status_code == 201
            seen = None
            for _ in range(50):
                seen = (await reader.get(f"/v1/zones/{zone}", params={"as_of": "2030-01-01"})).json()["name"]
                if seen == "丙区":
                    break
                await asyncio.sleep(0.1)
        assert first["name"] == "甲区"
        assert seen == "丙区"

    @pytest.mark.parametrize("backend", ["postgresql"])
    async def test_without_its_listener_an_instance_reads_the_database(self, app_client: Any, backend: str) -> None:
        async with app_client("registry") as writer, app_client("registry") as reader:
            zone = await _setup(writer)
            model = readmodel(reader)
            for _ in range(50):
                if model.trusted:
                    break
                await asyncio.sleep(0.1)
            cached = (await reader.get(f"/v1/zones/{zone}", params={"as_of": "2030-01-01"})).json()
            assert cached["name"] == "甲区"
            assert model.index is not None
            await model.stop()  # no notifications any more: the cache may not be trusted
            model.trusted = False
            r = await writer.post(
                "/v1/reorganisations",
                headers=ADMIN,
                json={
                    "legal_basis": "t",
                    "effective_on": "2012-01-01",
                    "title": "t",
                    "operations": [{"op": "rename", "zone_id": zone, "name": "丁区"}],
                },
            )
            assert r.status_code == 201
            got = (await reader.get(f"/v1/zones/{zone}", params={"as_of": "2030-01-01"})).json()
        assert got["name"] == "丁区"


def _canonical(index: Any) -> Any:
    """Everything a snapshot answers with, in a comparable form."""

    def edges(by: dict[str, list[Any]]) -> dict[str, list[tuple[Any, ...]]]:
        return {k: [(e.id, e.source, e.target, e.operation, e.on, e.reorganisation) for e in v] for k, v in by.items()}

    return (
        index.version,
        {
            z: [(e.valid_from, e.valid_to, e.json, e.names, e.alias_keys) for e in entries]
            for z, entries in index.by_zone.items()
        },
        index.starts,
        index.zone_ids,
        {
            a: [(m.zone_id, m.found.valid_from, m.match, m.matched_name) for m in rows]
            for a, rows in index.aliases.items()
        },
        edges(index.into),
        edges(index.out),
    )


class TestIncrementalReload:
    async def test_following_the_change_feed_gives_what_a_full_load_gives(self, registry: Any) -> None:
        async with registry() as client:
            zone_a = await _setup(client)
            model = readmodel(client)
            assert (await client.get(f"/v1/zones/{zone_a}")).status_code == 200  # first (full) load

            async def act(on: str, *ops: dict[str, Any]) -> dict[str, Any]:
                r = await client.post(
                    "/v1/reorganisations",
                    headers=ADMIN,
                    json={"legal_basis": "t", "effective_on": on, "title": "t", "operations": list(ops)},
                )
                assert r.status_code == 201, r.text
                body: dict[str, Any] = r.json()
                return body

            b = (
                await act(
                    "2011-01-01",
                    {"op": "establish", "ref": "b", "name": "乙区", "kind": "economic", "authority": "130728"},
                )
            )["zone_ids_by_ref"]["b"]
            await act("2012-01-01", {"op": "rename", "zone_id": zone_a, "name": "甲新区"})
            merged = await act(
                "2013-01-01",
                {"op": "establish", "ref": "n", "name": "丙区", "kind": "economic", "authority": "130728"},
                {"op": "merge", "sources": [zone_a, b], "into": "n", "sources_become": "parks"},
            )
            assert (await client.get(f"/v1/zones/{b}")).status_code == 200
            r = await client.post(
                "/v1/divisions", headers=ADMIN, json={"code": "130722", "name": "张北县", "valid_from": "2000-01-01"}
            )
            assert r.status_code == 201
            annulled = await client.post(
                f"/v1/reorganisations/{merged['id']}/annul", headers=ADMIN, json={"reason": "录入错误"}
            )
            assert annulled.status_code == 200
            resolved = await client.get("/v1/zones/resolve", params={"name": "甲新区", "as_of": "2020-01-01"})
            assert resolved.status_code == 200
            assert [m["state"]["id"] for m in resolved.json()["matches"]] == [zone_a]
            await act("2014-01-01", {"op": "merge", "sources": [b], "into": zone_a, "sources_become": "parks"})
            lineage = await client.get(f"/v1/zones/{b}/lineage")
            assert lineage.status_code == 200
            following = model.index
            full = await model._load_full()
        # one full load for the first read; each later read after writes followed the feed
        assert model.loads == {"full": 1, "incremental": 3}
        assert following is not None and any(following.out.values()), "the final state has lineage links to compare"
        assert _canonical(following) == _canonical(full)

    async def test_an_unknown_kind_of_change_makes_a_full_load(self, registry: Any) -> None:
        async with registry() as client:
            zone = await _setup(client)
            model = readmodel(client)
            assert (await client.get(f"/v1/zones/{zone}")).status_code == 200
            from services.registry.tables import Change

            async with runtime(client).db.sessions() as session:
                session.add(Change(type="zone.something_new", payload={}, occurred_at=datetime.now(UTC)))
                await session.commit()
                newest = max((await session.scalars(select(Change.id))).all())
            model.require(newest)
            assert (await client.get(f"/v1/zones/{zone}")).status_code == 200
        assert model.loads == {"full": 2, "incremental": 0}
        assert model.index is not None and model.index.version == newest
