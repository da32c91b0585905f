"""Demo assessments: an illustrative methodology per zone kind and one annual run per demo year.

The methods are built from the seed catalog's indicators (those the running metrics service
actually has). Their **weights are illustrative**: the provincial method (《河北省开发区综合发展
水平评价考核办法(试行)》, 冀办发〔2016〕26号) is not published in our sources, and every title,
note and label says so. The runs score the metrics service's synthetic demo values, so the
rankings, rank changes and sanctions they show are samples, not official results.

Each run goes through the lifecycle an official run does: computed as a draft, then published
(which locks the demo values in the metrics service). The last year's zone run is superseded once
by a "corrected" run with a reason, and one more draft is left unpublished, so that a newcomer
sees a draft, published runs and a superseded one (withdrawal is shown in docs/assessment.md).

Nothing is loaded unless the metrics service has indicators and values; everything is checked
before it is written (and every write carries an Idempotency-Key), so loading twice changes nothing.
"""

from __future__ import annotations

import sys
from datetime import date
from typing import Any

import httpx

from libs.domain.kernel.values import today_in_china

FIRST_YEAR = 2015
NOTE = (
    "示例方法：权重为示意，省级考核办法（冀办发〔2016〕26号）的权重未在本系统资料中公布；演示数据，非官方结果。"
    " Illustrative method: the weights are made up (the provincial weights are not published in our sources); "
    "demo data, not official results."
)


def _leaf(indicator: str, weight: float, normalisation: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"indicator": indicator, "weight": weight, "normalisation": normalisation, **extra}


MIN_MAX = {"method": "min_max"}

ECONOMIC_GROUPS: list[tuple[str, str, float, list[dict[str, Any]]]] = [
    ("scale", "经济规模", 0.25, [
        _leaf("gdp", 1, MIN_MAX, transform="ln"),
        _leaf("fiscal_revenue", 1, MIN_MAX, transform="ln"),
    ]),
    ("innovation", "科技创新", 0.25, [
        _leaf("rd_intensity", 1, {"method": "goalposts", "min": 0, "max": 5}),
        _leaf("high_tech_share", 1, {"method": "goalposts", "min": 0, "max": 60}),
    ]),
    ("openness", "对外开放", 0.2, [
        _leaf("foreign_investment_used", 1, MIN_MAX, transform="sqrt"),
        _leaf("exports", 1, MIN_MAX, transform="sqrt"),
    ]),
    ("intensity", "集约节约", 0.2, [
        _leaf("investment_intensity", 1, {"method": "target", "target": 250}),
        _leaf("tax_per_mu", 1, {"method": "target", "target": 15}),
    ]),
    ("green", "绿色发展", 0.1, [
        _leaf("energy_intensity", 1, MIN_MAX, direction="lower_is_better"),
        _leaf("solid_waste_reuse_rate", 1, {"method": "target", "target": 85}),
        _leaf("sewage_treatment_rate", 1, {"method": "target", "target": 100}),
    ]),
]  # fmt: skip

HIGH_TECH_GROUPS: list[tuple[str, str, float, list[dict[str, Any]]]] = [
    ("innovation", "科技创新", 0.5, [
        _leaf("rd_intensity", 1, {"method": "goalposts", "min": 0, "max": 6}),
        _leaf("high_tech_share", 1, {"method": "goalposts", "min": 0, "max": 80}),
    ]),
    ("scale", "经济规模", 0.2, [_leaf("gdp", 1, MIN_MAX, transform="ln")]),
    ("intensity", "集约节约", 0.2, [
        _leaf("tax_per_mu", 1, {"method": "target", "target": 15}),
        _leaf("investment_intensity", 1, {"method": "target", "target": 250}),
    ]),
    ("green", "绿色发展", 0.1, [_leaf("energy_intensity", 1, MIN_MAX, direction="lower_is_better")]),
]  # fmt: skip

METHODS: list[tuple[str, str, str, list[tuple[str, str, float, list[dict[str, Any]]]]]] = [
    ("demo-econ-annual", "economic", "经济开发区年度综合考评（示例方法，权重为示意）", ECONOMIC_GROUPS),
    ("demo-hitech-annual", "high_tech", "高新技术产业开发区年度综合考评（示例方法，权重为示意）", HIGH_TECH_GROUPS),
]


def _warn(message: str) -> None:
    print(f"assessment demo: {message}", file=sys.stderr)


def build_method(code: str, kind: str, title: str, groups: list[tuple[str, str, float, list[dict[str, Any]]]],
                 available: set[str]) -> dict[str, Any] | None:  # fmt: skip
    """The method document restricted to the indicators the catalog has (None if none is left)."""
    children = []
    for group_code, group_title, weight, leaves in groups:
        kept = [leaf for leaf in leaves if leaf["indicator"] in available]
        if kept:
            children.append(
                {"code": group_code, "title": group_title, "weight": weight, "aggregation": "arithmetic",
                 "children": kept}
            )  # fmt: skip
    if not children:
        return None
    return {
        "code": code,
        "title": title,
        "applies_to": [kind],
        "period_type": "year",
        "scale": 100,
        "note": NOTE,
        "root": {"aggregation": "arithmetic", "children": children},
    }


async def _catalog(http: httpx.AsyncClient, metrics: str) -> set[str]:
    codes: set[str] = set()
    cursor: str | None = None
    while True:
        params: dict[str, Any] = {"limit": 500}
        if cursor:
            params["cursor"] = cursor
        r = await http.get(f"{metrics}/v1/indicators", params=params)
        if r.status_code != 200:
            return codes
        page = r.json()
        codes |= {i["code"] for i in page["items"] if "year" in i.get("period_types", ["year"])}
        cursor = page.get("next_cursor")
        if not cursor:
            return codes


async def _has_values(http: httpx.AsyncClient, metrics: str, year: int, kind: str) -> bool:
    r = await http.get(
        f"{metrics}/v1/matrix",
        params={"period": str(year), "indicators": "gdp", "kind": kind, "as_of": date(year, 12, 31).isoformat()},
    )
    if r.status_code != 200:
        return False
    return any(v is not None for row in r.json().get("rows", []) for v in row.get("values", {}).values())


async def _ensure_method(http: httpx.AsyncClient, base: str, doc: dict[str, Any]) -> bool:
    r = await http.get(f"{base}/v1/methodologies/{doc['code']}")
    if r.status_code == 200:
        return True
    r = await http.post(f"{base}/v1/methodologies", json=doc)
    if r.status_code not in (200, 201):
        _warn(f"methodology {doc['code']} refused ({r.status_code}: {r.text[:300]})")
        return False
    return True


async def _runs(http: httpx.AsyncClient, base: str, code: str, kind: str, year: int, subjects: str) -> list[Any]:
    r = await http.get(f"{base}/v1/assessments", params={"methodology": code, "period": str(year), "kind": kind})
    if r.status_code != 200:
        return []
    return [item for item in r.json()["items"] if item["scope"] == subjects]


async def _draft(http: httpx.AsyncClient, base: str, body: dict[str, Any], key: str) -> int | None:
    r = await http.post(f"{base}/v1/assessments", json=body, headers={"Idempotency-Key": key})
    if r.status_code not in (200, 201):
        _warn(f"{body['methodology']} {body['period']} ({body['scope']}) refused ({r.status_code}: {r.text[:300]})")
        return None
    return int(r.json()["id"])


async def _publish(http: httpx.AsyncClient, base: str, run: int, body: dict[str, Any], key: str) -> bool:
    r = await http.post(f"{base}/v1/assessments/{run}/publish", json=body, headers={"Idempotency-Key": key})
    if r.status_code != 200:
        _warn(f"run {run} not published ({r.status_code}: {r.text[:300]})")
    return r.status_code == 200


async def _ensure_run(
    http: httpx.AsyncClient, base: str, code: str, kind: str, year: int, subjects: str, *, supersede: bool = False
) -> None:
    """A published run of ``year`` (made and published once); with ``supersede`` it is then replaced once
    by a corrected run, and a further draft is left unpublished, so the demo shows every state."""
    runs = await _runs(http, base, code, kind, year, subjects)
    suffix = "" if subjects == "zones" else "（未设省级开发区的县区参考得分）"
    body = {
        "methodology": code,
        "period": str(year),
        "kind": kind,
        "label": f"{year} 年度综合考评（示例数据，非官方）{suffix}",
        "scope": subjects,
    }
    tag = f"demo-{code}-{year}-{subjects}"
    if not any(r["status"] in ("published", "superseded") for r in runs):
        drafts = [r["id"] for r in runs if r["status"] == "draft"]
        run = drafts[-1] if drafts else await _draft(http, base, body, tag)
        if run is None or not await _publish(http, base, run, {"note": "演示数据，非官方结果"}, f"{tag}-publish"):
            return
    if not supersede or any(r["status"] == "superseded" for r in await _runs(http, base, code, kind, year, subjects)):
        return
    (first,) = [r["id"] for r in await _runs(http, base, code, kind, year, subjects) if r["status"] == "published"]
    corrected = await _draft(http, base, {**body, "label": f"{body['label']}（更正版）"}, f"{tag}-corrected")
    if corrected is None:
        return
    reason = "演示：更正示例——原结果所用数据经统计部门更正后重新计算（示例数据，非官方）"
    await _publish(http, base, corrected, {"supersedes": first, "reason": reason}, f"{tag}-corrected-publish")
    await _draft(http, base, {**body, "label": f"{body['label']}（草稿示例，未发布）"}, f"{tag}-draft")


async def _county_values(http: httpx.AsyncClient, urls: dict[str, str], year: int) -> bool:
    """Whether some county without a provincial zone has its own values for ``year``."""
    registry = urls.get("registry")
    if not registry:
        return False
    r = await http.get(f"{registry.rstrip('/')}/v1/divisions", params={"as_of": date(year, 12, 31).isoformat()})
    if r.status_code != 200 or not r.json().get("without_provincial_zone"):
        return False
    codes = ",".join(r.json()["without_provincial_zone"])
    r = await http.get(
        f"{urls['metrics'].rstrip('/')}/v1/matrix/divisions",
        params={"period": str(year), "divisions": codes, "indicators": "gdp"},
    )
    return r.status_code == 200 and any(
        v is not None for row in r.json().get("rows", []) for v in row.get("values", {}).values()
    )


async def load(http: httpx.AsyncClient, urls: dict[str, str]) -> None:
    """Publish the illustrative methods and one run per demo year and kind (only if there are values)."""
    base = urls["assessment"].rstrip("/")
    metrics = urls.get("metrics", "").rstrip("/")
    if not metrics:
        return
    try:
        available = await _catalog(http, metrics)
    except httpx.HTTPError:
        return
    if not available:
        return
    last_year = today_in_china().year - 1
    for code, kind, title, groups in METHODS:
        doc = build_method(code, kind, title, groups, available)
        if doc is None:
            continue
        years = [y for y in range(FIRST_YEAR, last_year + 1) if await _has_values(http, metrics, y, kind)]
        if not years or not await _ensure_method(http, base, doc):
            continue
        for year in years:  # in order: each run's rank changes compare with the previous year's published run
            await _ensure_run(http, base, code, kind, year, "zones", supersede=year == years[-1])
        if kind == "economic" and await _county_values(http, urls, years[-1]):
            await _ensure_run(http, base, code, kind, years[-1], "divisions_without_zone")
