"""Each fast path of the permits service answers and stores exactly what its plain path does.

The same requests go to an app with the fast path on and to one with it switched off by its
setting, through the public API; the answers, and every row stored in the case's tables, must be
the same once what differs between any two runs (generated ids, instants) is blanked. The hot
intake route has its own such test (``test_hot_intake.py``).
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from typing import Any

from sqlalchemy import select

from services.permits.tables import (
    Application,
    ApplicationMaterial,
    ClockStop,
    Decision,
    Message,
    OutboxEvent,
    Rating,
    Rectification,
    Task,
    Transition,
)
from tests.permits.builders import ADMIN, CLERK, ENTERPRISE, OTHER_CLERK, PLANNING, Window

_ID = re.compile(r"^[0-9a-f]{12,32}$")
_TABLES = (Application, ApplicationMaterial, Task, ClockStop, Transition, OutboxEvent, Message, Decision, Rating)
PENDING = [{"code": "m3", "commitment": "5个工作日内补交授权委托书", "due_on": "2026-03-09"}]
_GENERATED = {"id", "seq", "txid", "application", "application_id", "task_id", "file_id", "event_id", "rectification"}


def _normal(value: Any) -> Any:
    """``value`` with generated ids and instants blanked."""
    if isinstance(value, dict):
        return {
            k: ("<time>" if k == "at" or k.endswith("_at") else _normal(v))
            for k, v in value.items()
            if k not in _GENERATED
        }
    if isinstance(value, list):
        return [_normal(v) for v in value]
    if isinstance(value, str) and _ID.match(value):
        return "<id>"
    return value


async def _stored(w: Window) -> dict[str, list[str]]:
    """Every row of the case's tables, normalised, in a stable order (the same rows, whichever
    concurrent request was written first)."""
    out: dict[str, list[str]] = {}
    async with w.runtime.db.sessions() as s:
        for model in (*_TABLES, Rectification):
            table = model.__table__  # type: ignore[attr-defined]
            rows = (await s.execute(select(table))).mappings().all()
            out[table.name] = sorted(repr(_normal(dict(r))) for r in rows)
    return out


def _body(item: dict[str, Any], name: str, **extra: Any) -> dict[str, Any]:
    return {
        "item": item["id"],
        "zone_id": item["zone_id"],
        "project_name": name,
        "applicant": {"name": "企业"},
        **extra,
    }


async def _concurrent_intakes(w: Window) -> list[tuple[str, int, Any]]:
    """Intakes sent at once: good ones, one with an ``Idempotency-Key`` (which takes the plain
    path), and faulty ones among them (an unknown file, a clerk of another zone, materials missing
    for acceptance); then a retry of the keyed one, answered from its stored answer."""
    await w.bureau()
    item = await w.item(materials=[{"code": "m1", "name": "申请表", "mandatory": False}])
    strict = await w.item(code="strict")
    calls: list[tuple[str, dict[str, str], dict[str, Any]]] = [
        *((f"good {i}", CLERK, _body(item, f"项目{i}", accept=True)) for i in range(4)),
        ("submitted only", ENTERPRISE, _body(item, "申请人自己提交")),
        ("first of a key", {**CLERK, "Idempotency-Key": "same"}, _body(item, "重试", accept=True)),
        ("unknown file", CLERK, _body(item, "坏文件", materials=[{"code": "m1", "file_id": "nosuchfile"}])),
        ("another zone", OTHER_CLERK, _body(item, "别的园区", accept=True)),
        ("cannot be accepted", CLERK, _body(strict, "缺材料", accept=True)),
    ]
    answers = await asyncio.gather(*(w.client.post("/v1/applications", headers=h, json=b) for _, h, b in calls))
    retry = await w.client.post("/v1/applications", headers=calls[5][1], json=calls[5][2])
    assert retry.headers["idempotent-replayed"] == "true"
    assert retry.json() == answers[5].json()  # the stored answer, the same case
    calls.append(("retry of the key", calls[5][1], calls[5][2]))
    answers.append(retry)
    return [(label, r.status_code, _normal(r.json())) for (label, _, _), r in zip(calls, answers, strict=True)]


async def test_group_commit_answers_and_stores_as_each_intake_alone(window: Callable[..., Any]) -> None:
    runs = []
    for group_commit in (True, False):
        async with window(group_commit=group_commit) as w:
            has_writer = w.runtime.intake_writer is not None
            assert has_writer is (group_commit and not w.runtime.db.sqlite)
            runs.append((await _concurrent_intakes(w), await _stored(w)))
    (fast, fast_rows), (plain, plain_rows) = runs
    assert fast == plain
    assert fast_rows == plain_rows
    assert [status for _, status, _ in fast] == [201] * 6 + [422, 403, 422, 201]
    assert len(fast_rows["application"]) == 6


async def _whole_life(w: Window) -> list[Any]:
    """One case from intake to rating, through every kind of change, and what each call answered."""
    await w.bureau()
    item = await w.item()
    seen: list[Any] = []
    case = await w.apply(item, codes=("m1", "m2"))
    cid = case["id"]
    steps: list[tuple[str, str, dict[str, str], int, dict[str, Any]]] = [
        ("POST", "request-supplements", CLERK, 200, {"items": [{"code": "m3", "problem": "missing"}]}),
        ("POST", "supplements", ENTERPRISE, 200, {"materials": []}),
    ]
    for method, suffix, headers, status, body in steps:
        seen.append(await w.ok(method, f"/v1/applications/{cid}/{suffix}", headers, status, json=body))
    seen.append(await w.ok("POST", f"/v1/applications/{cid}/accept", CLERK, json={"pending": PENDING}))
    task = (await w.open_tasks(cid))["planning"]
    notice = {"items": [{"code": "m2", "problem": "defective"}]}
    seen.append(await w.ok("POST", f"/v1/tasks/{task['id']}/request-supplements", PLANNING, json=notice))
    seen.append(await w.ok("POST", f"/v1/applications/{cid}/supplements", ENTERPRISE, json={"materials": []}))
    hearing = {"kind": "hearing", "reason": "听证"}
    stop = await w.ok("POST", f"/v1/applications/{cid}/special-procedures", ADMIN, 201, json=hearing)
    seen.append(stop)
    seen.append(await w.ok("POST", f"/v1/applications/{cid}/special-procedures/{stop['id']}/end", ADMIN, json={}))
    seen.append(await w.ok("POST", f"/v1/applications/{cid}/extensions", ADMIN, json={"days": 2, "reason": "复杂"}))
    await w.approve_all(cid)  # the second stage opens when the first is approved
    seen.append(await w.decide(cid))
    seen.append(await w.ok("POST", f"/v1/applications/{cid}/rating", ENTERPRISE, 201, json={"score": 1}))
    seen.append((await w.ok("GET", f"/v1/applications/{cid}/history", CLERK))["items"])
    seen.append((await w.ok("GET", f"/v1/applications/{cid}/messages", ENTERPRISE))["items"])
    seen.append(await w.case(cid))
    return [_normal(s) for s in seen]


async def test_one_statement_writes_store_as_one_statement_per_table(window: Callable[..., Any]) -> None:
    runs = []
    for one_statement in (True, False):
        async with window(one_statement_writes=one_statement) as w:
            runs.append((await _whole_life(w), await _stored(w)))
    (fast, fast_rows), (plain, plain_rows) = runs
    assert fast == plain
    assert fast_rows == plain_rows
    assert fast[-1]["state"] == "decided" and fast[-1]["rating"]["score"] == 1
    assert len(fast_rows["task"]) == 3 and len(fast_rows["rectification"]) == 1
