"""Moving the stored deadlines after the calendar changed: open cases' and their tasks', and the
due dates of open rectification items.

This use case sits above the calendar, the cases and the supervision. The calendar's own use
cases (a day overridden, a year's notice loaded) call it through the port they declare,
:class:`services.permits.calendar.service.DeadlineRecompute`, which the app wires to it on its
runtime; the background workers call it at start-up and on every sweep."""

from __future__ import annotations

from datetime import date

from sqlalchemy.ext.asyncio import AsyncSession

from libs.domain.kernel.calendar import OfficialCalendar
from services.permits.calendar.service import RECTIFICATION_DAYS
from services.permits.cases.deadlines import refresh_deadlines
from services.permits.cases.repository import CaseRepository
from services.permits.supervision.repository import SupervisionRepository


async def recompute_deadlines(
    session: AsyncSession,
    cal: OfficialCalendar,
    today: date,
    *,
    touched_day: date | None = None,
    provisional_only: bool = False,
) -> int:
    """Recompute stored deadlines on the effective calendar ``cal``; returns how many cases moved.

    With ``touched_day`` every open case accepted before that day is recomputed (a changed day
    can only move deadlines after it); with ``provisional_only`` only provisional ones are.
    """
    repo = CaseRepository(session)
    cases = await repo.active(provisional_only=provisional_only, accepted_before=touched_day)
    ids = [c.id for c in cases]
    tasks, stops = await repo.tasks(ids), await repo.stops(ids)
    moved = 0
    for case in cases:
        before = (case.deadline, case.provisional)
        refresh_deadlines(case, tasks[case.id], stops[case.id], cal, today)
        moved += before != (case.deadline, case.provisional)
    for rect in await SupervisionRepository(session).open_provisional_rectifications():
        due = cal.add_working_days(rect.opened_on, RECTIFICATION_DAYS)
        rect.due_on, rect.provisional = due.deadline, due.provisional
    await repo.flush()
    return moved
