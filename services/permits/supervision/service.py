"""Supervision: the overdue sweep (exactly-once escalations), rectifications, statistics."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from libs.domain.kernel.calendar import OfficialCalendar
from libs.domain.kernel.contracts import Actor
from libs.domain.kernel.errors import (
    Conflict,
    NotFound,
    Unprocessable,
)
from libs.domain.kernel.i18n import Text
from libs.domain.permits.clock import Clock, Timeliness
from libs.domain.permits.contracts import (
    DepartmentStats,
    EscalationRead,
    Figures,
    ItemStats,
    RectificationClose,
    RectificationRead,
    StatsRead,
)
from libs.domain.permits.states import (
    CaseState,
    Outcome,
    TaskState,
)
from libs.domain.permits.stats import median, percentile, rate
from services.permits.calendar.service import calendar
from services.permits.cases.deadlines import as_stop
from services.permits.cases.repository import CaseRepository
from services.permits.shared import is_city, utcnow
from services.permits.supervision.repository import SupervisionRepository
from services.permits.tables import Rectification as RectRow
from services.permits.tables import Transition as TransitionRow


@dataclass(frozen=True)
class SweepResult:
    """What one sweep recorded."""

    cases: int
    tasks: int


async def sweep_overdue(*, session: AsyncSession, today: date, worker: str, batch: int = 200) -> SweepResult:
    """Record one escalation per overdue event (a case or task past a deadline), exactly once.

    Rows are taken with ``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so replicas share the work
    without waiting; the unique (subject, id, deadline) constraint with ``ON CONFLICT DO
    NOTHING`` is the final guard, which is all SQLite (one writer at a time) needs.
    """
    repo, supervision = CaseRepository(session), SupervisionRepository(session)
    now = utcnow()
    cases_done = tasks_done = 0
    for case in await supervision.overdue_cases(today, batch):
        assert case.deadline is not None
        inserted = await supervision.record_escalation(
            {
                "subject": "application",
                "subject_id": case.id,
                "deadline": case.deadline,
                "application_id": case.id,
                "zone": case.zone,
                "department": None,
                "detected_on": today,
                "created_at": now,
                "worker": worker[:100],
            }
        )
        if inserted:
            cases_done += 1
            await repo.add(
                TransitionRow(
                    application_id=case.id,
                    action="escalate_overdue",
                    from_state=case.state,
                    to_state=case.state,
                    actor=f"overdue-sweeper:{worker}"[:200],
                    at=now,
                    note=f"deadline {case.deadline} passed",
                )
            )
    for task in await supervision.overdue_tasks(today, batch):
        inserted = await supervision.record_escalation(
            {
                "subject": "task",
                "subject_id": task.id,
                "deadline": task.deadline,
                "application_id": task.application_id,
                "zone": task.zone,
                "department": task.department,
                "detected_on": today,
                "created_at": now,
                "worker": worker[:100],
            }
        )
        if inserted:
            tasks_done += 1
            await repo.add(
                TransitionRow(
                    application_id=task.application_id,
                    task_id=task.id,
                    action="escalate_overdue",
                    from_state=task.state,
                    to_state=task.state,
                    actor=f"overdue-sweeper:{worker}"[:200],
                    at=now,
                    note=f"task of {task.department} past its deadline {task.deadline}",
                )
            )
    return SweepResult(cases_done, tasks_done)


async def list_escalations(
    *, session: AsyncSession, actor: Actor, zone: str | None, after: int | None, limit: int
) -> tuple[list[EscalationRead], int | None]:
    """Escalations the caller may see (the bureau's head: their zone; the city: all)."""
    if not is_city(actor):
        if zone is not None and zone != actor.zone:
            return [], None
        zone = actor.zone
    rows = await SupervisionRepository(session).escalations(zone=zone, after=after, limit=limit + 1)
    more = len(rows) > limit
    rows = rows[:limit]
    return [
        EscalationRead(
            id=r.id,
            subject_kind=r.subject,
            subject_id=r.subject_id,
            application=r.application_id,
            zone_id=r.zone,
            department=r.department,
            deadline=r.deadline,
            detected_on=r.detected_on,
            created_at=r.created_at,
        )
        for r in rows
    ], (rows[-1].id if more else None)


def _rect_read(r: RectRow) -> RectificationRead:
    return RectificationRead(
        id=r.id,
        application=r.application_id,
        zone_id=r.zone,
        score=r.score,
        comment=r.comment,
        opened_on=r.opened_on,
        due_on=r.due_on,
        provisional=r.provisional,
        state=r.state,
        closed_at=r.closed_at,
        note=r.note,
    )


async def list_rectifications(
    *, session: AsyncSession, actor: Actor, zone: str | None, state: str | None, after: str | None, limit: int
) -> tuple[list[RectificationRead], str | None]:
    """Rectification items of the caller's zone (the city: all)."""
    if not is_city(actor):
        if zone is not None and zone != actor.zone:
            return [], None
        zone = actor.zone
    rows = await SupervisionRepository(session).rectifications(zone=zone, state=state, after=after, limit=limit + 1)
    more = len(rows) > limit
    rows = rows[:limit]
    return [_rect_read(r) for r in rows], (rows[-1].id if more else None)


async def close_rectification(
    *, session: AsyncSession, actor: Actor, rect_id: str, body: RectificationClose
) -> RectificationRead:
    """Close a rectification item with what was done."""
    repo = SupervisionRepository(session)
    row = await repo.rectification(rect_id)
    if row is None or not (is_city(actor) or actor.zone == row.zone):
        raise NotFound(
            Text(f"整改事项 {rect_id} 不存在", f"rectification {rect_id} does not exist"),
            code="rectification_not_found",
        )
    if row.state != "open":
        raise Conflict(
            Text(f"整改事项 {rect_id} 的状态为 {row.state}，不能再办结", f"rectification {rect_id} is {row.state}"),
            code="rectification_not_open",
            state=row.state,
            allowed_actions=[],
        )
    row.state, row.closed_at, row.closed_by, row.note = "closed", utcnow(), actor.sub, body.note
    await repo.flush()
    return _rect_read(row)


def _figures(rows: list[dict[str, Any]]) -> dict[str, Any]:
    decided = [r for r in rows if r["decided"]]
    used = [r["used"] for r in decided]
    return {
        "received": len(rows),
        "accepted": sum(1 for r in rows if r["accepted"]),
        "decided": len(decided),
        "approved": sum(1 for r in decided if r["approved"]),
        "on_time_rate": rate(sum(1 for r in decided if r["on_time"]), len(decided)),
        "working_days_median": median(used),
        "working_days_p90": percentile(used, 0.9),
        "overdue": sum(1 for r in rows if r["overdue"]),
        "days_stopped": sum(r["stopped"] for r in rows),
    }


async def stats(
    *, session: AsyncSession, official: OfficialCalendar, zone: str, start: date, end: date, today: date
) -> StatsRead:
    """Per item and per department figures of the cases of ``zone`` submitted in ``[start, end]``."""
    if end < start:
        raise Unprocessable(
            Text("日期范围有误", "bad date range"),
            errors=[
                {
                    "loc": ["query", "to"],
                    "msg": Text("`to` 不得早于 `from`", "`to` must be on or after `from`"),
                    "type": "range",
                    "code": "bad_date_range",
                }
            ],
            code="bad_date_range",
        )
    repo = CaseRepository(session)
    cases = await repo.in_zone_submitted(zone, start, end)
    ids = [c.id for c in cases]
    tasks, stops, decisions = await repo.tasks(ids), await repo.stops(ids), await repo.decisions(ids)
    cal = await calendar(session=session, official=official)
    case_rows: list[dict[str, Any]] = []
    dept_rows: dict[str, list[dict[str, Any]]] = {}
    names: dict[str, tuple[str, str]] = {}
    for c in cases:
        names[c.item_id] = (c.item_code, c.item_name)
        row: dict[str, Any] = {
            "item": c.item_id,
            "accepted": c.accepted_on is not None,
            "decided": c.state == CaseState.DECIDED,
            "approved": False,
            "on_time": False,
            "used": 0,
            "overdue": False,
            "stopped": 0,
        }
        clock = Clock(cal, [as_stop(s) for s in stops[c.id]])
        if c.accepted_on is not None:
            reading = clock.read(start=c.accepted_on, limit=c.limit_days, as_of=today, finished_on=c.finished_on)
            row["used"], row["stopped"] = reading.used, reading.stopped_days
            row["overdue"] = reading.timeliness == Timeliness.OVERDUE
            row["on_time"] = not row["overdue"]
            d = decisions.get(c.id)
            row["approved"] = d is not None and d.outcome == Outcome.APPROVED
        case_rows.append(row)
        for t in tasks[c.id]:
            finished = t.state in (TaskState.APPROVED, TaskState.REJECTED)
            as_of = max(min(today, t.completed_on) if t.completed_on else today, t.opened_on)
            late = as_of > t.deadline and t.state != TaskState.CANCELLED
            dept_rows.setdefault(t.department, []).append(
                {
                    "accepted": True,
                    "decided": finished,
                    "approved": t.state == TaskState.APPROVED,
                    "on_time": finished and not late,
                    "overdue": late,
                    "used": clock.counted_between(t.opened_on, as_of, as_of=as_of),
                    "stopped": clock.stopped_between(t.opened_on, as_of, as_of=as_of),
                }
            )
    items = [
        ItemStats(
            item=item, code=names[item][0], name=names[item][1], **_figures([r for r in case_rows if r["item"] == item])
        )
        for item in sorted(names, key=lambda i: names[i][0])
    ]
    departments = [DepartmentStats(department=d, **_figures(rows)) for d, rows in sorted(dept_rows.items())]
    return StatsRead(
        zone_id=zone,
        from_=start,
        to=end,
        as_of=today,
        total=Figures(**_figures(case_rows)),
        items=items,
        departments=departments,
    )
