"""Two replicas of each service on one PostgreSQL database, as real ``devzones serve`` processes
talking HTTP: idempotency keys hold across replicas, the overdue sweep escalates each event once
with two sweepers racing, and each registry replica's in-memory index follows the other's writes."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import pytest

from services.registry import demo as registry_demo
from tests.conftest import auth, make_token
from tests.e2e.stack import Served, migrate, serve, terminate
from tests.helpers import fetch
from tests.permits.builders import item_body

pytestmark = pytest.mark.e2e

CITY = auth("city_admin")
FOLLOW_BOUND_SECONDS = 1.0
"""How soon a replica must see another's write (ADR 0003: NOTIFY arrives within milliseconds)."""


class Stack:
    """Processes started by a test, each on a fresh migrated PostgreSQL database per service."""

    def __init__(self, tmp: Path, databases: Any) -> None:
        self.tmp, self.databases = tmp, databases
        self.urls: dict[str, str] = {}
        self.processes: list[Served] = []

    def database(self, service: str) -> dict[str, str]:
        if service not in self.urls:
            self.urls[service] = self.databases.new_pg_database(f"replicas_{service}")
            migrate(service, self.tmp, self.env(service))
        return self.env(service)

    def env(self, service: str) -> dict[str, str]:
        return {f"{service.upper()}_DATABASE_URL": self.urls[service]}

    def start(self, service: str, name: str, **extra: str) -> Served:
        served = serve(service, self.tmp, {**self.database(service), **extra}, name=name)
        self.processes.append(served)
        return served

    def sql(self, service: str, query: str) -> list[Any]:
        return asyncio.run(fetch(self.urls[service], query))

    def stop_all(self) -> None:
        for served in self.processes:
            if served.proc.poll() is None:
                terminate(served)


@pytest.fixture
def stack(tmp_path: Path, databases: Any) -> Iterator[Stack]:
    databases.pg_available()  # replicas share a database: PostgreSQL only (SQLite is one process per file)
    running = Stack(tmp_path, databases)
    try:
        yield running
    finally:
        running.stop_all()


def load_registry_demo(registry: Served) -> None:
    async def load() -> None:
        async with httpx.AsyncClient(timeout=30, headers=CITY) as http:
            await registry_demo.load(http, {"registry": registry.url})

    asyncio.run(load())


def seen_within(check: Any, bound: float) -> float:
    """Seconds until ``check()`` holds (polled), or AssertionError after ``bound`` seconds."""
    start = time.monotonic()
    while True:
        if check():
            return time.monotonic() - start
        if time.monotonic() - start > bound:
            raise AssertionError(f"not seen within {bound}s")
        time.sleep(0.005)


class TestRegistryReplicasFollowEachOther:
    def test_a_write_on_one_replica_is_read_on_the_other_within_the_bound(self, stack: Stack) -> None:
        a = stack.start("registry", "registry-a")
        b = stack.start("registry", "registry-b")
        with httpx.Client(timeout=10) as http:

            def zones(replica: Served, day: str) -> list[tuple[str, str]]:
                r = http.get(f"{replica.url}/v1/zones", params={"as_of": day, "status": "active", "limit": 500})
                assert r.status_code == 200, r.text
                return sorted((z["id"], z["name"]) for z in r.json()["items"])

            # B answers from its index (loaded now, at an empty registry).
            assert zones(b, "2016-10-01") == [] and zones(b, "2017-01-01") == []
            load_registry_demo(a)  # divisions, the baseline act and the 2016 reorganisation, all on A
            before, after = zones(a, "2016-10-01"), zones(a, "2017-01-01")
            # By hand from services/registry/demo.py: the baseline's 18 zones before 14 Oct 2016; the
            # act establishes one and merges six away (西山经济, 南山, 怀安工业园, 东山, 怀来高新, 涿鹿高新).
            assert (len(before), len(after)) == (18, 13)
            waited = seen_within(lambda: zones(b, "2017-01-01") == after, FOLLOW_BOUND_SECONDS)
            assert zones(b, "2016-10-01") == before

            # The 2016 act annulled on B, read on A (the other way, incremental).
            act = http.get(f"{b.url}/v1/reorganisations", params={"limit": 500}).json()["items"][-1]
            r = http.post(
                f"{b.url}/v1/reorganisations/{act['id']}/annul", json={"reason": "replica test"}, headers=CITY
            )
            assert r.status_code == 200, r.text
            waited = max(waited, seen_within(lambda: zones(a, "2017-01-01") == before, FOLLOW_BOUND_SECONDS))
            assert zones(b, "2017-01-01") == before
        print(f"registry replica followed within {waited * 1000:.0f} ms")


def push(rows: list[dict[str, Any]], key: str) -> dict[str, Any]:
    return {"json": {"observations": rows}, "headers": {**CITY, "Idempotency-Key": key}}


def gdp(years: range, value: str) -> list[dict[str, Any]]:
    return [{"division": "130700", "indicator": "gdp", "period": str(y), "value": value, "unit": "万元"} for y in years]


class TestIdempotencyAcrossReplicas:
    def test_a_key_used_on_one_metrics_replica_replays_on_the_other_and_a_racing_pair_stores_once(
        self, stack: Stack
    ) -> None:
        registry = stack.start("registry", "registry")
        m1 = stack.start("metrics", "metrics-1", REGISTRY_URL=registry.url)
        m2 = stack.start("metrics", "metrics-2", REGISTRY_URL=registry.url)
        with httpx.Client(timeout=30) as http:
            first = http.post(f"{m1.url}/v1/observations", **push(gdp(range(2019, 2022), "100.00"), "k-1"))
            assert first.status_code == 200, first.text
            assert first.json()["counts"]["created"] == 3
            replay = http.post(f"{m2.url}/v1/observations", **push(gdp(range(2019, 2022), "100.00"), "k-1"))
            assert replay.status_code == 200, replay.text
            assert replay.json() == first.json()
            assert replay.headers.get("idempotent-replayed") == "true"
            other = http.post(f"{m2.url}/v1/observations", **push(gdp(range(2019, 2022), "999.00"), "k-1"))
            assert other.status_code == 422, other.text  # the same key with another body

        # The same new key sent to both replicas at once, many times over.
        answers: list[httpx.Response] = []
        barrier = threading.Barrier(8)

        def send(replica: Served) -> None:
            with httpx.Client(timeout=30) as http:
                barrier.wait()
                answers.append(
                    http.post(f"{replica.url}/v1/observations", **push(gdp(range(2010, 2019), "7.00"), "k-2"))
                )

        threads = [threading.Thread(target=send, args=(m,)) for m in (m1, m2) * 4]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        statuses = sorted(a.status_code for a in answers)
        assert set(statuses) <= {200, 409}, [a.text for a in answers]
        created = [a.json()["counts"]["created"] for a in answers if a.status_code == 200]
        assert created and set(created) == {9}  # every 200 is the one answer (stored, or replayed)
        assert stack.sql("metrics", "SELECT count(*) FROM batch")[0][0] == 2
        assert stack.sql("metrics", "SELECT count(*) FROM observation")[0][0] == 3 + 9


ZONE_DAY = date(2026, 2, 12)
SWEEP_DAY = date(2026, 3, 5)


class TestTheOverdueSweepAcrossReplicas:
    def test_two_sweeping_replicas_escalate_each_overdue_event_exactly_once(self, stack: Stack) -> None:
        registry = stack.start("registry", "registry")
        load_registry_demo(registry)
        with httpx.Client(timeout=30) as http:
            zone = http.get(f"{registry.url}/v1/zones", params={"status": "active", "limit": 1}).json()["items"][0]
        zone_id = zone["id"]
        sweeping = {
            "REGISTRY_URL": registry.url,
            "PERMITS_TODAY": SWEEP_DAY.isoformat(),
            "PERMITS_WORKERS_ENABLED": "true",
            "PERMITS_SWEEP_INTERVAL_SECONDS": "0.05",
        }
        # Two replicas sweeping every 50 ms as of 5 March; a third, the window on 12 February,
        # accepts cases that are overdue for the sweepers the moment they are accepted.
        sweepers = [stack.start("permits", f"permits-sweeper-{i}", **sweeping) for i in (1, 2)]
        window = stack.start("permits", "permits-window", REGISTRY_URL=registry.url, PERMITS_TODAY=ZONE_DAY.isoformat())
        admin = auth("bureau_admin", zone=zone_id)
        clerk = auth("window_clerk", zone=zone_id)
        enterprise = {"Authorization": f"Bearer {make_token('applicant', sub='ent-1')}"}
        cases: list[str] = []
        with httpx.Client(timeout=30, base_url=window.url) as http:
            r = http.post("/v1/catalog/items", json=item_body(zone_id=zone_id), headers=admin)
            assert r.status_code == 201, r.text
            item = r.json()
            for n in range(5):
                materials = []
                for code in ("m1", "m2", "m3"):
                    f = http.post(
                        "/v1/files",
                        files={"file": (f"{code}.pdf", f"case {n} {code}".encode(), "application/pdf")},
                        headers=enterprise,
                    )
                    assert f.status_code == 201, f.text
                    materials.append({"code": code, "file_id": f.json()["id"], "sha256": f.json()["sha256"]})
                body = {
                    "item": item["id"],
                    "zone_id": zone_id,
                    "project_name": f"示例项目{n}",
                    "applicant": {"name": "示例企业有限公司", "credit_code": "91130700MA0A1B2C3D"},
                    "materials": materials,
                }
                # Intake on the window, replayed on a sweeper replica: the same case.
                key = {"Idempotency-Key": f"case-{n}"}
                case = http.post("/v1/applications", json=body, headers={**enterprise, **key})
                assert case.status_code == 201, case.text
                again = httpx.post(
                    f"{sweepers[n % 2].url}/v1/applications", json=body, headers={**enterprise, **key}, timeout=30
                )
                assert again.status_code == 201 and again.json()["id"] == case.json()["id"], again.text
                accepted = http.post(f"/v1/applications/{case.json()['id']}/accept", json={}, headers=clerk)
                assert accepted.status_code == 200, accepted.text
                cases.append(case.json()["id"])

        # By hand (tests/permits/test_sweeper.py): accepted Thu 12 Feb 2026, the two stage-1 tasks
        # are due Fri 27 Feb and the case Wed 4 Mar, all overdue on 5 Mar: 3 events per case.
        expected = {("application", c, "2026-03-04") for c in cases}
        with httpx.Client(timeout=30, base_url=sweepers[0].url) as http:

            def escalations() -> list[dict[str, Any]]:
                r = http.get("/v1/escalations", params={"limit": 200}, headers=admin)
                assert r.status_code == 200, r.text
                items: list[dict[str, Any]] = r.json()["items"]
                return items

            seen_within(lambda: len(escalations()) >= 15, 10.0)
            time.sleep(1.0)  # some forty more sweeps of each replica
            events = escalations()
            assert len(events) == 15
            kinds = sorted((e["subject_kind"], e["deadline"]) for e in events)
            assert kinds == sorted([("application", "2026-03-04")] * 5 + [("task", "2026-02-27")] * 10)
            assert {
                ("application", e["application"], e["deadline"]) for e in events if e["subject_kind"] == "application"
            } == expected
            for case_id in cases:
                history = http.get(f"/v1/applications/{case_id}/history", params={"limit": 200}, headers=admin)
                assert history.status_code == 200, history.text
                marks = [h for h in history.json()["items"] if h["action"] == "escalate_overdue"]
                assert len(marks) == 3, marks
        workers = {row[0].rsplit(":", 1)[-1] for row in stack.sql("permits", "SELECT worker FROM escalation")}
        print(f"escalations recorded by worker processes {sorted(workers)}")
