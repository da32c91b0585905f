"""The overdue sweep: one escalation per overdue event, exactly once, even with replicas racing."""

from __future__ import annotations

import asyncio
from datetime import date
from typing import Any

from sqlalchemy import func, select

from services.common.db import Database
from services.permits.tables import Escalation
from services.permits.workers import sweep_once
from tests.permits.builders import ADMIN, PLANNING, Window


async def overdue_case(w: Window) -> dict[str, Any]:
    """A case accepted Thu 12 Feb 2026: stage 1 due Fri 27 Feb, the case due Wed 4 Mar."""
    item = await w.item()
    w.today(date(2026, 2, 12))
    return await w.accept(await w.apply(item))


async def escalations(db: Database) -> list[tuple[str, str, date]]:
    async with db.sessions() as s:
        rows = await s.execute(select(Escalation.subject, Escalation.subject_id, Escalation.deadline))
        return sorted((a, b, c) for a, b, c in rows)


class TestExactlyOnce:
    async def test_two_replicas_racing_record_each_overdue_event_once(self, window: Any) -> None:
        async with window() as w:
            case = await overdue_case(w)
            url = w.runtime.db.url
            replicas = [Database.open(url), Database.open(url), Database.open(url)]
            try:
                results = await asyncio.gather(
                    *(
                        sweep_once(db, w.runtime.official_calendar, today=date(2026, 3, 5), worker=f"r{i}")
                        for i, db in enumerate(replicas)
                    )
                )
            finally:
                for db in replicas:
                    await db.close()
            # The case (due 4 Mar) and its two stage-1 tasks (due 27 Feb) are overdue on 5 Mar.
            assert sum(r.cases for r in results) == 1
            assert sum(r.tasks for r in results) == 2
            rows = await escalations(w.runtime.db)
            assert len(rows) == 3 and len(set(rows)) == 3
            assert ("application", case["id"], date(2026, 3, 4)) in rows

    async def test_sweeping_again_records_nothing_new(self, window: Any) -> None:
        async with window() as w:
            await overdue_case(w)
            first = await sweep_once(w.runtime.db, w.runtime.official_calendar, today=date(2026, 3, 5), worker="a")
            again = await sweep_once(w.runtime.db, w.runtime.official_calendar, today=date(2026, 3, 6), worker="b")
            assert (first.cases, first.tasks, again.cases, again.tasks) == (1, 2, 0, 0)

    async def test_a_new_deadline_passing_is_a_new_event(self, window: Any) -> None:
        async with window() as w:
            case = await overdue_case(w)
            await sweep_once(w.runtime.db, w.runtime.official_calendar, today=date(2026, 3, 5), worker="a")
            w.today(date(2026, 3, 5))
            await w.ok("POST", f"/v1/applications/{case['id']}/extensions", ADMIN, json={"days": 2, "reason": "延期"})
            # Due 4 Mar + 2 working days = Fri 6 Mar; overdue again on Mon 9 Mar.
            on_time = await sweep_once(w.runtime.db, w.runtime.official_calendar, today=date(2026, 3, 6), worker="a")
            late = await sweep_once(w.runtime.db, w.runtime.official_calendar, today=date(2026, 3, 9), worker="a")
            assert on_time.cases == 0 and late.cases == 1
            page = await w.ok("GET", "/v1/escalations", ADMIN)
            case_events = [e["deadline"] for e in page["items"] if e["subject_kind"] == "application"]
            assert case_events == ["2026-03-04", "2026-03-06"]
            history = (await w.ok("GET", f"/v1/applications/{case['id']}/history", ADMIN))["items"]
            assert sum(1 for h in history if h["action"] == "escalate_overdue" and h["task"] is None) == 2

    async def test_a_stopped_clock_is_never_overdue(self, window: Any) -> None:
        async with window() as w:
            case = await overdue_case(w)
            w.today(date(2026, 2, 24))
            task = (await w.open_tasks(case["id"]))["planning"]
            await w.ok(
                "POST",
                f"/v1/tasks/{task['id']}/request-supplements",
                PLANNING,
                json={"items": [{"code": "m2", "problem": "defective"}]},
            )
            result = await sweep_once(w.runtime.db, w.runtime.official_calendar, today=date(2026, 3, 20), worker="a")
            assert (result.cases, result.tasks) == (0, 0)

    async def test_the_unique_constraint_is_the_final_guard(self, window: Any) -> None:
        async with window() as w:
            case = await overdue_case(w)
            await sweep_once(w.runtime.db, w.runtime.official_calendar, today=date(2026, 3, 5), worker="a")
            from services.permits.supervision.repository import SupervisionRepository

            async with w.runtime.db.sessions() as s:
                inserted = await SupervisionRepository(s).record_escalation(
                    {
                        "subject": "application",
                        "subject_id": case["id"],
                        "deadline": date(2026, 3, 4),
                        "application_id": case["id"],
                        "zone": case["zone_id"],
                        "department": None,
                        "detected_on": date(2026, 3, 5),
                        "created_at": __import__("datetime").datetime.now(__import__("datetime").UTC),
                        "worker": "x",
                    }
                )
                await s.commit()
                count = await s.scalar(select(func.count()).select_from(Escalation))
            assert inserted is False and count == 3
