"""Statistics per item and per department, worked out by hand on the 2026 calendar.

The story (Spring Festival 15-23 Feb off, Sat 28 Feb worked; no holiday in March):
- c1: accepted Thu 12 Feb; planning and environment approve Tue 24 Feb; construction approves
  Mon 2 Mar; decided (approved) Tue 3 Mar. Used: 13, 14, 24, 25, 26, 27, 28, 2, 3 = 9 days.
- c2: accepted Thu 12 Feb; planning refuses Tue 24 Feb (environment cancelled); decided
  (refused) Wed 25 Feb. Used: 13, 14, 24, 25 = 4 days.
- c3: submitted Thu 12 Feb and declined.
- c4: accepted Mon 2 Mar, 10 days: due Mon 16 Mar (3-6, 9-13, 16); still open on Fri 20 Mar:
  overdue, and so are its two stage-1 tasks (due Tue 10 Mar: 3, 4, 5, 6, 9, 10).
"""

from __future__ import annotations

from datetime import date
from typing import Any

from tests.permits.builders import CLERK, PLANNING, ZONE


class TestStatistics:
    async def test_figures_per_item_and_department(self, window: Any) -> None:
        async with window() as w:
            await w.bureau()
            item = await w.item()
            w.today(date(2026, 2, 12))
            c1, c2, c3 = await w.apply(item), await w.apply(item), await w.apply(item)
            await w.accept(c1)
            await w.accept(c2)
            await w.ok("POST", f"/v1/applications/{c3['id']}/decline", CLERK, json={"reasons": ["x"]})
            w.today(date(2026, 2, 24))
            for t in (await w.open_tasks(c1["id"])).values():
                await w.approve(t)
            t2 = (await w.open_tasks(c2["id"]))["planning"]
            await w.ok("POST", f"/v1/tasks/{t2['id']}/reject", PLANNING, json={"reasons": ["不符合规划"]})
            w.today(date(2026, 2, 25))
            await w.decide(c2["id"])
            w.today(date(2026, 3, 2))
            await w.approve((await w.open_tasks(c1["id"]))["construction"])
            await w.accept(await w.apply(item))
            w.today(date(2026, 3, 3))
            await w.decide(c1["id"])
            w.today(date(2026, 3, 20))
            r = await w.client.get("/v1/stats", params={"zone_id": ZONE, "from": "2026-02-01", "to": "2026-03-31"})
            assert r.status_code == 200
            stats = r.json()
            assert (stats["from"], stats["to"], stats["as_of"]) == ("2026-02-01", "2026-03-31", "2026-03-20")
            figures = {
                "received": 4,
                "accepted": 3,
                "decided": 2,
                "approved": 1,
                "on_time_rate": 1.0,
                "working_days_median": 6.5,
                "working_days_p90": 9.0,
                "overdue": 1,
                "days_stopped": 0,
            }
            assert {k: stats["total"][k] for k in figures} == figures
            assert [i["code"] for i in stats["items"]] == ["jsgcgh"]
            assert {k: stats["items"][0][k] for k in figures} == figures
            depts = {d["department"]: d for d in stats["departments"]}
            planning = {
                "received": 3,
                "decided": 2,
                "approved": 1,
                "on_time_rate": 1.0,
                "working_days_median": 3.0,
                "working_days_p90": 3.0,
                "overdue": 1,
            }
            assert {k: depts["planning"][k] for k in planning} == planning
            environment = {"received": 3, "decided": 1, "approved": 1, "overdue": 1, "working_days_median": 3.0}
            assert {k: depts["environment"][k] for k in environment} == environment
            construction = {"received": 1, "decided": 1, "approved": 1, "overdue": 0, "working_days_median": 5.0}
            assert {k: depts["construction"][k] for k in construction} == construction

    async def test_a_period_without_cases_has_empty_figures(self, window: Any) -> None:
        async with window() as w:
            r = await w.client.get("/v1/stats", params={"zone_id": ZONE, "from": "2026-01-01", "to": "2026-01-31"})
            body = r.json()
            assert body["total"]["received"] == 0 and body["total"]["on_time_rate"] is None
            assert body["items"] == [] and body["departments"] == []
            bad = await w.client.get("/v1/stats", params={"zone_id": ZONE, "from": "2026-02-01", "to": "2026-01-01"})
            assert bad.status_code == 422
