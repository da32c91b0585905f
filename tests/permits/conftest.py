"""Factories for the permits API tests: a zone in a fake registry, a bureau, items, cases.

Every API test runs on SQLite and PostgreSQL (the ``app_client`` fixture). The service's
"today" is pinned per test through ``app.state.today`` so deadlines can be worked out by hand.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import date
from typing import Any

import httpx
import pytest

from libs.domain.clients.registry import FakeRegistryClient
from libs.domain.registry.contracts import ZoneRead
from services.permits.dependencies import registry_client
from tests.conftest import auth

ZONE = "zjk-econ"
OTHER_ZONE = "xh-econ"
PROBLEM = "application/problem+json"


def zone(zone_id: str, name: str, authority: str = "130700") -> ZoneRead:
    return ZoneRead.model_validate(
        {
            "id": zone_id,
            "name": name,
            "kind": "economic",
            "level": "provincial",
            "status": "active",
            "authority": authority,
            "valid_from": "2016-10-14",
        }
    )


def fake_registry() -> FakeRegistryClient:
    return FakeRegistryClient([zone(ZONE, "河北张家口经济开发区"), zone(OTHER_ZONE, "河北宣化经济开发区", "130705")])


def item_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "code": "jsgcgh",
        "name": "建设工程规划许可",
        "zone": ZONE,
        "legal_basis": "《中华人民共和国城乡规划法》第四十条",
        "statutory_limit_days": 20,
        "promised_limit_days": 10,
        "stages": [
            {"departments": ["planning", "environment"], "share": "0.6"},
            {"departments": ["construction"], "share": "0.4"},
        ],
        "materials": [
            {"code": "m1", "name": "申请表", "mandatory": True},
            {"code": "m2", "name": "建设工程设计方案", "mandatory": True},
            {"code": "m3", "name": "授权委托书", "mandatory": True, "minor": True},
            {"code": "m4", "name": "其他说明", "mandatory": False},
        ],
        "accept_pending_minor": True,
    }
    body.update(overrides)
    return body


CITY = auth("city_admin")
ADMIN = auth("bureau_admin", zone=ZONE)
CLERK = auth("window_clerk", zone=ZONE)
OTHER_CLERK = auth("window_clerk", zone=OTHER_ZONE)
PLANNING = auth("reviewer", zone=ZONE, department="planning")
ENVIRONMENT = auth("reviewer", zone=ZONE, department="environment")
CONSTRUCTION = auth("reviewer", zone=ZONE, department="construction")
OTHER_PLANNING = auth("reviewer", zone=OTHER_ZONE, department="planning")


def applicant(sub: str = "ent-1") -> dict[str, str]:
    from tests.conftest import make_token

    return {"Authorization": f"Bearer {make_token('applicant', sub=sub)}"}


ENTERPRISE = applicant("ent-1")
OTHER_ENTERPRISE = applicant("ent-2")
REVIEWERS = {"planning": PLANNING, "environment": ENVIRONMENT, "construction": CONSTRUCTION}


class Window:
    """Drives the permits API as the people of the single window would."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client
        self.app: Any = client.app  # type: ignore[attr-defined]

    def today(self, day: date) -> None:
        """Pin the service's today."""
        self.app.state.today = lambda: day

    async def ok(self, method: str, url: str, headers: dict[str, str], expect: int = 200, **kw: Any) -> Any:
        r = await self.client.request(method, url, headers=headers, **kw)
        assert r.status_code == expect, f"{method} {url}: {r.status_code} {r.text}"
        return r.json() if r.content else None

    async def bureau(self, zone_id: str = ZONE, prefix: str = "张经审") -> dict[str, Any]:
        return await self.ok(
            "PUT",
            f"/v1/catalog/bureaus/{zone_id}",
            ADMIN if zone_id == ZONE else CITY,
            json={"name": "河北张家口经济开发区行政审批局", "document_prefix": prefix, "seal": "行政审批专用章"},
        )

    async def item(self, **overrides: Any) -> dict[str, Any]:
        return await self.ok("POST", "/v1/catalog/items", ADMIN, 201, json=item_body(**overrides))

    async def upload(self, headers: dict[str, str] = ENTERPRISE, content: bytes = b"%PDF sample", name: str = "a.pdf"):
        return await self.ok("POST", "/v1/files", headers, 201, files={"file": (name, content, "application/pdf")})

    async def apply(
        self,
        item: dict[str, Any],
        *,
        codes: tuple[str, ...] = ("m1", "m2", "m3"),
        headers: dict[str, str] = ENTERPRISE,
        **extra: Any,
    ) -> dict[str, Any]:
        materials = []
        for code in codes:
            f = await self.upload(headers, content=f"content of {code}".encode(), name=f"{code}.pdf")
            materials.append({"code": code, "file_id": f["id"], "sha256": f["sha256"]})
        body = {
            "item": item["id"],
            "zone": item["zone"],
            "project_name": "示例项目",
            "applicant": {"name": "示例企业有限公司", "credit_code": "91130700MA0A1B2C3D"},
            "materials": materials,
            **extra,
        }
        return await self.ok("POST", "/v1/applications", headers, 201, json=body)

    async def accept(self, case: dict[str, Any], **body: Any) -> dict[str, Any]:
        return await self.ok("POST", f"/v1/applications/{case['id']}/accept", CLERK, json=body)

    async def case(self, case_id: str, headers: dict[str, str] = CITY) -> dict[str, Any]:
        return await self.ok("GET", f"/v1/applications/{case_id}", headers)

    async def open_tasks(self, case_id: str) -> dict[str, dict[str, Any]]:
        case = await self.case(case_id)
        return {t["department"]: t for t in case["tasks"] if t["state"] == "open"}

    async def approve(self, task: dict[str, Any]) -> dict[str, Any]:
        return await self.ok("POST", f"/v1/tasks/{task['id']}/approve", REVIEWERS[task["department"]], json={})

    async def approve_all(self, case_id: str) -> None:
        while True:
            tasks = await self.open_tasks(case_id)
            if not tasks:
                return
            for task in tasks.values():
                await self.approve(task)

    async def decide(self, case_id: str) -> dict[str, Any]:
        return await self.ok("POST", f"/v1/applications/{case_id}/decision", CLERK, json={})


@pytest.fixture
def window(app_client: Callable[..., Any]) -> Callable[..., Any]:
    """``async with window() as w``: the permits app with a fake registry, as a :class:`Window`."""

    @asynccontextmanager
    async def _open(registry: Any = None, **settings: Any) -> AsyncIterator[Window]:
        fake = registry if registry is not None else fake_registry()
        async with app_client("permits", overrides={registry_client: lambda: fake}, **settings) as client:
            w = Window(client)
            w.today(date(2026, 3, 2))
            yield w

    return _open


def assert_problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    return body
