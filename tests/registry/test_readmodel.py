"""The in-memory read model never answers older than a committed write it can know about."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tests.conftest import auth

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
    return str(r.json()["zones"]["a"])


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
                        "operations": [{"op": "rename", "zone": zone, "name": name}],
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
                    "operations": [{"op": "rename", "zone": zone, "name": "甲区"}],
                },
            )
            got = await client.get(f"/v1/zones/{zone}", params={"as_of": "2030-01-01"})
            model = client.app.state.readmodel  # type: ignore[attr-defined]
        assert bad.status_code == 422
        assert got.json()["name"] == "甲区"
        assert model.required <= model.index.version


class TestSeveralInstances:
    @pytest.mark.parametrize("backend", ["postgresql"])
    async def test_another_instance_learns_of_a_write_through_notify(self, app_client: Any, backend: str) -> None:
        async with app_client("registry") as writer, app_client("registry") as reader:
            zone = await _setup(writer)
            for _ in range(50):  # the listener connects within a second or two
                if reader.app.state.readmodel.trusted:
                    break
                await asyncio.sleep(0.1)
            first = (await reader.get(f"/v1/zones/{zone}", params={"as_of": "2030-01-01"})).json()
            assert reader.app.state.readmodel.index is not None  # answered from memory
            r = await writer.post(
                "/v1/reorganisations",
                headers=ADMIN,
                json={
                    "legal_basis": "t",
                    "effective_on": "2012-01-01",
                    "title": "t",
                    "operations": [{"op": "rename", "zone": zone, "name": "丙区"}],
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
            model = reader.app.state.readmodel
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
                    "operations": [{"op": "rename", "zone": zone, "name": "丁区"}],
                },
            )
            assert r.status_code == 201
            got = (await reader.get(f"/v1/zones/{zone}", params={"as_of": "2030-01-01"})).json()
        assert got["name"] == "丁区"
