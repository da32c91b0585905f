"""The official working-day calendar of the People's Republic of China, and deadlines on it.

A day is a working day when the State Council's annual holiday notice (as packaged by
``chinesecalendar``) does not make it a holiday and it is Monday-Friday, or when the notice
declares a weekend day a working day (调休). The approval bureau may override single days.

For a year the packaged data does not cover yet, every answer that depends on such a day is
flagged ``provisional``: the caller must show it as such and recompute once the year's notice
is loaded. The estimate for such a year is the weekday rule minus the public holidays the law
itself fixes (:func:`statutory_holidays`); what only the annual notice decides (make-up working
weekends, bridging days, a weekday off for a holiday on a weekend) cannot be foreseen. Nothing
here raises for an uncovered year.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from enum import StrEnum
from functools import lru_cache

MAX_WORKING_DAYS = 3660
"""Upper bound for one deadline computation (about 14 years), to bound loops on bad input."""


class DayKind(StrEnum):
    """Why a day is or is not a working day."""

    WORKDAY = "workday"
    WEEKEND = "weekend"
    HOLIDAY = "holiday"
    MAKEUP_WORKDAY = "makeup_workday"  # a weekend day declared a working day (调休)


@dataclass(frozen=True, slots=True)
class DayInfo:
    """What the calendar says about one day."""

    day: date
    working: bool
    kind: DayKind
    name: str | None
    provisional: bool
    overridden: bool


@dataclass(frozen=True, slots=True)
class Deadline:
    """The N-th working day after a start date; ``provisional`` if an uncovered year was crossed."""

    deadline: date
    provisional: bool


@dataclass(frozen=True)
class OfficialCalendar:
    """Holiday data by year plus local overrides (``True`` = working, ``False`` = day off)."""

    holidays: Mapping[date, str]
    makeup_workdays: Mapping[date, str]
    covered_years: frozenset[int]
    overrides: Mapping[date, tuple[bool, str | None]] = field(default_factory=dict)

    def with_overrides(self, overrides: Mapping[date, tuple[bool, str | None]]) -> OfficialCalendar:
        """A copy of this calendar with the bureau's overrides applied."""
        return OfficialCalendar(self.holidays, self.makeup_workdays, self.covered_years, dict(overrides))

    def with_year(
        self, year: int, holidays: Mapping[date, str], makeup_workdays: Mapping[date, str]
    ) -> OfficialCalendar:
        """A copy of this calendar that covers ``year`` with the given holiday notice.

        Used when a year's State Council notice is loaded before the packaged data carries it.
        Days of ``year`` that the notice does not name follow the weekday rule and are no longer
        provisional. Raises ``ValueError`` if a listed day is not in ``year``, or is both a
        holiday and a make-up working day.
        """
        for day in (*holidays, *makeup_workdays):
            if day.year != year:
                raise ValueError(f"{day.isoformat()} is not in {year}")
        both = set(holidays) & set(makeup_workdays)
        if both:
            raise ValueError(f"{min(both).isoformat()} is listed both as a holiday and as a working day")
        kept_h = {d: n for d, n in self.holidays.items() if d.year != year}
        kept_w = {d: n for d, n in self.makeup_workdays.items() if d.year != year}
        return OfficialCalendar(
            {**kept_h, **holidays},
            {**kept_w, **makeup_workdays},
            self.covered_years | {year},
            self.overrides,
        )

    def info(self, day: date) -> DayInfo:
        """What the calendar says about ``day``."""
        weekend = day.weekday() >= 5
        if day in self.overrides:
            working, note = self.overrides[day]
            kind = (
                (DayKind.MAKEUP_WORKDAY if weekend else DayKind.WORKDAY)
                if working
                else (DayKind.WEEKEND if weekend else DayKind.HOLIDAY)
            )
            return DayInfo(day, working, kind, note, provisional=False, overridden=True)
        covered = day.year in self.covered_years
        if covered and day in self.holidays:
            return DayInfo(day, False, DayKind.HOLIDAY, self.holidays[day], False, False)
        if covered and day in self.makeup_workdays:
            return DayInfo(day, True, DayKind.MAKEUP_WORKDAY, self.makeup_workdays[day], False, False)
        if not covered:
            name = statutory_holidays(day.year).get(day)
            if name is not None:
                return DayInfo(day, False, DayKind.HOLIDAY, name, provisional=True, overridden=False)
        kind = DayKind.WEEKEND if weekend else DayKind.WORKDAY
        # Weekends are certain even for uncovered years only if no notice moves them; we cannot know.
        return DayInfo(day, not weekend, kind, None, provisional=not covered, overridden=False)

    def is_working_day(self, day: date) -> bool:
        """True if ``day`` is a working day (by the weekday rule for uncovered years)."""
        return self.info(day).working

    def add_working_days(self, start: date, working_days: int) -> Deadline:
        """The ``working_days``-th working day after ``start`` (``start`` itself is not counted).

        ``working_days == 0`` answers ``start``. Raises ``ValueError`` for a negative count or
        one above :data:`MAX_WORKING_DAYS`.
        """
        if working_days < 0 or working_days > MAX_WORKING_DAYS:
            raise ValueError(f"working_days must be between 0 and {MAX_WORKING_DAYS}")
        day = start
        provisional = False
        remaining = working_days
        while remaining > 0:
            day += timedelta(days=1)
            info = self.info(day)
            provisional = provisional or info.provisional
            if info.working:
                remaining -= 1
        return Deadline(day, provisional)

    def working_days_between(self, start: date, end: date) -> int:
        """Working days in ``(start, end]`` (negative if ``end`` is before ``start``)."""
        if end < start:
            return -self.working_days_between(end, start)
        count = 0
        day = start
        while day < end:
            day += timedelta(days=1)
            if self.info(day).working:
                count += 1
        return count

    def days(self, start: date, end: date) -> list[DayInfo]:
        """Every day in ``[start, end]`` with what the calendar says about it."""
        out: list[DayInfo] = []
        day = start
        while day <= end:
            out.append(self.info(day))
            day += timedelta(days=1)
        return out


ESTIMATED_YEARS = range(1901, 2100)
"""Years :func:`statutory_holidays` can estimate (``chinesecalendar``'s solar terms cover 1900-2100)."""


@lru_cache(maxsize=64)
def statutory_holidays(year: int) -> dict[date, str]:
    """The public holidays the law fixes for ``year``, before any annual notice arranges them.

    《全国年节及纪念日放假办法》 art. 2, as amended by State Council Decree No. 795 (in force
    from 1 January 2025): 元旦 1 January; 春节 the lunar New Year's Eve and the first three days
    of the first lunar month; 清明节 the day of the 清明 solar term; 劳动节 1-2 May; 端午节 the
    5th of the 5th lunar month; 中秋节 the 15th of the 8th lunar month; 国庆节 1-3 October.
    Lunar dates come from ``lunar-python``, the solar term from ``chinesecalendar``. Used only
    for years whose notice is not loaded; names end in （预计） ("expected"). Outside
    :data:`ESTIMATED_YEARS` (the solar-term data's range) there is no estimate: an empty mapping.
    """
    if year not in ESTIMATED_YEARS:
        return {}
    from chinese_calendar import get_solar_terms
    from lunar_python import Lunar

    def lunar(month: int, day: int) -> date:
        solar = Lunar.fromYmd(year, month, day).getSolar()
        return date(solar.getYear(), solar.getMonth(), solar.getDay())

    days: dict[date, str] = {date(year, 1, 1): "元旦"}
    new_year = lunar(1, 1)  # the first lunar month of ``year`` starts in January or February of it
    for offset in range(-1, 3):
        days[new_year + timedelta(days=offset)] = "春节"
    for term_day, term in get_solar_terms(date(year, 4, 1), date(year, 4, 10)):
        if term == "清明":
            days[term_day] = "清明节"
    days[date(year, 5, 1)] = days[date(year, 5, 2)] = "劳动节"
    days[lunar(5, 5)] = "端午节"
    days.setdefault(lunar(8, 15), "中秋节")
    for d in (1, 2, 3):
        days[date(year, 10, d)] = "国庆节"  # wins when 中秋 falls on 1-3 October (as in 2028)
    return {d: f"{name}（预计）" for d, name in days.items() if d.year == year}


def official_calendar() -> OfficialCalendar:
    """The calendar from the installed ``chinesecalendar`` package (no network access)."""
    from chinese_calendar import constants  # the package only ships data tables

    holidays: dict[date, str] = {d: str(v) for d, v in constants.holidays.items()}
    workdays: dict[date, str] = {d: str(v) for d, v in constants.workdays.items()}
    # A year counts as covered when the package carries its holiday notice.
    covered = frozenset(d.year for d in holidays)
    return OfficialCalendar(holidays=holidays, makeup_workdays=workdays, covered_years=covered)
