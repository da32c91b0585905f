"""Demo data of the permits service: one zone bureau's catalog and a handful of cases.

Everything here is illustrative sample data (示例数据): the time limits are not any bureau's
official promise, the enterprises and projects are invented, and every name says so. Loading
goes through the public HTTP API with the demo loader's city_admin token and is idempotent:
items are created only when their code is missing, cases carry an ``Idempotency-Key``, and a
case is moved on only from the state its script expects.
"""

from __future__ import annotations

from typing import Any

import httpx

DEMO_ZONE_NAME = "河北张家口经济开发区"
NOTE = "示例数据（illustrative）：时限与流程为示意，并非官方承诺。"
APPLICANT = {"id": "demo-enterprise-1", "name": "示例新材料有限公司（示例）", "credit_code": "91130700MA0DEM001X"}
LAND_OK = {"plot_ratio": "1.2", "building_coverage_percent": "45", "admin_living_share_percent": "6"}
LAND_FAILING = {"plot_ratio": "0.8", "building_coverage_percent": "42", "admin_living_share_percent": "9"}


def _m(code: str, name: str, mandatory: bool = True, minor: bool = False) -> dict[str, Any]:
    return {"code": code, "name": name, "mandatory": mandatory, "minor": minor}


ITEMS: list[dict[str, Any]] = [
    {
        "code": "xmba",
        "name": "企业投资项目备案",
        "legal_basis": "《企业投资项目核准和备案管理条例》第十三条",
        "statutory_limit_days": 5,
        "promised_limit_days": 2,
        "stages": [{"departments": ["development_reform"], "share": "1"}],
        "materials": [_m("ba1", "项目备案信息表")],
    },
    {
        "code": "ydgh",
        "name": "建设用地规划许可",
        "legal_basis": "《中华人民共和国城乡规划法》第三十七条、第三十八条",
        "statutory_limit_days": 20,
        "promised_limit_days": 10,
        "stages": [
            {"departments": ["planning", "natural_resources"], "share": "0.6"},
            {"departments": ["planning"], "share": "0.4"},
        ],
        "materials": [
            _m("yd1", "建设用地规划许可申请表"),
            _m("yd2", "国有土地使用权出让合同"),
            _m("yd3", "授权委托书", minor=True),
        ],
        "accept_pending_minor": True,
        "land_use_check": True,
    },
    {
        "code": "jsgcgh",
        "name": "建设工程规划许可",
        "legal_basis": "《中华人民共和国城乡规划法》第四十条",
        "statutory_limit_days": 20,
        "promised_limit_days": 10,
        "stages": [
            {"departments": ["planning", "environment"], "share": "0.6"},
            {"departments": ["construction"], "share": "0.4"},
        ],
        "materials": [
            _m("gh1", "建设工程规划许可申请表"),
            _m("gh2", "建设工程设计方案"),
            _m("gh3", "其他说明材料", mandatory=False),
        ],
        "land_use_check": True,
    },
    {
        "code": "sgxk",
        "name": "建筑工程施工许可",
        "legal_basis": "《中华人民共和国建筑法》第八条；《建筑工程施工许可管理办法》",
        "statutory_limit_days": 15,
        "promised_limit_days": 7,
        "stages": [{"departments": ["construction"], "share": "1"}],
        "materials": [_m("sg1", "施工许可申请表"), _m("sg2", "施工图审查合格书")],
    },
    {
        "code": "hpsp",
        "name": "建设项目环境影响评价文件审批",
        "legal_basis": "《中华人民共和国环境影响评价法》第二十二条",
        "statutory_limit_days": 30,
        "promised_limit_days": 15,
        "stages": [{"departments": ["environment"], "share": "0.7"}, {"departments": ["legal"], "share": "0.3"}],
        "materials": [_m("hp1", "环境影响报告表"), _m("hp2", "公众参与说明", mandatory=False)],
    },
    {
        "code": "jnsc",
        "name": "固定资产投资项目节能审查",
        "legal_basis": "《固定资产投资项目节能审查办法》",
        "statutory_limit_days": 20,
        "promised_limit_days": 10,
        "stages": [{"departments": ["development_reform"], "share": "1"}],
        "materials": [_m("jn1", "节能报告")],
    },
]

# (key, item code, materials handed in, land-use figures, the state the case is taken to)
CASES: list[tuple[str, str, tuple[str, ...], dict[str, str] | None, str]] = [
    ("demo-permits-1", "jsgcgh", ("gh1", "gh2"), LAND_OK, "submitted"),
    ("demo-permits-2", "ydgh", ("yd1",), LAND_OK, "supplements_requested"),
    ("demo-permits-3", "hpsp", ("hp1",), None, "in_review"),
    ("demo-permits-4", "jsgcgh", ("gh1", "gh2", "gh3"), LAND_FAILING, "stage_2"),
    ("demo-permits-5", "xmba", ("ba1",), None, "decided"),
    ("demo-permits-6", "sgxk", ("sg1", "sg2"), None, "declined"),
    ("demo-permits-7", "jnsc", ("jn1",), None, "special_procedure"),
]


async def _zone(http: httpx.AsyncClient, registry: str) -> str | None:
    try:
        r = await http.get(f"{registry}/v1/zones", params={"status": "active", "limit": 500})
    except httpx.HTTPError:
        return None
    if r.status_code != 200:
        return None
    zones = r.json().get("items", [])
    if not zones:
        return None
    chosen = next((z for z in zones if z.get("name") == DEMO_ZONE_NAME), zones[0])
    return str(chosen["id"])


def _ok(r: httpx.Response) -> Any:
    if r.status_code >= 400:
        raise RuntimeError(f"permits demo: {r.request.method} {r.request.url.path} answered {r.status_code}: {r.text}")
    return r.json() if r.content else None


async def _items(http: httpx.AsyncClient, base: str, zone: str) -> dict[str, dict[str, Any]]:
    existing = _ok(await http.get(f"{base}/v1/catalog", params={"zone_id": zone, "limit": 500}))["items"]
    by_code = {i["code"]: i for i in existing}
    for spec in ITEMS:
        if spec["code"] in by_code:
            continue
        body = {
            **spec,
            "zone_id": zone,
            "note": NOTE,
            "fee": {"amount_yuan": "0", "waived": True, "note": "园区内行政事业性收费免收（张发〔2016〕12号）"},
            "responsibility": "集中受理、内部流转、限时办结、统一反馈（示例）",
        }
        by_code[spec["code"]] = _ok(await http.post(f"{base}/v1/catalog/items", json=body))
    return by_code


async def _file(http: httpx.AsyncClient, base: str, code: str) -> dict[str, Any]:
    content = f"示例材料 {code}（sample material, not a real document）".encode()
    files = {"file": (f"{code}-sample.txt", content, "text/plain")}
    return dict(_ok(await http.post(f"{base}/v1/files", files=files)))


async def _case(
    http: httpx.AsyncClient,
    base: str,
    zone: str,
    item: dict[str, Any],
    key: str,
    codes: tuple[str, ...],
    land: dict[str, str] | None,
) -> dict[str, Any]:
    materials = []
    for code in codes:
        f = await _file(http, base, code)
        materials.append({"code": code, "file_id": f["id"], "sha256": f["sha256"]})
    body: dict[str, Any] = {
        "item": item["id"],
        "zone_id": zone,
        "project_name": f"年产10万吨新材料项目（示例）· {item['name']}",
        "applicant": APPLICANT,
        "materials": materials,
    }
    if land is not None:
        body["land_use"] = land
    r = await http.post(f"{base}/v1/applications", json=body, headers={"Idempotency-Key": key})
    case = dict(_ok(r))
    if r.headers.get("Idempotent-Replayed") == "true":  # an earlier load made it: a replay answers it as it was then
        case = dict(_ok(await http.get(f"{base}/v1/applications/{case['id']}")))
    return case


async def _advance(http: httpx.AsyncClient, base: str, case: dict[str, Any], target: str) -> None:
    url = f"{base}/v1/applications/{case['id']}"
    state = case["state"]
    if target == "submitted":
        return
    if target == "supplements_requested":
        if state == "submitted":
            missing = [
                {"code": "yd2", "problem": "missing", "detail": "请补交土地出让合同（示例）"},
                {"code": "yd3", "problem": "missing"},
            ]
            _ok(await http.post(f"{url}/request-supplements", json={"items": missing, "note": "一次性告知（示例）"}))
        return
    if target == "declined":
        if state == "submitted":
            _ok(await http.post(f"{url}/decline", json={"reasons": ["示例：施工图审查尚未完成，不予受理"]}))
        return
    if state == "submitted":
        case = _ok(await http.post(f"{url}/accept", json={"note": "示例受理"}))
    if target == "special_procedure" and case["state"] == "in_review":
        _ok(await http.post(f"{url}/special-procedures", json={"kind": "expert_review", "reason": "示例：专家评审"}))
        return
    if target in ("stage_2", "decided"):
        for _ in range(10):
            case = _ok(await http.get(url))
            if target == "stage_2" and (case["stage"] or 0) >= 2:
                return
            open_tasks = [t for t in case["tasks"] if t["state"] == "open"]
            if case["state"] != "in_review" or not open_tasks:
                break
            for t in open_tasks:
                _ok(await http.post(f"{base}/v1/tasks/{t['id']}/approve", json={"note": "示例：同意"}))
        if target == "decided" and case["state"] == "awaiting_decision":
            _ok(await http.post(f"{url}/decision", json={"note": "示例决定"}))


async def load(http: httpx.AsyncClient, urls: dict[str, str]) -> None:
    """Load the demo catalog and cases (skipped quietly when the registry has no zones)."""
    zone = await _zone(http, urls["registry"])
    if zone is None:
        return
    base = urls["permits"]
    bureau = {
        "name": "河北张家口经济开发区行政审批局（示例）",
        "document_prefix": "张经审",
        "seal": "示例行政审批专用章（sample seal）",
    }
    r = await http.get(f"{base}/v1/catalog/bureaus/{zone}")
    if r.status_code == 404:
        _ok(await http.put(f"{base}/v1/catalog/bureaus/{zone}", json=bureau))
    items = await _items(http, base, zone)
    for key, code, codes, land, target in CASES:
        case = await _case(http, base, zone, items[code], key, codes, land)
        await _advance(http, base, case, target)
