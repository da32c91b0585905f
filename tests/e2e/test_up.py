"""End to end: ``devzones up`` starts the four services as real processes; they talk over HTTP."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.stack import SERVICES, Running, start_up, stop

pytestmark = pytest.mark.e2e
UI = "https://ui.example.gov.cn"


@pytest.fixture
def system(tmp_path: Path, backend: str, databases: Any) -> Iterator[Running]:
    env: dict[str, str] = {}
    if backend == "postgresql":
        for service in SERVICES:
            env[f"{service.upper()}_DATABASE_URL"] = databases.new_pg_database(f"e2e_{service}")
    running = start_up(tmp_path, env, "--no-demo", "--cors-origin", UI)
    try:
        yield running
    finally:
        if running.proc.poll() is None:
            stop(running)


class TestDevzonesUp:
    def test_four_services_ready_talking_and_stopping_cleanly(self, system: Running) -> None:
        with httpx.Client(timeout=10) as http:
            for service, url in system.urls.items():
                ready = http.get(f"{url}/readyz", headers={"Origin": UI})
                assert ready.status_code == 200, (service, ready.text)
                assert ready.json()["service"] == service
                # `devzones up --cors-origin` reached every service process.
                assert ready.headers["access-control-allow-origin"] == UI, service

            # A token from `devzones token` with the same data dir is accepted.
            admin = system.token("--role", "city_admin", "--sub", "e2e-admin")
            created = http.post(
                f"{system.urls['registry']}/v1/divisions",
                json={"code": "130705", "name": "宣化区", "valid_from": "2016-01-07"},
                headers={"Authorization": f"Bearer {admin}"},
            )
            assert created.status_code == 201, created.text

            # assessment -> registry over real HTTP, with the request id passed on.
            r = http.get(f"{system.urls['assessment']}/v1/zones/nope/outcomes", headers={"X-Request-ID": "e2e-rid-1"})
            assert r.status_code == 404
            assert r.headers["content-type"].startswith("application/problem+json")
            assert r.json()["service"] == "registry"

        assert stop(system) == 0
        lines = [json.loads(x) for x in system.log.read_text().splitlines() if x.startswith("{")]
        hits = [x for x in lines if x.get("request_id") == "e2e-rid-1" and x.get("event") == "request"]
        assert {h["service"] for h in hits} == {"assessment", "registry"}
        for url in system.urls.values():
            with pytest.raises(httpx.ConnectError):
                httpx.get(f"{url}/healthz", timeout=2)


@pytest.fixture
def demo_env(tmp_path: Path, backend: str, databases: Any) -> dict[str, str]:
    env: dict[str, str] = {}
    if backend == "postgresql":
        for service in SERVICES:
            env[f"{service.upper()}_DATABASE_URL"] = databases.new_pg_database(f"demo_{service}")
    return env


class TestDevzonesUpWithDemo:
    def test_the_demo_loads_across_all_services_and_only_once(self, tmp_path: Path, demo_env: dict[str, str]) -> None:
        first = start_up(tmp_path, demo_env)
        try:
            with httpx.Client(timeout=30) as http:
                reg, met, ass, per = (first.urls[s] for s in SERVICES)
                after = http.get(f"{reg}/v1/zones/counts", params={"as_of": "2016-10-14"}).json()
                before = http.get(f"{reg}/v1/zones/counts", params={"as_of": "2016-10-13"}).json()
                acts = http.get(f"{reg}/v1/reorganisations").json()["items"]
                matrix = http.get(
                    f"{met}/v1/matrix", params={"period": "2020", "indicators": "gdp", "kind": "economic"}
                ).json()
                runs = http.get(f"{ass}/v1/assessments", params={"limit": 500}).json()["items"]
                admin = {"Authorization": f"Bearer {first.token('--role', 'city_admin')}"}
                locks = http.get(f"{met}/v1/locks", params={"limit": 500}, headers=admin).json()["items"]
                zones = http.get(f"{reg}/v1/zones", params={"status": "active"}).json()["items"]
                catalogs = [http.get(f"{per}/v1/catalog", params={"zone_id": z["id"]}).json() for z in zones]
        finally:
            assert stop(first) == 0
        # 张发〔2016〕12号 二(五): 14 + 4 before, 12 + 1 after.
        assert (before["by_kind"], after["by_kind"]) == (
            {"economic": 14, "high_tech": 4},
            {"economic": 12, "high_tech": 1},
        )
        assert len(acts) == 2
        assert len(matrix["rows"]) == 12
        assert all(r["values"]["gdp"] is not None for r in matrix["rows"])
        assert runs
        # Publishing a run locked its period in metrics, over HTTP, in the name of the demo's token.
        published = {(r["period"], r["kind"]) for r in runs if r["status"] == "published"}
        assert published and published <= {(lock["period"], lock["kind"]) for lock in locks}
        assert {lock["created_by"] for lock in locks} == {"demo-loader"}
        assert any(c["items"] for c in catalogs)

        second = start_up(tmp_path, demo_env)  # same data: the demo must not load twice
        try:
            with httpx.Client(timeout=30) as http:
                acts_again = http.get(f"{second.urls['registry']}/v1/reorganisations").json()["items"]
                runs_again = http.get(f"{second.urls['assessment']}/v1/assessments", params={"limit": 500}).json()
        finally:
            assert stop(second) == 0
        assert len(acts_again) == 2
        assert len(runs_again["items"]) == len(runs)
