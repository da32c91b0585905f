"""The working-day clock of an approval case: time limits, clock stops, deadlines, timeliness.

Rules (docs/domain.md#the-working-day-clock; 行政许可法 第四十二条、第四十五条):

- A case's time limit is a number of working days on the official calendar, counted from the
  day after acceptance (the day of acceptance is not counted).
- Supplements requested during review and special procedures (hearing, expert review, on-site
  inspection, public notice) stop the clock. A stop that starts on day S and ends on day E
  stops the days in ``(S, E]``: the day the stop is ordered still counts (work was done that
  day), and the day the clock restarts is treated like a new day of acceptance, not counted.
  A stop ordered and lifted the same day stops nothing.
- The deadline is the ``limit``-th *counted* day (working, not stopped) after acceptance, so it
  moves by exactly the working days stopped and the time already used is kept, never reset.
- While a stop is open, the days up to ``as_of`` are stopped and the deadline shown is the one
  that holds if the clock restarts the next day.
- ``due_soon`` means at most :data:`DUE_SOON_DAYS` working days left; ``overdue`` means the
  deadline has passed (``as_of`` is after it). A finished case is judged on its finishing day:
  ``overdue`` if it finished after the deadline, else ``on_track``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum
from functools import lru_cache

from libs.domain.kernel.calendar import MAX_WORKING_DAYS, OfficialCalendar

DUE_SOON_DAYS = 2
"""A case or task with at most this many working days left is ``due_soon``."""


class Timeliness(StrEnum):
    """How a case or task stands against its deadline."""

    ON_TRACK = "on_track"
    DUE_SOON = "due_soon"
    OVERDUE = "overdue"


class ClockState(StrEnum):
    """Whether the clock is counting."""

    NOT_STARTED = "not_started"
    RUNNING = "running"
    STOPPED = "stopped"
    FINISHED = "finished"


@dataclass(frozen=True, slots=True)
class Stop:
    """A clock stop ordered on ``started_on`` and lifted on ``ended_on`` (``None``: still open)."""

    started_on: date
    ended_on: date | None = None

    def covers(self, day: date, as_of: date) -> bool:
        """True if ``day`` is stopped, taking an open stop to run through ``as_of``."""
        end = self.ended_on if self.ended_on is not None else as_of
        return self.started_on < day <= end


@dataclass(frozen=True, slots=True)
class Reading:
    """What the clock says on ``as_of``."""

    deadline: date
    provisional: bool
    used: int
    left: int
    stopped_days: int
    timeliness: Timeliness
    state: ClockState


class Clock:
    """Counts working days on a calendar, skipping the days of clock stops."""

    def __init__(self, calendar: OfficialCalendar, stops: Sequence[Stop] = ()) -> None:
        self.calendar = calendar
        self.stops = tuple(stops)

    def _stopped(self, day: date, as_of: date) -> bool:
        return any(s.covers(day, as_of) for s in self.stops)

    def deadline(self, start: date, limit: int, *, as_of: date) -> tuple[date, bool]:
        """The ``limit``-th counted day after ``start`` and whether it is provisional.

        Raises ``ValueError`` for a negative limit or one above :data:`MAX_WORKING_DAYS`.
        """
        if not self.stops:  # the calendar's own count (which a calendar may remember)
            due = self.calendar.add_working_days(start, limit)
            return due.deadline, due.provisional
        if limit < 0 or limit > MAX_WORKING_DAYS:
            raise ValueError(f"limit must be between 0 and {MAX_WORKING_DAYS}")
        day, remaining, provisional = start, limit, False
        info_of, one_day, stops = self.calendar.info, timedelta(days=1), self.stops
        # Stopped days are bounded by the stops themselves, so the loop always ends.
        while remaining > 0:
            day += one_day
            info = info_of(day)
            provisional = provisional or info.provisional
            if info.working and not (stops and self._stopped(day, as_of)):
                remaining -= 1
        return day, provisional

    def counted_between(self, start: date, end: date, *, as_of: date) -> int:
        """Counted days (working, not stopped) in ``(start, end]``; negative if ``end < start``."""
        if not self.stops:
            return self.calendar.working_days_between(start, end)
        if end < start:
            return -self.counted_between(end, start, as_of=as_of)
        count, day = 0, start
        working, one_day, stops = self.calendar.is_working_day, timedelta(days=1), self.stops
        while day < end:
            day += one_day
            if working(day) and not (stops and self._stopped(day, as_of)):
                count += 1
        return count

    def stopped_between(self, start: date, end: date, *, as_of: date) -> int:
        """Working days in ``(start, end]`` that a stop took out of the count."""
        if not self.stops:
            return 0
        count, day = 0, start
        while day < end:
            day += timedelta(days=1)
            if self.calendar.is_working_day(day) and self._stopped(day, as_of):
                count += 1
        return count

    def read(self, *, start: date, limit: int, as_of: date, finished_on: date | None = None) -> Reading:
        """The clock of something accepted on ``start`` with ``limit`` working days, on ``as_of``.

        ``finished_on`` freezes the clock on that day (a decided case, a completed task).
        """
        if finished_on is not None:
            as_of = min(as_of, finished_on)
        as_of = max(as_of, start)
        deadline, provisional = self.deadline(start, limit, as_of=as_of)
        used = self.counted_between(start, as_of, as_of=as_of)
        left = self.counted_between(as_of, deadline, as_of=as_of)
        stopped = self.stopped_between(start, as_of, as_of=as_of)
        if as_of > deadline:
            timeliness = Timeliness.OVERDUE
        elif finished_on is not None or left > DUE_SOON_DAYS:
            timeliness = Timeliness.ON_TRACK
        else:
            timeliness = Timeliness.DUE_SOON
        if finished_on is not None:
            state = ClockState.FINISHED
        elif any(s.ended_on is None and s.started_on <= as_of for s in self.stops):
            state = ClockState.STOPPED
        else:
            state = ClockState.RUNNING
        return Reading(deadline, provisional, used, left, stopped, timeliness, state)


def stage_offsets(limit: int, shares: Sequence[Decimal]) -> list[int]:
    """Working-day offsets (from acceptance) at which each stage is due.

    Stage ``k`` is due at ``round(limit * (share_1 + ... + share_k))`` (half up), the last stage
    exactly at ``limit``; cumulative rounding keeps the stages adding up to the whole limit.
    Every offset is at least 1 when ``limit`` is at least 1. Raises ``ValueError`` when the
    shares are not positive or do not add up to 1.
    """
    return list(_stage_offsets(limit, tuple(shares)))


@lru_cache(maxsize=1024)
def _stage_offsets(limit: int, shares: tuple[Decimal, ...]) -> tuple[int, ...]:
    if not shares or any(s <= 0 for s in shares):
        raise ValueError("every stage needs a positive share")
    total = sum(shares, Decimal(0))
    if abs(total - 1) > Decimal("0.0001"):
        raise ValueError(f"stage shares add up to {total}, not 1")
    out: list[int] = []
    running = Decimal(0)
    for i, share in enumerate(shares):
        running += share
        if i == len(shares) - 1:
            offset = limit
        else:
            offset = int((Decimal(limit) * running).quantize(Decimal(1), rounding=ROUND_HALF_UP))
        if limit >= 1:
            offset = max(offset, 1, out[-1] if out else 1)
        out.append(min(offset, limit))
    return tuple(out)
