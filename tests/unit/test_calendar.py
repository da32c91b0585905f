"""Deadlines on the official calendar, worked out by hand.

Source of the 2026 holidays: State Council General Office notice on the 2026 holiday
arrangements (国务院办公厅关于2026年部分节假日安排的通知): Spring Festival 15-23 February off,
Saturdays 14 and 28 February worked; National Day 1-7 October off, Sunday 20 September and
Saturday 10 October worked.
"""

from __future__ import annotations

from datetime import date
from typing import ClassVar

import pytest

from libs.domain.kernel.calendar import DayKind, official_calendar, statutory_holidays

CAL = official_calendar()


class TestSpringFestival2026:
    def test_five_days_from_the_thursday_before_cross_the_holiday(self) -> None:
        # Fri 13 (1), Sat 14 make-up (2), 15-23 off, Tue 24 (3), Wed 25 (4), Thu 26 (5).
        assert CAL.add_working_days(date(2026, 2, 12), 5).deadline == date(2026, 2, 26)

    def test_the_make_up_saturday_counts(self) -> None:
        assert CAL.add_working_days(date(2026, 2, 13), 1).deadline == date(2026, 2, 14)
        assert CAL.info(date(2026, 2, 14)).kind is DayKind.MAKEUP_WORKDAY

    def test_the_day_after_the_make_up_saturday_jumps_the_holiday(self) -> None:
        assert CAL.add_working_days(date(2026, 2, 14), 1).deadline == date(2026, 2, 24)

    def test_the_day_of_acceptance_is_not_counted(self) -> None:
        assert CAL.add_working_days(date(2026, 3, 2), 1).deadline == date(2026, 3, 3)
        assert CAL.add_working_days(date(2026, 3, 2), 0).deadline == date(2026, 3, 2)


class TestNationalDay2026:
    def test_sunday_20_september_is_worked(self) -> None:
        assert CAL.add_working_days(date(2026, 9, 18), 1).deadline == date(2026, 9, 20)

    def test_three_days_from_30_september(self) -> None:
        # Oct 1-7 off; Thu 8 (1), Fri 9 (2), Sat 10 make-up (3).
        assert CAL.add_working_days(date(2026, 9, 30), 3).deadline == date(2026, 10, 10)

    def test_twenty_days_from_the_week_before(self) -> None:
        # From Fri 25 Sep: 28,29,30 Sep (3); 8,9,10 Oct (6); 12-16 (11); 19-23 (16); 26,27,28,29 (20).
        assert CAL.add_working_days(date(2026, 9, 25), 20).deadline == date(2026, 10, 29)

    def test_working_days_between_counts_the_same_days(self) -> None:
        assert CAL.working_days_between(date(2026, 9, 25), date(2026, 10, 29)) == 20


class TestUncoveredYear:
    def test_a_deadline_in_an_uncovered_year_is_provisional_not_an_error(self) -> None:
        assert 2027 not in CAL.covered_years, "the calendar package now covers 2027: move this test to 2028"
        result = CAL.add_working_days(date(2026, 12, 30), 3)
        # Thu 31 Dec 2026 (1); 2027 estimated: Fri 1 Jan 元旦 by law, Mon 4 Jan (2), Tue 5 Jan (3).
        assert result.deadline == date(2027, 1, 5)
        assert result.provisional is True

    def test_the_spring_festival_of_an_uncovered_year_is_expected_off(self) -> None:
        # 2027: 除夕 Fri 5 Feb, 初一 Sat 6, 初二 Sun 7, 初三 Mon 8 are expected off.
        # From Thu 4 Feb, 2 working days: Tue 9 (1), Wed 10 (2).
        result = CAL.add_working_days(date(2027, 2, 4), 2)
        assert (result.deadline, result.provisional) == (date(2027, 2, 10), True)
        info = CAL.info(date(2027, 2, 8))
        assert (info.working, info.kind, info.name, info.provisional) == (False, DayKind.HOLIDAY, "春节（预计）", True)

    def test_a_deadline_inside_a_covered_year_is_final(self) -> None:
        assert CAL.add_working_days(date(2026, 11, 2), 10).provisional is False

    def test_bureau_override_settles_a_day(self) -> None:
        cal = CAL.with_overrides({date(2027, 1, 1): (False, "元旦")})
        info = cal.info(date(2027, 1, 1))
        assert info.working is False and info.overridden and not info.provisional


class TestStatutoryHolidays:
    """The holidays fixed by law (全国年节及纪念日放假办法 art. 2, as amended with effect from 2025)."""

    def test_2027_worked_out_by_hand(self) -> None:
        # Lunar dates of 2027: New Year 6 Feb (除夕 5 Feb), 端午 9 Jun, 中秋 15 Sep; 清明 term 5 Apr.
        expected = {
            date(2027, 1, 1),
            date(2027, 2, 5),
            date(2027, 2, 6),
            date(2027, 2, 7),
            date(2027, 2, 8),
            date(2027, 4, 5),
            date(2027, 5, 1),
            date(2027, 5, 2),
            date(2027, 6, 9),
            date(2027, 9, 15),
            date(2027, 10, 1),
            date(2027, 10, 2),
            date(2027, 10, 3),
        }
        assert set(statutory_holidays(2027)) == expected

    def test_mid_autumn_on_national_day_is_one_day_off_not_two(self) -> None:
        # 2028: 中秋 falls on 3 October, inside 国庆.
        days = statutory_holidays(2028)
        assert len(days) == 12 and days[date(2028, 10, 3)] == "国庆节（预计）"

    @pytest.mark.parametrize("year", [1, 1900, 2100, 9999])
    def test_years_beyond_the_data_have_no_estimate_and_never_fail(self, year: int) -> None:
        assert statutory_holidays(year) == {}
        info = CAL.info(date(year, 5, 1))
        assert info.provisional is True and info.working is (date(year, 5, 1).weekday() < 5)

    @pytest.mark.parametrize("year", [2025, 2026])
    def test_every_statutory_holiday_is_off_in_the_published_notices(self, year: int) -> None:
        # The State Council notices for 2025 and 2026 (as packaged by chinesecalendar) give each
        # statutory day off; the notices add bridging days around them, never fewer.
        assert year in CAL.covered_years
        assert all(day in CAL.holidays for day in statutory_holidays(year))


class TestBounds:
    def test_negative_or_huge_counts_are_refused(self) -> None:
        with pytest.raises(ValueError):
            CAL.add_working_days(date(2026, 1, 1), -1)
        with pytest.raises(ValueError):
            CAL.add_working_days(date(2026, 1, 1), 100_000)


class TestLoadingAYearNotice:
    # The notice below is a test fixture, not the official 2027 arrangement.
    NOTICE_HOLIDAYS: ClassVar[dict[date, str]] = {date(2027, 1, 1): "元旦"}
    NOTICE_WORKDAYS: ClassVar[dict[date, str]] = {date(2027, 1, 9): "调休"}

    def test_a_loaded_year_is_covered_and_final(self) -> None:
        cal = CAL.with_year(2027, self.NOTICE_HOLIDAYS, self.NOTICE_WORKDAYS)
        # Thu 31 Dec 2026 (1); Fri 1 Jan off; Mon 4 (2), Tue 5 (3).
        result = cal.add_working_days(date(2026, 12, 30), 3)
        assert (result.deadline, result.provisional) == (date(2027, 1, 5), False)
        assert cal.info(date(2027, 1, 9)).kind is DayKind.MAKEUP_WORKDAY

    def test_a_day_outside_the_year_or_listed_twice_is_refused(self) -> None:
        with pytest.raises(ValueError, match="not in 2027"):
            CAL.with_year(2027, {date(2026, 12, 31): "x"}, {})
        with pytest.raises(ValueError, match="both"):
            CAL.with_year(2027, {date(2027, 1, 9): "x"}, {date(2027, 1, 9): "y"})

    def test_overrides_still_win_over_a_loaded_notice(self) -> None:
        cal = CAL.with_year(2027, self.NOTICE_HOLIDAYS, {}).with_overrides({date(2027, 1, 1): (True, "值班")})
        assert cal.is_working_day(date(2027, 1, 1))
