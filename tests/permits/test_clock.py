"""Deadlines of real cases, worked out by hand (see tests/unit/test_permits_clock.py for the
day-by-day counts and the source of the 2026 holidays), and the calendar the bureau edits."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import select

from libs.domain.kernel.calendar import official_calendar
from services.permits.tables import Application, Task
from services.permits.workers import sweep_once
from tests.helpers import assert_problem
from tests.permits.builders import ADMIN, CITY, ENTERPRISE, PLANNING


async def stored(w: Any, case_id: str) -> tuple[Application, list[Task]]:
    async with w.runtime.db.sessions() as s:
        case = await s.get(Application, case_id)
        tasks = list(await s.scalars(select(Task).where(Task.application_id == case_id)))
        return case, tasks


class TestSpringFestival:
    async def test_supplements_during_review_stop_the_clock_and_keep_the_time_used(self, window: Any) -> None:
        async with window() as w:
            item = await w.item()
            w.today(date(2026, 2, 12))
            case = await w.accept(await w.apply(item))
            assert case["deadline"] == "2026-03-04"
            w.today(date(2026, 2, 24))
            planning = (await w.open_tasks(case["id"]))["planning"]
            await w.ok(
                "POST",
                f"/v1/tasks/{planning['id']}/request-supplements",
                PLANNING,
                json={"items": [{"code": "m2", "problem": "defective", "detail": "图纸缺签章"}]},
            )
            w.today(date(2026, 2, 26))
            stopped = await w.case(case["id"])
            assert (stopped["state"], stopped["clock"]) == ("review_supplements", "stopped")
            assert (stopped["working_days_used"], stopped["working_days_left"]) == (3, 7)
            w.today(date(2026, 2, 27))
            resumed = await w.ok("POST", f"/v1/applications/{case['id']}/supplements", ENTERPRISE, json={})
            assert resumed["state"] == "in_review"
            assert resumed["deadline"] == "2026-03-09"
            assert (resumed["working_days_used"], resumed["days_stopped"]) == (3, 3)
            assert resumed["tasks"] == []  # the applicant's view
            tasks = {t["department"]: t for t in (await w.case(case["id"]))["tasks"]}
            # Stage 1 (6 of 10 days): 13, 14, 24, 28, 2 Mar, 3 Mar.
            assert tasks["planning"]["deadline"] == "2026-03-03"
            w.today(date(2026, 3, 2))
            later = await w.case(case["id"])
            assert (later["working_days_used"], later["working_days_left"], later["timeliness"]) == (5, 5, "on_track")
            row, _ = await stored(w, case["id"])
            assert row.deadline == date(2026, 3, 9)


class TestNationalDay:
    async def test_a_special_procedure_and_an_extension(self, window: Any) -> None:
        async with window() as w:
            item = await w.item()
            w.today(date(2026, 9, 28))
            case = await w.accept(await w.apply(item))
            assert case["deadline"] == "2026-10-16"
            w.today(date(2026, 9, 30))
            proc = await w.ok(
                "POST",
                f"/v1/applications/{case['id']}/special-procedures",
                ADMIN,
                201,
                json={"kind": "hearing", "reason": "涉及相邻权利人重大利益，举行听证"},
            )
            assert proc["started_on"] == "2026-09-30" and proc["ended_on"] is None
            w.today(date(2026, 10, 9))
            back = await w.ok(
                "POST",
                f"/v1/applications/{case['id']}/special-procedures/{proc['id']}/end",
                ADMIN,
                json={"note": "听证结束"},
            )
            assert (back["state"], back["deadline"], back["days_stopped"]) == ("in_review", "2026-10-20", 2)
            w.today(date(2026, 10, 12))
            extended = await w.ok(
                "POST", f"/v1/applications/{case['id']}/extensions", ADMIN, json={"days": 5, "reason": "需专家论证"}
            )
            # 20 Oct + 5 working days: 21, 22, 23, 26, 27.
            assert (extended["limit_days"], extended["deadline"]) == (15, "2026-10-27")
            # Stage 1 is now due at round(15 x 0.6) = 9 counted days: 29, 30, 10, 12, 13, 14, 15, 16, 19.
            assert {t["deadline"] for t in extended["tasks"]} == {"2026-10-19"}
            msgs = (await w.ok("GET", f"/v1/applications/{case['id']}/messages", ENTERPRISE))["items"]
            assert [m["kind"] for m in msgs][-3:] == ["special_procedure", "special_procedure_ended", "extended"]

    async def test_a_calendar_override_moves_open_deadlines(self, window: Any) -> None:
        async with window() as w:
            item = await w.item()
            w.today(date(2026, 9, 28))
            case = await w.accept(await w.apply(item))
            r = await w.client.put(
                "/v1/calendar/days/2026-10-12", headers=ADMIN, json={"working": False, "note": "停电"}
            )
            assert r.status_code == 200 and r.json()["overridden"] is True
            # 12 Oct off: 29, 30, 8, 9, 10, 13, 14, 15, 16, 19.
            assert (await w.case(case["id"]))["deadline"] == "2026-10-19"
            row, _ = await stored(w, case["id"])
            assert row.deadline == date(2026, 10, 19)


class TestUncoveredYear:
    async def test_a_2027_deadline_is_provisional_then_settled_by_an_override_and_a_loaded_notice(
        self, window: Any
    ) -> None:
        async with window() as w:
            assert 2027 not in official_calendar().covered_years, "the package covers 2027 now: move to 2028"
            item = await w.item(promised_limit_days=5)
            w.today(date(2026, 12, 28))
            case = await w.accept(await w.apply(item))
            # 29, 30, 31 Dec; Fri 1 Jan is 元旦 by law (expected off); Mon 4 and Tue 5 Jan.
            assert (case["deadline"], case["provisional"]) == ("2027-01-05", True)
            assert (
                "暂定"
                in ((await w.ok("GET", f"/v1/applications/{case['id']}/messages", ENTERPRISE))["items"])[-1]["body"]
            )
            # The bureau closes Mon 4 Jan (a test fixture): the deadline moves one working day.
            await w.ok("PUT", "/v1/calendar/days/2027-01-04", ADMIN, json={"working": False, "note": "测试：闭馆"})
            moved = await w.case(case["id"])
            assert (moved["deadline"], moved["provisional"]) == ("2027-01-06", True)
            # A notice loaded by hand (a test fixture, not the official 2027 arrangement).
            notice = {"source": "测试用通知（非官方）", "holidays": [{"date": "2027-01-01", "name": "元旦"}]}
            loaded = await w.ok("PUT", "/v1/calendar/years/2027", CITY, json=notice)
            assert loaded["recomputed_cases"] == 1
            final = await w.case(case["id"])
            assert (final["deadline"], final["provisional"]) == ("2027-01-06", False)
            row, tasks = await stored(w, case["id"])
            assert (row.deadline, row.provisional) == (date(2027, 1, 6), False)
            assert not any(t.provisional for t in tasks)

    async def test_when_the_package_comes_to_cover_the_year_the_sweeper_settles_it(self, window: Any) -> None:
        async with window() as w:
            item = await w.item(promised_limit_days=5)
            w.today(date(2026, 12, 28))
            case = await w.accept(await w.apply(item))
            row, _ = await stored(w, case["id"])
            assert row.provisional is True
            # The calendar package is upgraded (simulated: a test fixture, not the official notice).
            w.runtime.official_calendar = official_calendar().with_year(2027, {date(2027, 1, 1): "元旦"}, {})
            await sweep_once(w.runtime.db, w.runtime.official_calendar, today=date(2026, 12, 28), worker="t")
            row, _ = await stored(w, case["id"])
            assert (row.deadline, row.provisional) == (date(2027, 1, 5), False)

    async def test_a_year_the_package_covers_cannot_be_loaded_by_hand(self, window: Any) -> None:
        async with window() as w:
            r = await w.client.put("/v1/calendar/years/2026", headers=CITY, json={"source": "x", "holidays": []})
            assert_problem(r, 409)
            bad = {"source": "x", "holidays": [{"date": "2026-12-31", "name": "x"}]}
            assert_problem(await w.client.put("/v1/calendar/years/2027", headers=CITY, json=bad), 422)

    async def test_the_public_deadline_endpoint_agrees_with_the_case_clock(self, window: Any) -> None:
        async with window() as w:
            r = await w.client.get("/v1/calendar/deadline", params={"start": "2026-02-12", "working_days": 10})
            assert r.json() == {
                "start": "2026-02-12",
                "working_days": 10,
                "deadline": "2026-03-04",
                "provisional": False,
            }
