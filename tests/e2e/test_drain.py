"""SIGTERM drains a real ``devzones serve`` process: the request in flight finishes with its whole
answer, new connections are refused, background jobs stop, the process exits 0 without a traceback."""

from __future__ import annotations

import asyncio
import json
import signal
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from services.metrics.demo import _UNITS
from tests.conftest import auth
from tests.e2e.stack import Served, migrate, serve, terminate
from tests.helpers import fetch

pytestmark = pytest.mark.e2e

DIVISIONS = ("130700", "130702", "130703")
YEARS = range(1950, 2026)
PERIODS_PER_YEAR = 7  # the year, two halves, four quarters


def back_fill(division: str) -> list[dict[str, Any]]:
    """A county system's back-fill: every indicator of ``division`` for every year, half and
    quarter since 1950, 18 x 76 x 7 = 9,576 rows (under the 10,000-row limit of a push)."""
    return [
        {"division": division, "indicator": code, "period": period, "value": "1.00", "unit": unit}
        for year in YEARS
        for period in (str(year), f"{year}H1", f"{year}H2", *(f"{year}Q{q}" for q in range(1, 5)))
        for code, unit in _UNITS.items()
    ]


def database_env(service: str, tmp: Path, backend: str, databases: Any) -> tuple[dict[str, str], str]:
    """The settings that put ``service`` on a fresh migrated database of ``backend``, and its URL."""
    if backend == "postgresql":
        url = databases.new_pg_database(f"drain_{service}")
    else:
        url = f"sqlite+aiosqlite:///{tmp / f'{service}.db'}"
    env = {f"{service.upper()}_DATABASE_URL": url}
    migrate(service, tmp, env)
    return env, url


def log_lines(served: Served) -> list[dict[str, Any]]:
    return [json.loads(line) for line in served.log_text().splitlines() if line.startswith("{")]


def assert_clean_log(served: Served) -> None:
    text = served.log_text()
    assert "Traceback" not in text, text[-3000:]
    assert "timeout graceful shutdown exceeded" not in text, text[-3000:]
    assert [x for x in log_lines(served) if x.get("level") in {"error", "critical"}] == []
    assert "Application shutdown complete." in text


def wait_until_claimed(url: str, keys: int) -> None:
    """Return once ``keys`` Idempotency-Keys are claimed at ``url`` and one of them still runs."""
    sql = "SELECT count(*), count(*) FILTER (WHERE status = 'running') FROM idempotency_key"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        claimed, running = asyncio.run(fetch(url, sql))[0]
        if claimed == keys and running > 0:
            return
        if claimed == keys:
            raise AssertionError("every push finished before the signal could be sent")
        time.sleep(0.02)
    raise AssertionError("the pushes were never claimed")


class TestSigtermDrainsARequestInFlight:
    def test_the_pushes_in_flight_are_answered_whole_and_stored_and_the_process_exits_0(
        self, tmp_path: Path, backend: str, databases: Any
    ) -> None:
        registry_env, _ = database_env("registry", tmp_path, backend, databases)
        registry = serve("registry", tmp_path, registry_env)
        env, url = database_env("metrics", tmp_path, backend, databases)
        metrics = serve("metrics", tmp_path, {**env, "REGISTRY_URL": registry.url})
        pushes = {division: back_fill(division) for division in DIVISIONS}
        assert {len(rows) for rows in pushes.values()} == {9_576}
        answers: dict[str, tuple[httpx.Response | Exception, float]] = {}

        def push(division: str) -> None:
            with httpx.Client(timeout=60) as http:
                try:
                    r: httpx.Response | Exception = http.post(
                        f"{metrics.url}/v1/observations",
                        json={"observations": pushes[division]},
                        headers={**auth("city_admin"), "Idempotency-Key": f"back-fill-{division}"},
                    )
                except httpx.HTTPError as exc:
                    r = exc
                answers[division] = (r, time.monotonic())

        # Three county systems back-fill at once: a few seconds of work for the service (each push
        # alone takes over a second on this machine), all of it in flight when the signal comes.
        clients = [threading.Thread(target=push, args=(division,)) for division in DIVISIONS]
        for client in clients:
            client.start()
        # In flight, as the service sees it: every push has claimed its Idempotency-Key (so the
        # service has read it) and at least one is still running.
        wait_until_claimed(url, len(DIVISIONS))
        signalled = time.monotonic()
        metrics.proc.send_signal(signal.SIGTERM)

        # The listening socket closes at once: a new connection is refused while the pushes drain.
        refused = False
        for _ in range(40):
            try:
                httpx.get(f"{metrics.url}/healthz", timeout=1)
            except httpx.ConnectError:
                refused = True
                break
            except httpx.TransportError:
                pass  # accepted just before the socket closed, then closed unanswered: try again
            time.sleep(0.05)
        assert refused, "new connections were still accepted after SIGTERM"

        for client in clients:
            client.join(timeout=60)
        assert sorted(answers) == sorted(DIVISIONS)
        for division, (response, _) in answers.items():
            assert isinstance(response, httpx.Response), (division, repr(response))
            assert response.status_code == 200, (division, response.text[:500])
            assert response.json()["counts"] == {
                "created": 9_576,
                "updated": 0,
                "unchanged": 0,
                "rejected": 0,
                "skipped": 0,
            }
        assert max(at for _, at in answers.values()) > signalled, "every push finished before the signal"
        assert terminate(metrics, timeout=20, signalled=True) == 0
        assert_clean_log(metrics)
        terminate(registry)
        stored = asyncio.run(fetch(url, "SELECT count(*) FROM observation"))
        assert stored[0][0] == 3 * 9_576


class TestSigtermStopsTheBackgroundJobs:
    def test_permits_with_its_sweeper_dispatcher_and_writer_exits_0_without_a_traceback(
        self, tmp_path: Path, backend: str, databases: Any
    ) -> None:
        env, _ = database_env("permits", tmp_path, backend, databases)
        env |= {
            "PERMITS_WORKERS_ENABLED": "true",
            "PERMITS_SWEEP_INTERVAL_SECONDS": "0.1",
            "PERMITS_DISPATCH_INTERVAL_SECONDS": "0.05",
        }
        permits = serve("permits", tmp_path, env)
        time.sleep(1.0)  # the loops tick several times
        assert terminate(permits, timeout=20) == 0
        assert_clean_log(permits)

    def test_the_registry_with_its_change_follower_exits_0_without_a_traceback(
        self, tmp_path: Path, backend: str, databases: Any
    ) -> None:
        env, _ = database_env("registry", tmp_path, backend, databases)
        registry = serve("registry", tmp_path, env)
        with httpx.Client(timeout=10) as http:
            r = http.get(f"{registry.url}/v1/zones", params={"as_of": "2020-01-01"})
            assert r.status_code == 200, r.text
        time.sleep(0.5)
        assert terminate(registry, timeout=20) == 0
        assert_clean_log(registry)
