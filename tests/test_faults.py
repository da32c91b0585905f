"""Fault injection: a service whose database disappears answers problems, never a 500, and recovers.

Each service runs on its PostgreSQL test database reached through a TCP proxy. The proxy is cut
while requests are made: every route (reads with placeholder ids, and a valid write per
service) must answer an RFC 9457 problem, 503 where it needed the database. The proxy comes
back and the service answers again without a restart; a write refused during the outage is
not half-stored: retried with the same Idempotency-Key after recovery it is stored once.
(An embedded SQLite file cannot become unreachable this way: PostgreSQL only.)
"""

from __future__ import annotations

import asyncio
import re
from typing import Any

import httpx
import pytest

from tests.conftest import auth
from tests.helpers import TcpProxy

SERVICES = ("registry", "metrics", "assessment", "permits")
PLATFORM = {"/healthz", "/openapi.json", "/docs", "/redoc", "/docs/oauth2-redirect", "/metrics"}
ADMIN = auth("city_admin")

# One valid write per service that needs only its own database (every assessment write also asks
# the metrics catalog, which is not running here: its reads are checked, its writes are not).
WRITES: dict[str, tuple[str, str, dict[str, Any]] | None] = {
    "registry": ("POST", "/v1/divisions", {"code": "130706", "name": "下花园区", "valid_from": "2016-01-07"}),
    "metrics": (
        "POST",
        "/v1/indicators",
        {
            "code": "fault_probe",
            "name_zh": "故障注入测试指标（测试数据）",
            "name_en": "fault probe (test data)",
            "unit": "万元",
            "kind": "base",
            "direction": "higher_is_better",
            "period_types": ["year"],
        },
    ),
    "assessment": None,
    "permits": ("PUT", "/v1/calendar/days/2026-12-31", {"working": False, "note": "故障注入测试（测试数据）"}),
}


async def _proxied(databases: Any, service: str) -> tuple[TcpProxy, str]:
    url = databases.url(service, "postgresql")
    host_port = url.rsplit("@", 1)[1].split("/", 1)[0]
    host, port = host_port.split(":")
    proxy = TcpProxy(host, int(port))
    await proxy.start()
    return proxy, url.replace(host_port, f"127.0.0.1:{proxy.port}")


def _is_problem(r: httpx.Response) -> bool:
    return (
        r.headers.get("content-type", "").startswith("application/problem+json") and r.json()["status"] == r.status_code
    )


async def _wait_ready(client: httpx.AsyncClient) -> int:
    status = 0
    for _ in range(40):
        status = (await client.get("/readyz")).status_code
        if status == 200:
            break
        await asyncio.sleep(0.25)
    return status


@pytest.mark.parametrize("backend", ["postgresql"])
@pytest.mark.parametrize("service", SERVICES)
async def test_with_the_database_gone_every_route_is_a_problem_and_it_recovers(
    app_client: Any, databases: Any, backend: str, service: str
) -> None:
    proxy, proxied = await _proxied(databases, service)
    write = WRITES[service]
    async with app_client(service, database_url=proxied) as client:
        spec = (await client.get("/openapi.json")).json()
        await proxy.stop()
        answers: dict[str, int] = {}
        for route, ops in spec["paths"].items():
            if route in PLATFORM or "get" not in ops:
                continue
            r = await client.get(re.sub(r"\{[^}]+\}", "1", route), headers=ADMIN)
            answers[route] = r.status_code
            assert r.status_code < 500 or r.status_code == 503, (route, r.status_code, r.text[:300])
            if r.status_code >= 400:
                assert _is_problem(r), (route, r.text[:300])
        headers = {**ADMIN, "Idempotency-Key": "fault-1"}
        refused = await client.request(write[0], write[1], json=write[2], headers=headers) if write else None
        ready_down = await client.get("/readyz")
        await proxy.start()
        ready_back = await _wait_ready(client)
        stored = await client.request(write[0], write[1], json=write[2], headers=headers) if write else None
        again = await client.request(write[0], write[1], json=write[2], headers=headers) if write else None
    await proxy.stop()
    assert ready_down.status_code == 503 and _is_problem(ready_down)
    assert 503 in answers.values(), answers  # the reads that need the database said so
    assert ready_back == 200
    if refused is not None and stored is not None and again is not None:
        assert refused.status_code == 503 and _is_problem(refused), refused.text
        assert stored.status_code in (200, 201), stored.text
        # stored once: the retry is answered as a replay or refused as a duplicate, never stored twice
        assert again.status_code in (200, 201, 409), again.text
        if again.status_code != 409:
            assert again.json() == stored.json()
