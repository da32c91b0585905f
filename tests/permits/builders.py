"""Builders for the permits API tests: a zone in a fake registry, callers, a bureau, items, cases
in any state, and the table of legal transitions the tests hold the service to.

Every API test runs on SQLite and PostgreSQL (the ``app_client`` fixture). The service's
"today" is pinned per test through the app runtime's ``today`` so deadlines can be worked out by hand.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import httpx

from libs.domain.clients.registry import FakeRegistryClient
from libs.domain.permits.states import CaseAction, CaseState
from libs.domain.registry.contracts import ZoneRead
from services.common.runtime import runtime_of
from services.permits.runtime import PermitsRuntime
from tests.conftest import auth, make_token

ZONE = "zjk-econ"
OTHER_ZONE = "xh-econ"


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
        "zone_id": ZONE,
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
    return {"Authorization": f"Bearer {make_token('applicant', sub=sub)}"}


ENTERPRISE = applicant("ent-1")
OTHER_ENTERPRISE = applicant("ent-2")
REVIEWERS = {"planning": PLANNING, "environment": ENVIRONMENT, "construction": CONSTRUCTION}


class Window:
    """Drives the permits API as the people of the single window would."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client
        self.app: Any = client.app  # type: ignore[attr-defined]
        self.runtime = runtime_of(self.app, PermitsRuntime)

    def today(self, day: date) -> None:
        """Pin the service's today."""
        self.runtime.today = lambda: day

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
            "zone_id": item["zone_id"],
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


async def case_in(w: Window, item: dict[str, Any], state: str) -> dict[str, Any]:
    case = await w.apply(item)
    cid = case["id"]
    if state == "submitted":
        return case
    if state == "supplements_requested":
        return await w.ok(
            "POST",
            f"/v1/applications/{cid}/request-supplements",
            CLERK,
            json={"items": [{"code": "m4", "problem": "defective"}]},
        )
    if state == "declined":
        return await w.ok("POST", f"/v1/applications/{cid}/decline", CLERK, json={"reasons": ["x"]})
    await w.accept(case)
    if state == "review_supplements":
        task = (await w.open_tasks(cid))["planning"]
        await w.ok(
            "POST",
            f"/v1/tasks/{task['id']}/request-supplements",
            PLANNING,
            json={"items": [{"code": "m2", "problem": "defective"}]},
        )
    elif state == "special_procedure":
        await w.ok(
            "POST",
            f"/v1/applications/{cid}/special-procedures",
            ADMIN,
            201,
            json={"kind": "expert_review", "reason": "专家评审"},
        )
    elif state in ("awaiting_decision", "decided"):
        await w.approve_all(cid)
        if state == "decided":
            await w.decide(cid)
    return await w.case(cid)


STATES = [
    "submitted",
    "supplements_requested",
    "declined",
    "in_review",
    "review_supplements",
    "special_procedure",
    "awaiting_decision",
    "decided",
]


S, A = CaseState, CaseAction

# Written out by hand from the description of a case's life.
LEGAL: dict[CaseState, set[CaseAction]] = {
    S.SUBMITTED: {A.ACCEPT, A.REQUEST_SUPPLEMENTS, A.DECLINE},
    S.SUPPLEMENTS_REQUESTED: {A.SUPPLEMENT},
    S.DECLINED: set(),
    S.IN_REVIEW: {A.REVIEW, A.START_SPECIAL_PROCEDURE, A.EXTEND},
    S.REVIEW_SUPPLEMENTS: {A.SUPPLEMENT, A.EXTEND},
    S.SPECIAL_PROCEDURE: {A.END_SPECIAL_PROCEDURE, A.EXTEND},
    S.AWAITING_DECISION: {A.DECIDE, A.EXTEND},
    S.DECIDED: {A.RATE},
}
