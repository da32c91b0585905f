"""``POST /v1/applications`` under an ``Idempotency-Key``: the shared policy
(``services.common.idempotency``), through the API, with the intake's fast paths (the hot route,
group commit) on and off. A keyed intake always takes the plain path, so both must agree."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import func, select

from services.permits.tables import Application, IdempotencyKey
from tests.helpers import assert_problem
from tests.permits.builders import CLERK, ENTERPRISE, OTHER_ENTERPRISE, Window

pytestmark = pytest.mark.parametrize("fast", [True, False], ids=["fast-paths", "plain-paths"])


def _open(window: Callable[..., Any], fast: bool) -> Any:
    return window(hot_intake=fast, group_commit=fast)


def _body(item: dict[str, Any], name: str = "示例项目", **extra: Any) -> dict[str, Any]:
    return {
        "item": item["id"],
        "zone_id": item["zone_id"],
        "project_name": name,
        "applicant": {"name": "企业"},
        **extra,
    }


def _keyed(headers: dict[str, str], key: str) -> dict[str, str]:
    return {**headers, "Idempotency-Key": key}


async def _count(w: Window, model: Any) -> int:
    async with w.runtime.db.sessions() as s:
        return int(await s.scalar(select(func.count()).select_from(model)) or 0)


async def _keys(w: Window) -> list[tuple[str, str, str, int | None]]:
    async with w.runtime.db.sessions() as s:
        rows = await s.scalars(select(IdempotencyKey).order_by(IdempotencyKey.subject, IdempotencyKey.key))
        return [(k.subject, k.key, k.status, k.response_status) for k in rows]


class TestARetryWithTheSameKeyAndBody:
    async def test_answers_the_stored_answer_marked_replayed(self, window: Any, fast: bool) -> None:
        async with _open(window, fast) as w:
            item = await w.item()
            headers = _keyed(ENTERPRISE, "k-1")
            first = await w.client.post("/v1/applications", headers=headers, json=_body(item))
            again = await w.client.post("/v1/applications", headers=headers, json=_body(item))
            assert (first.status_code, again.status_code) == (201, 201)
            assert "idempotent-replayed" not in first.headers
            assert again.headers["idempotent-replayed"] == "true"
            assert again.json() == first.json()
            for name in ("location", "etag"):
                assert again.headers[name] == first.headers[name]
            assert await _count(w, Application) == 1
            assert await _keys(w) == [("ent-1", "k-1", "done", 201)]

    async def test_answers_the_case_as_first_answered_though_it_moved_on(self, window: Any, fast: bool) -> None:
        async with _open(window, fast) as w:
            item = await w.item(materials=[{"code": "m1", "name": "申请表", "mandatory": False}])
            headers = _keyed(ENTERPRISE, "k-2")
            first = await w.ok("POST", "/v1/applications", headers, 201, json=_body(item))
            await w.accept(first)
            again = await w.ok("POST", "/v1/applications", headers, 201, json=_body(item))
            assert again == first and again["state"] == "submitted"

    async def test_without_a_key_nothing_is_kept(self, window: Any, fast: bool) -> None:
        async with _open(window, fast) as w:
            item = await w.item()
            await w.ok("POST", "/v1/applications", ENTERPRISE, 201, json=_body(item))
            await w.ok("POST", "/v1/applications", CLERK, 201, json=_body(item, accept=False))
            assert await _keys(w) == []
            assert await _count(w, Application) == 2


class TestTheSameKeyWithAnotherBody:
    async def test_is_422_at_the_header(self, window: Any, fast: bool) -> None:
        async with _open(window, fast) as w:
            item = await w.item()
            headers = _keyed(CLERK, "k-3")
            await w.ok("POST", "/v1/applications", headers, 201, json=_body(item))
            r = await w.client.post("/v1/applications", headers=headers, json=_body(item, "另一个项目"))
            assert assert_problem(r, 422)["errors"][0]["loc"] == ["header", "Idempotency-Key"]
            assert await _count(w, Application) == 1

    async def test_of_another_caller_is_their_own_key(self, window: Any, fast: bool) -> None:
        async with _open(window, fast) as w:
            item = await w.item()
            mine = await w.ok("POST", "/v1/applications", _keyed(ENTERPRISE, "k-4"), 201, json=_body(item))
            theirs = await w.ok("POST", "/v1/applications", _keyed(OTHER_ENTERPRISE, "k-4"), 201, json=_body(item, "x"))
            assert mine["id"] != theirs["id"]
            assert await _count(w, Application) == 2


class TestConcurrentRequestsWithOneKey:
    async def test_exactly_one_runs(self, window: Any, fast: bool) -> None:
        async with _open(window, fast) as w:
            item = await w.item(materials=[{"code": "m1", "name": "申请表", "mandatory": False}])
            headers = _keyed(CLERK, "k-5")
            body = _body(item, accept=True)
            answers = await asyncio.gather(
                *(w.client.post("/v1/applications", headers=headers, json=body) for _ in range(5))
            )
            statuses = sorted(r.status_code for r in answers)
            assert set(statuses) <= {201, 409} and statuses[0] == 201, [r.text for r in answers]
            assert len({r.json()["id"] for r in answers if r.status_code == 201}) == 1
            for r in answers:
                if r.status_code == 409:
                    assert_problem(r, 409)
            assert await _count(w, Application) == 1
            again = await w.ok("POST", "/v1/applications", headers, 201, json=body)
            assert again["id"] == next(r.json()["id"] for r in answers if r.status_code == 201)


class TestAFailedWrite:
    async def test_releases_its_key(self, window: Any, fast: bool) -> None:
        async with _open(window, fast) as w:
            item = await w.item()
            headers = _keyed(ENTERPRISE, "k-6")
            # Refused inside the intake, after the key was claimed: only the window accepts.
            assert_problem(await w.client.post("/v1/applications", headers=headers, json=_body(item, accept=True)), 403)
            unknown = _body({**item, "id": "nosuchitem"})
            assert_problem(await w.client.post("/v1/applications", headers=headers, json=unknown), 422)
            assert await _keys(w) == []
            # The key is free again: another body under it runs (not a 422 for reuse).
            made = await w.ok("POST", "/v1/applications", headers, 201, json=_body(item))
            assert made["state"] == "submitted"
            assert await _keys(w) == [("ent-1", "k-6", "done", 201)]
