"""A case's deadlines on the working-day clock: the case's and its tasks', from the item's stages."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from decimal import Decimal

from libs.domain.kernel.calendar import OfficialCalendar
from libs.domain.permits.clock import Clock, Stop, stage_offsets
from libs.domain.permits.states import TaskState
from services.permits.cases.drafts import AnyCase, AnyTask
from services.permits.tables import ClockStop


def refresh_deadlines(
    case: AnyCase, tasks: Sequence[AnyTask], stops: Sequence[ClockStop], cal: OfficialCalendar, today: date
) -> None:
    """Recompute the stored deadlines of an accepted case and its open (or provisional) tasks."""
    if case.accepted_on is None:
        return
    clock = Clock(cal, [as_stop(s) for s in stops])
    as_of = max(today, case.accepted_on)
    case.deadline, case.provisional = clock.deadline(case.accepted_on, case.limit_days, as_of=as_of)
    offsets = stage_offsets(case.limit_days, shares(case))
    for t in tasks:
        if t.state == TaskState.OPEN or t.provisional:
            t.offset_days = offsets[t.stage - 1]
            t.deadline, t.provisional = clock.deadline(case.accepted_on, t.offset_days, as_of=as_of)


def as_stop(row: ClockStop) -> Stop:
    """The clock's view of a stored stop."""
    return Stop(row.started_on, row.ended_on)


def shares(case: AnyCase) -> list[Decimal]:
    """Each stage's share of the time limit, from the item as it was when the case was submitted."""
    return [Decimal(str(s["share"])) for s in case.item_snapshot["stages"]]
