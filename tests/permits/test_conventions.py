"""The permits API as docs/api-conventions.md#one-set-of-conventions has it: every list a page
walked with ``limit`` and ``next_cursor``, database-numbered ids as digit strings, a zone as
``zone_id``, ``allowed_actions`` named as the POST paths, computed figures rounded."""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from libs.domain.permits.contracts import Figures
from tests.helpers import assert_problem
from tests.permits.builders import ADMIN, CITY, CLERK, ENTERPRISE, ZONE
from tests.permits.webhook_receiver import receiver


async def walk(w: Any, url: str, headers: dict[str, str], **params: Any) -> list[list[Any]]:
    """Every page of ``url`` with ``limit=1``, following ``next_cursor`` to the end."""
    pages: list[list[Any]] = []
    cursor = None
    while True:
        query = {"limit": 1, **params, **({"cursor": cursor} if cursor else {})}
        page = await w.ok("GET", url, headers, params=query)
        assert set(page) == {"items", "next_cursor"}
        pages.append(page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            return pages
        assert len(pages) < 50, "the cursor does not advance"


class TestEveryListIsAPage:
    async def test_clock_stops_page_by_one_with_digit_string_ids(self, window: Any) -> None:
        async with window() as w:
            item = await w.item()
            w.today(date(2026, 3, 2))
            case = await w.accept(await w.apply(item))
            url = f"/v1/applications/{case['id']}/special-procedures"
            first = await w.ok("POST", url, ADMIN, 201, json={"kind": "hearing", "reason": "听证"})
            assert isinstance(first["id"], str) and re.fullmatch(r"[1-9][0-9]*", first["id"])
            back = await w.ok("POST", f"{url}/{first['id']}/end", ADMIN, json={"note": "听证结束"})
            assert back["state"] == "in_review"
            second = await w.ok("POST", url, ADMIN, 201, json={"kind": "expert_review", "reason": "专家评审"})
            pages = await walk(w, url, ADMIN)
            assert [[s["id"] for s in p] for p in pages] == [[first["id"]], [second["id"]]]
            assert [p[0]["procedure"] for p in pages] == ["hearing", "expert_review"]
            assert pages[0][0]["ended_on"] == "2026-03-02" and pages[1][0]["ended_on"] is None
            # the id in the path is a digit string; anything else is a 422, an unknown one a 404
            bad = await w.client.post(f"{url}/abc/end", headers=ADMIN, json={})
            assert assert_problem(bad, 422)["errors"][0]["loc"] == ["path", "procedure_id"]

    async def test_history_and_messages_page_by_one(self, window: Any) -> None:
        async with window() as w:
            item = await w.item()
            case = await w.accept(await w.apply(item))
            history = await walk(w, f"/v1/applications/{case['id']}/history", CLERK)
            # submitted, then accepted: two transitions, one a page
            assert [[(h["from_state"], h["to_state"]) for h in p] for p in history] == [
                [(None, "submitted")],
                [("submitted", "in_review")],
            ]
            whole = await w.ok("GET", f"/v1/applications/{case['id']}/messages", ENTERPRISE)
            assert whole["next_cursor"] is None and len(whole["items"]) >= 1
            pages = await walk(w, f"/v1/applications/{case['id']}/messages", ENTERPRISE)
            assert [p[0] for p in pages] == whole["items"]

    async def test_calendar_days_page_by_one_in_date_order(self, window: Any) -> None:
        async with window() as w:
            pages = await walk(w, "/v1/calendar/days", {}, **{"from": "2026-09-30", "to": "2026-10-02"})
            assert [[(d["date"], d["working"]) for d in p] for p in pages] == [
                [("2026-09-30", True)],
                [("2026-10-01", False)],  # 国庆节
                [("2026-10-02", False)],
            ]
            two = await w.ok(
                "GET", "/v1/calendar/days", {}, params={"from": "2026-09-30", "to": "2026-10-02", "limit": 2}
            )
            assert [d["date"] for d in two["items"]] == ["2026-09-30", "2026-10-01"] and two["next_cursor"]
            bad = await w.client.get(
                "/v1/calendar/days", params={"from": "2026-09-30", "to": "2026-10-02", "cursor": "!"}
            )
            assert_problem(bad, 422)

    async def test_webhooks_page_by_one(self, window: Any) -> None:
        async with window() as w, receiver() as hook:
            a = await w.ok("POST", "/v1/webhooks", ENTERPRISE, 201, json={"url": hook.url + "?a"})
            b = await w.ok("POST", "/v1/webhooks", ENTERPRISE, 201, json={"url": hook.url + "?b"})
            pages = await walk(w, "/v1/webhooks", ENTERPRISE)
            assert [[h["id"] for h in p] for p in pages] == [[a["id"]], [b["id"]]]
            assert all(set(p[0]) == {"id", "url", "zone_id", "applicant", "created_at"} for p in pages)
            city = await w.ok("POST", "/v1/webhooks", CITY, 201, json={"url": hook.url + "?c", "zone_id": ZONE})
            assert city["zone_id"] == ZONE


class TestActionsAreNamedAsTheirPaths:
    async def test_a_submitted_case_and_a_case_in_review(self, window: Any) -> None:
        async with window() as w:
            item = await w.item()
            case = await w.apply(item)
            assert case["zone_id"] == ZONE and "zone" not in case
            assert case["allowed_actions"] == ["accept", "request-supplements", "decline"]
            accepted = await w.accept(case)
            full = await w.case(accepted["id"])
            # a department's review is done on its task: the case lists the bureau's actions only
            assert full["allowed_actions"] == ["special-procedures", "extensions"]
            assert {t["zone_id"] for t in full["tasks"]} == {ZONE}
            assert {tuple(t["allowed_actions"]) for t in full["tasks"]} == {
                ("approve", "reject", "request-supplements")
            }
            # each name is a path that performs it
            r = await w.client.post(
                f"/v1/applications/{case['id']}/{full['allowed_actions'][1]}",
                headers=ADMIN,
                json={"days": 2, "reason": "复杂"},
            )
            assert r.status_code == 200 and r.json()["allowed_actions"] == ["special-procedures"]

    async def test_a_conflict_names_the_allowed_actions_as_paths(self, window: Any) -> None:
        async with window() as w:
            case = await w.apply(await w.item())
            r = await w.client.post(f"/v1/applications/{case['id']}/decision", headers=CLERK, json={})
            problem = assert_problem(r, 409)
            assert problem["allowed_actions"] == ["accept", "request-supplements", "decline"]


class TestComputedFiguresAreRounded:
    def test_six_places(self) -> None:
        figures = Figures(
            received=3,
            accepted=3,
            decided=3,
            approved=2,
            on_time_rate=2 / 3,
            working_days_median=1 / 3,
            working_days_p90=7.0,
            overdue=1,
            days_stopped=0,
        )
        out = figures.model_dump(mode="json")
        assert (out["on_time_rate"], out["working_days_median"], out["working_days_p90"]) == (0.666667, 0.333333, 7.0)
