"""What the four running services hold, read through their public APIs only: the record a backup
must carry over. Two snapshots of the same data compare equal as plain JSON. Every function takes
each service's base URL, so the same record is read from processes on the machine
(tests/e2e/test_backup.py) or through the compose stack's gateway (tests/deploy/test_stack.py).
At the end, a permits case brought to the decision: deciding it after a restore shows the next
document number continuing the sequence."""

from __future__ import annotations

import re
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx

DATES = ("2016-01-01", "2016-10-13", "2016-10-14", "2020-06-30", "2026-01-01")
"""Before, on the eve of and on the day of the 2016 reorganisation, and two later dates."""
DOCUMENT_NUMBER = re.compile(r"^(?P<prefix>.+)〔(?P<year>\d{4})〕(?P<n>\d+)号$")


def ok(r: httpx.Response) -> Any:
    assert r.status_code < 300, (r.request.method, str(r.request.url), r.status_code, r.text[:2000])
    return r.json()


def pages(http: httpx.Client, url: str, **params: Any) -> list[Any]:
    """Every item of a paginated list, following ``next_cursor``."""
    items: list[Any] = []
    cursor: str | None = None
    while True:
        page = ok(http.get(url, params={**params, **({"cursor": cursor} if cursor else {})}))
        items.extend(page["items"])
        cursor = page.get("next_cursor")
        if not cursor:
            return items


def registry(http: httpx.Client, base: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    ids: set[str] = set()
    for day in DATES:
        out[f"counts@{day}"] = ok(http.get(f"{base}/v1/zones/counts", params={"as_of": day}))
        zones = pages(http, f"{base}/v1/zones", as_of=day, limit=500)
        out[f"zones@{day}"] = zones
        ids |= {z["id"] for z in zones}
    out["lineages"] = ok(http.post(f"{base}/v1/zones/lineages", json={"zone_ids": sorted(ids)}))
    out["histories"] = ok(http.post(f"{base}/v1/zones/histories", json={"zone_ids": sorted(ids)}))
    out["reorganisations"] = pages(http, f"{base}/v1/reorganisations", limit=500)
    return out


def _history_params(o: dict[str, Any]) -> dict[str, str]:
    subject = {"zone_id": o["zone_id"]} if o["zone_id"] else {"division": o["division"]}
    return {**subject, "indicator": o["indicator"], "period": o["period"], "limit": "500"}


def metrics(http: httpx.Client, base: str) -> dict[str, Any]:
    observations = pages(http, f"{base}/v1/observations", limit=500)
    with ThreadPoolExecutor(max_workers=8) as pool:
        histories = list(
            pool.map(lambda o: pages(http, f"{base}/v1/observations/history", **_history_params(o)), observations)
        )
    return {
        "observations": observations,
        "histories": histories,
        "ledger": ok(http.get(f"{base}/v1/ledger/verify")),
        "locks": pages(http, f"{base}/v1/locks", limit=500),
    }


def assessment(http: httpx.Client, base: str) -> dict[str, Any]:
    runs = pages(http, f"{base}/v1/assessments", limit=500)
    return {
        "runs": runs,
        "details": {r["id"]: ok(http.get(f"{base}/v1/assessments/{r['id']}")) for r in runs},
        "verifications": {
            r["id"]: ok(http.post(f"{base}/v1/assessments/{r['id']}/verify"))
            for r in runs
            if r["status"] == "published"
        },
    }


def permits(http: httpx.Client, base: str) -> dict[str, Any]:
    cases = pages(http, f"{base}/v1/applications", limit=500)
    return {
        "cases": cases,
        "details": {c["id"]: ok(http.get(f"{base}/v1/applications/{c['id']}")) for c in cases},
        "transitions": {c["id"]: pages(http, f"{base}/v1/applications/{c['id']}/history", limit=500) for c in cases},
        "messages": {c["id"]: pages(http, f"{base}/v1/applications/{c['id']}/messages", limit=500) for c in cases},
    }


def everything(http: httpx.Client, urls: dict[str, str]) -> dict[str, Any]:
    """The whole record, with an admin's token on ``http``."""
    return {
        "registry": registry(http, urls["registry"]),
        "metrics": metrics(http, urls["metrics"]),
        "assessment": assessment(http, urls["assessment"]),
        "permits": permits(http, urls["permits"]),
    }


def document_numbers(snapshot: dict[str, Any]) -> list[str]:
    """Every decision's document number in a snapshot's permits cases."""
    return sorted(
        d["decision"]["document_number"] for d in snapshot["permits"]["details"].values() if d.get("decision")
    )


def number_of(document_number: str) -> tuple[str, int, int]:
    """(prefix, year, n) of ``张经审〔2026〕3号``."""
    match = DOCUMENT_NUMBER.match(document_number)
    assert match, document_number
    return match["prefix"], int(match["year"]), int(match["n"])


# --- a decision to take after the restore: the next document number -----------------------------


def awaiting_decision(http: httpx.Client, base: str, zone: str) -> str:
    """A new 企业投资项目备案 case taken through acceptance and review to the window's decision."""
    item = next(i for i in pages(http, f"{base}/v1/catalog", zone_id=zone, limit=500) if i["code"] == "xmba")
    content = f"备份测试材料 {uuid.uuid4().hex}".encode()
    upload = ok(http.post(f"{base}/v1/files", files={"file": ("ba1.txt", content, "text/plain")}))
    body = {
        "item": item["id"],
        "zone_id": zone,
        "project_name": "备份测试项目（示例）",
        "applicant": {"id": "backup-test-1", "name": "备份测试有限公司（示例）", "credit_code": "91130700MA0BAK001X"},
        "materials": [{"code": "ba1", "file_id": upload["id"], "sha256": upload["sha256"]}],
    }
    case = ok(http.post(f"{base}/v1/applications", json=body))
    case = ok(http.post(f"{base}/v1/applications/{case['id']}/accept", json={"note": "受理"}))
    for _ in range(5):
        open_tasks = [t for t in case["tasks"] if t["state"] == "open"]
        if case["state"] != "in_review" or not open_tasks:
            break
        for task in open_tasks:
            ok(http.post(f"{base}/v1/tasks/{task['id']}/approve", json={"note": "同意"}))
        case = ok(http.get(f"{base}/v1/applications/{case['id']}"))
    assert case["state"] == "awaiting_decision", case
    return str(case["id"])


def decide(http: httpx.Client, base: str, case_id: str) -> str:
    case = ok(http.post(f"{base}/v1/applications/{case_id}/decision", json={"note": "准予备案"}))
    return str(case["decision"]["document_number"])
