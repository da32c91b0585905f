"""The working-day clock with stops, worked out by hand on the 2026 calendar.

Source of the 2026 days: State Council General Office notice on the 2026 holiday arrangements
(国务院办公厅关于2026年部分节假日安排的通知): Spring Festival 15-23 February off, Saturdays 14 and
28 February worked; Mid-Autumn Festival 25-27 September off; National Day 1-7 October off,
Sunday 20 September and Saturday 10 October worked.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from libs.domain.kernel.calendar import official_calendar
from libs.domain.permits.clock import Clock, ClockState, Stop, Timeliness, stage_offsets

CAL = official_calendar()


class TestSpringFestivalWithoutStops:
    def test_ten_days_from_the_thursday_before_the_festival(self) -> None:
        # 13 (1), Sat 14 make-up (2), 15-23 off, 24 (3), 25 (4), 26 (5), 27 (6), Sat 28 make-up (7),
        # Mon 2 Mar (8), 3 (9), 4 (10).
        assert Clock(CAL).deadline(date(2026, 2, 12), 10, as_of=date(2026, 2, 12)) == (date(2026, 3, 4), False)

    def test_reading_on_the_first_day_after_the_holiday(self) -> None:
        r = Clock(CAL).read(start=date(2026, 2, 12), limit=10, as_of=date(2026, 2, 24))
        assert (r.used, r.left, r.stopped_days) == (3, 7, 0)  # 13, 14, 24 used; 25..4 Mar left
        assert r.timeliness is Timeliness.ON_TRACK and r.state is ClockState.RUNNING


class TestSpringFestivalWithStops:
    def test_a_stop_moves_the_deadline_by_the_working_days_stopped(self) -> None:
        # Stop ordered Tue 24 Feb, lifted Fri 27 Feb: 25, 26, 27 are stopped (3 working days).
        # 13 (1), 14 (2), 24 (3), Sat 28 (4), 2 Mar (5), 3 (6), 4 (7), 5 (8), 6 (9), Mon 9 (10).
        clock = Clock(CAL, [Stop(date(2026, 2, 24), date(2026, 2, 27))])
        assert clock.deadline(date(2026, 2, 12), 10, as_of=date(2026, 3, 2)) == (date(2026, 3, 9), False)

    def test_a_stop_across_the_holiday_only_counts_working_days(self) -> None:
        # Stop ordered Fri 13, lifted Tue 24: stopped (13, 24] holds two working days, Sat 14 and Tue 24.
        # 13 (1), 25 (2), 26 (3), 27 (4), 28 (5), 2 Mar (6), 3 (7), 4 (8), 5 (9), 6 (10).
        clock = Clock(CAL, [Stop(date(2026, 2, 13), date(2026, 2, 24))])
        r = clock.read(start=date(2026, 2, 12), limit=10, as_of=date(2026, 3, 2))
        assert r.deadline == date(2026, 3, 6)
        assert (r.used, r.left, r.stopped_days) == (6, 4, 2)  # used: 13, 25, 26, 27, 28, 2 Mar

    def test_an_open_stop_keeps_the_time_left_and_projects_the_deadline(self) -> None:
        # Stop ordered Tue 24, still open on Fri 27: 25-27 stopped; 3 days used (13, 14, 24), 7 kept.
        clock = Clock(CAL, [Stop(date(2026, 2, 24))])
        r = clock.read(start=date(2026, 2, 12), limit=10, as_of=date(2026, 2, 27))
        assert (r.used, r.left, r.stopped_days) == (3, 7, 3)
        assert r.deadline == date(2026, 3, 9)  # if the clock restarts on Sat 28
        assert r.state is ClockState.STOPPED

    def test_a_stop_ordered_and_lifted_the_same_day_stops_nothing(self) -> None:
        clock = Clock(CAL, [Stop(date(2026, 2, 24), date(2026, 2, 24))])
        assert clock.deadline(date(2026, 2, 12), 10, as_of=date(2026, 3, 2))[0] == date(2026, 3, 4)


class TestNationalDay:
    def test_ten_days_from_the_monday_before(self) -> None:
        # Tue 29 Sep (1), Wed 30 (2), 1-7 Oct off, Thu 8 (3), Fri 9 (4), Sat 10 make-up (5),
        # Mon 12 (6), 13 (7), 14 (8), 15 (9), Fri 16 (10).
        assert Clock(CAL).deadline(date(2026, 9, 28), 10, as_of=date(2026, 9, 28))[0] == date(2026, 10, 16)

    def test_the_make_up_sunday_and_the_mid_autumn_friday(self) -> None:
        # From Fri 18 Sep: Sun 20 make-up (1), 21 (2), 22 (3), 23 (4), 24 (5), Fri 25 Mid-Autumn off, Mon 28 (6).
        assert Clock(CAL).deadline(date(2026, 9, 18), 6, as_of=date(2026, 9, 18))[0] == date(2026, 9, 28)

    def test_a_special_procedure_over_the_holiday(self) -> None:
        # Ordered Wed 30 Sep, ended Fri 9 Oct: stopped 8 and 9 Oct (2 working days).
        # 29 (1), 30 (2), Sat 10 (3), 12 (4), 13 (5), 14 (6), 15 (7), 16 (8), Mon 19 (9), Tue 20 (10).
        clock = Clock(CAL, [Stop(date(2026, 9, 30), date(2026, 10, 9))])
        r = clock.read(start=date(2026, 9, 28), limit=10, as_of=date(2026, 10, 12))
        assert r.deadline == date(2026, 10, 20)
        assert (r.used, r.stopped_days) == (4, 2)  # 29, 30, 10, 12

    def test_two_stops_add_up(self) -> None:
        # Supplements 29 Sep -> 30 Sep stop 30 Sep (1 day); procedure 12 Oct -> 14 Oct stops 13, 14 (2 days).
        # 29 (1), 8 (2), 9 (3), 10 (4), 12 (5), 15 (6), 16 (7), 19 (8), 20 (9), 21 (10).
        clock = Clock(CAL, [Stop(date(2026, 9, 29), date(2026, 9, 30)), Stop(date(2026, 10, 12), date(2026, 10, 14))])
        assert clock.deadline(date(2026, 9, 28), 10, as_of=date(2026, 10, 20))[0] == date(2026, 10, 21)


class TestTimeliness:
    @pytest.mark.parametrize(
        ("as_of", "left", "timeliness"),
        [
            (date(2026, 10, 13), 3, Timeliness.ON_TRACK),
            (date(2026, 10, 14), 2, Timeliness.DUE_SOON),
            (date(2026, 10, 16), 0, Timeliness.DUE_SOON),
            (date(2026, 10, 17), 0, Timeliness.OVERDUE),  # Saturday after the Friday deadline
            (date(2026, 10, 19), -1, Timeliness.OVERDUE),
        ],
    )
    def test_against_the_deadline_of_16_october(self, as_of: date, left: int, timeliness: Timeliness) -> None:
        r = Clock(CAL).read(start=date(2026, 9, 28), limit=10, as_of=as_of)
        assert r.deadline == date(2026, 10, 16)
        assert (r.left, r.timeliness) == (left, timeliness)

    def test_a_case_finished_on_time_stays_on_track_and_its_clock_freezes(self) -> None:
        r = Clock(CAL).read(start=date(2026, 9, 28), limit=10, as_of=date(2026, 11, 30), finished_on=date(2026, 10, 15))
        assert (r.timeliness, r.state, r.used) == (Timeliness.ON_TRACK, ClockState.FINISHED, 9)

    def test_a_case_finished_late_is_overdue(self) -> None:
        r = Clock(CAL).read(start=date(2026, 9, 28), limit=10, as_of=date(2026, 11, 30), finished_on=date(2026, 10, 19))
        assert r.timeliness is Timeliness.OVERDUE and r.used == 11


class TestUncoveredYear:
    def test_a_deadline_reaching_into_2027_is_provisional(self) -> None:
        assert 2027 not in CAL.covered_years, "the calendar package now covers 2027: move this test to 2028"
        # 29 (1), 30 (2), 31 (3); 2027 as expected by law: Fri 1 Jan 元旦 off, Mon 4 (4), Tue 5 (5).
        assert Clock(CAL).deadline(date(2026, 12, 28), 5, as_of=date(2026, 12, 28)) == (date(2027, 1, 5), True)

    def test_a_stop_in_the_uncovered_year_counts_only_expected_working_days(self) -> None:
        # The stop covers Fri 1 Jan (元旦, expected off) and Mon 4 Jan: one working day, Jan 5 -> Jan 6.
        clock = Clock(CAL, [Stop(date(2026, 12, 31), date(2027, 1, 4))])
        assert clock.deadline(date(2026, 12, 28), 5, as_of=date(2027, 1, 5)) == (date(2027, 1, 6), True)


class TestStageOffsets:
    def test_shares_of_a_ten_day_limit(self) -> None:
        assert stage_offsets(10, [Decimal("0.6"), Decimal("0.4")]) == [6, 10]

    def test_cumulative_rounding_half_up(self) -> None:
        assert stage_offsets(5, [Decimal("0.5"), Decimal("0.5")]) == [3, 5]
        assert stage_offsets(10, [Decimal("0.3333"), Decimal("0.3333"), Decimal("0.3334")]) == [3, 7, 10]

    def test_a_tiny_share_still_gets_a_day(self) -> None:
        assert stage_offsets(3, [Decimal("0.1"), Decimal("0.9")]) == [1, 3]

    def test_shares_must_add_up_to_one(self) -> None:
        with pytest.raises(ValueError, match="add up"):
            stage_offsets(10, [Decimal("0.5"), Decimal("0.4")])
        with pytest.raises(ValueError, match="positive"):
            stage_offsets(10, [Decimal("1.2"), Decimal("-0.2")])
