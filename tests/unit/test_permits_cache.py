"""The intake's remembering calendar says exactly what the calendar it wraps says."""

from __future__ import annotations

from datetime import date, timedelta

from libs.domain.kernel.calendar import official_calendar
from libs.domain.permits.clock import Clock, Stop
from services.permits.cache import remembering


def test_every_day_is_what_the_calendar_says_twice_over() -> None:
    base = official_calendar().with_overrides({date(2026, 10, 12): (False, "停电"), date(2026, 10, 11): (True, None)})
    cal = remembering(base)
    days = [date(2026, 1, 1) + timedelta(days=i) for i in range(800)]  # into 2027, not covered yet
    assert [cal.info(d) for d in days] == [base.info(d) for d in days]
    assert [cal.info(d) for d in days] == [base.info(d) for d in days]  # the remembered answers
    assert cal.add_working_days(date(2026, 9, 28), 10) == base.add_working_days(date(2026, 9, 28), 10)


def test_a_changed_calendar_is_a_new_calendar() -> None:
    cal = remembering(official_calendar())
    assert cal.info(date(2026, 3, 4)).working is True
    changed = remembering(cal.with_overrides({date(2026, 3, 4): (False, "停电")}))
    assert changed.info(date(2026, 3, 4)).working is False
    assert cal.info(date(2026, 3, 4)).working is True


def test_clock_readings_agree() -> None:
    # Across the 2026 National Day holidays, with and without a clock stop.
    base = official_calendar()
    stops = [Stop(date(2026, 10, 13), date(2026, 10, 15))]
    for stopped in ([], stops):
        plain = Clock(base, stopped).read(start=date(2026, 9, 28), limit=10, as_of=date(2026, 10, 14))
        kept = Clock(remembering(base), stopped).read(start=date(2026, 9, 28), limit=10, as_of=date(2026, 10, 14))
        assert plain == kept


def test_remembered_counts_agree_in_both_directions() -> None:
    # Every start from Spring Festival 2026 to National Day, every limit up to 30, asked twice;
    # and counts between days either way round (a negative count when the end comes first).
    base = official_calendar()
    cal = remembering(base)
    starts = [date(2026, 2, 10) + timedelta(days=i) for i in range(0, 240, 3)]
    for _ in range(2):
        for start in starts:
            for n in range(0, 31, 5):
                assert cal.add_working_days(start, n) == base.add_working_days(start, n)
            for end in (start + timedelta(days=12), start - timedelta(days=9)):
                assert cal.working_days_between(start, end) == base.working_days_between(start, end)
    # By hand: accepted Friday 2026-02-13, 3 working days: 2-14 (Saturday, a make-up working day),
    # then the Spring Festival holiday (2-15 … 2-23), then 2-24 and 2-25.
    assert cal.add_working_days(date(2026, 2, 13), 3).deadline == date(2026, 2, 25)
