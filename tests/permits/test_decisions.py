"""Unified feedback: decisions numbered from the bureau's gap-free yearly sequence; ratings."""

from __future__ import annotations

import asyncio
from datetime import date
from typing import Any

from tests.helpers import assert_problem
from tests.permits.builders import ADMIN, CLERK, ENTERPRISE, OTHER_ENTERPRISE, PLANNING, Window


async def ready(w: Window, item: dict[str, Any]) -> dict[str, Any]:
    case = await w.accept(await w.apply(item))
    await w.approve_all(case["id"])
    return case


class TestDocumentNumbers:
    async def test_numbers_follow_each_other_without_gaps(self, window: Any) -> None:
        async with window() as w:
            await w.bureau()
            item = await w.item()
            a, b = await ready(w, item), await ready(w, item)
            assert (await w.decide(a["id"]))["decision"]["document_number"] == "张经审〔2026〕1号"
            assert (await w.decide(b["id"]))["decision"]["document_number"] == "张经审〔2026〕2号"

    async def test_decisions_issued_at_once_take_distinct_numbers(self, window: Any) -> None:
        async with window() as w:
            await w.bureau()
            item = await w.item()
            cases = [await ready(w, item) for _ in range(3)]
            answers = await asyncio.gather(*(w.decide(c["id"]) for c in cases))
            numbers = sorted(a["decision"]["document_number"] for a in answers)
            assert numbers == ["张经审〔2026〕1号", "张经审〔2026〕2号", "张经审〔2026〕3号"]

    async def test_a_refused_decision_takes_a_number_too_and_carries_the_reasons(self, window: Any) -> None:
        async with window() as w:
            await w.bureau()
            item = await w.item()
            case = await w.accept(await w.apply(item))
            task = (await w.open_tasks(case["id"]))["planning"]
            await w.ok(
                "POST",
                f"/v1/tasks/{task['id']}/reject",
                PLANNING,
                json={"reasons": ["不符合控制性详细规划"], "note": "内部：与规划冲突"},
            )
            after = await w.case(case["id"])
            assert after["state"] == "awaiting_decision"
            assert {t["department"]: t["state"] for t in after["tasks"]} == {
                "planning": "rejected",
                "environment": "cancelled",
            }
            decided = await w.decide(case["id"])
            assert decided["decision"]["outcome"] == "refused"
            assert decided["decision"]["reasons"] == ["不符合控制性详细规划"]
            assert decided["decision"]["document_number"] == "张经审〔2026〕1号"
            mine = await w.client.get(f"/v1/applications/{case['id']}/messages", headers=ENTERPRISE)
            assert "不符合控制性详细规划" in mine.text and "内部" not in mine.text

    async def test_no_decision_without_a_configured_bureau(self, window: Any) -> None:
        async with window() as w:
            item = await w.item()
            case = await ready(w, item)
            r = await w.client.post(f"/v1/applications/{case['id']}/decision", headers=CLERK, json={})
            assert "bureau" in assert_problem(r, 409)["detail"]

    async def test_each_year_starts_again_at_one(self, window: Any) -> None:
        async with window() as w:
            await w.bureau()
            item = await w.item()
            w.today(date(2026, 12, 30))
            a, b = await ready(w, item), await ready(w, item)
            assert (await w.decide(a["id"]))["decision"]["document_number"] == "张经审〔2026〕1号"
            w.today(date(2027, 1, 4))
            assert (await w.decide(b["id"]))["decision"]["document_number"] == "张经审〔2027〕1号"

    async def test_a_failed_decision_gives_its_number_back(self, window: Any) -> None:
        async with window() as w:
            await w.bureau()
            item = await w.item()
            a, b = await ready(w, item), await ready(w, item)
            await w.decide(a["id"])
            again = await w.client.post(f"/v1/applications/{a['id']}/decision", headers=CLERK, json={})
            assert_problem(again, 409)
            assert (await w.decide(b["id"]))["decision"]["document_number"] == "张经审〔2026〕2号"


class TestRatings:
    async def test_a_poor_rating_opens_a_rectification_due_in_fifteen_working_days(self, window: Any) -> None:
        async with window() as w:
            await w.bureau()
            item = await w.item()
            case = await ready(w, item)
            w.today(date(2026, 3, 3))
            await w.decide(case["id"])
            rating = await w.ok(
                "POST",
                f"/v1/applications/{case['id']}/rating",
                ENTERPRISE,
                201,
                json={"score": 2, "comment": "窗口排队时间长"},
            )
            assert rating["rectification"]
            rects = await w.ok("GET", "/v1/rectifications", ADMIN)
            # From Tue 3 Mar 2026 (no holidays in March): 4, 5, 6, 9-13, 16-20, 23, 24 -> Tue 24 Mar.
            assert rects["items"][0]["due_on"] == "2026-03-24" and rects["items"][0]["state"] == "open"
            closed = await w.ok(
                "POST", f"/v1/rectifications/{rating['rectification']}/close", ADMIN, json={"note": "增设自助取号机"}
            )
            assert closed["state"] == "closed"

    async def test_a_good_rating_opens_nothing_and_a_case_is_rated_once(self, window: Any) -> None:
        async with window() as w:
            await w.bureau()
            item = await w.item()
            case = await ready(w, item)
            await w.decide(case["id"])
            url = f"/v1/applications/{case['id']}/rating"
            assert (await w.ok("POST", url, ENTERPRISE, 201, json={"score": 5}))["rectification"] is None
            assert_problem(await w.client.post(url, headers=ENTERPRISE, json={"score": 1}), 409)
            assert_problem(await w.client.post(url, headers=OTHER_ENTERPRISE, json={"score": 1}), 404)
            assert_problem(await w.client.post(url, headers=CLERK, json={"score": 1}), 403)
            assert_problem(await w.client.post(url, headers=ENTERPRISE, json={"score": 6}), 422)
