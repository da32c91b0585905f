"""A case's life through the single window: intake, internal routing, decision, rating."""

from __future__ import annotations

from datetime import date
from typing import Any

from tests.helpers import assert_problem
from tests.permits.builders import ADMIN, CITY, CLERK, CONSTRUCTION, ENTERPRISE, ENVIRONMENT, PLANNING


class TestAnApprovedCaseGoesThroughEveryStage:
    async def test_stages_open_in_order_and_the_window_issues_a_numbered_decision(self, window: Any) -> None:
        async with window() as w:
            await w.bureau()
            item = await w.item()
            w.today(date(2026, 2, 12))
            case = await w.apply(item)
            assert case["state"] == "submitted"
            assert case["clock"] == "not_started"
            accepted = await w.accept(case)
            # 10 working days from Thu 12 Feb 2026 (hand count in tests/unit/test_permits_clock.py): 4 Mar.
            assert accepted["state"] == "in_review"
            assert accepted["accepted_on"] == "2026-02-12"
            assert accepted["deadline"] == "2026-03-04"
            assert accepted["provisional"] is False
            tasks = {t["department"]: t for t in accepted["tasks"]}
            assert set(tasks) == {"planning", "environment"}
            # Stage 1 has 0.6 of 10 days: the 6th counted day, Fri 27 Feb (13,14,24,25,26,27).
            assert tasks["planning"]["deadline"] == "2026-02-27"
            w.today(date(2026, 2, 24))
            await w.ok("POST", f"/v1/tasks/{tasks['planning']['id']}/approve", PLANNING, json={"note": "ok"})
            middle = await w.case(case["id"])
            assert middle["stage"] == 1 and middle["state"] == "in_review"
            await w.ok("POST", f"/v1/tasks/{tasks['environment']['id']}/approve", ENVIRONMENT, json={})
            second = await w.case(case["id"])
            assert second["stage"] == 2
            construction = next(t for t in second["tasks"] if t["department"] == "construction")
            assert construction["deadline"] == "2026-03-04"
            await w.ok("POST", f"/v1/tasks/{construction['id']}/approve", CONSTRUCTION, json={})
            ready = await w.case(case["id"])
            assert ready["state"] == "awaiting_decision"
            w.today(date(2026, 3, 3))
            decided = await w.decide(case["id"])
            assert decided["state"] == "decided"
            assert decided["decision"]["outcome"] == "approved"
            assert decided["decision"]["document_number"] == "张经审〔2026〕1号"
            assert decided["timeliness"] == "on_track"
            mine = await w.case(case["id"], ENTERPRISE)
            assert mine["tasks"] == [] and mine["decision"]["document_number"] == "张经审〔2026〕1号"
            history = (await w.ok("GET", f"/v1/applications/{case['id']}/history", ADMIN))["items"]
            assert [h["action"] for h in history] == [
                "submit",
                "accept",
                "approve",
                "approve",
                "approve",
                "decide",
            ]
            assert assert_problem(await w.client.get(f"/v1/applications/{case['id']}/history", headers=ENTERPRISE), 403)
            _ = CITY, CLERK
