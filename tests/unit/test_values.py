"""Periods and other value objects."""

from __future__ import annotations

from datetime import date

import pytest

from libs.domain.kernel.values import Period


class TestPeriod:
    @pytest.mark.parametrize(
        ("text", "start", "end"),
        [
            ("2025", date(2025, 1, 1), date(2025, 12, 31)),
            ("2025H1", date(2025, 1, 1), date(2025, 6, 30)),
            ("2025H2", date(2025, 7, 1), date(2025, 12, 31)),
            ("2024Q1", date(2024, 1, 1), date(2024, 3, 31)),
            ("2025Q3", date(2025, 7, 1), date(2025, 9, 30)),
        ],
    )
    def test_bounds(self, text: str, start: date, end: date) -> None:
        p = Period.parse(text)
        assert (p.start, p.end, str(p)) == (start, end, text)

    @pytest.mark.parametrize("bad", ["25", "2025H3", "2025Q0", "2025-1", "", "2025q1x"])
    def test_rejects_malformed(self, bad: str) -> None:
        with pytest.raises(ValueError):
            Period.parse(bad)

    def test_previous_wraps_years(self) -> None:
        assert str(Period.parse("2025Q1").previous()) == "2024Q4"
        assert str(Period.parse("2025H1").previous()) == "2024H2"
        assert str(Period.parse("2025").previous()) == "2024"
        assert str(Period.parse("2025Q3").same_period_last_year()) == "2024Q3"

    def test_a_year_divides_into_halves_and_a_half_into_quarters(self) -> None:
        assert [str(p) for p in Period.parse("2025").parts()] == ["2025H1", "2025H2"]
        assert [str(p) for p in Period.parse("2025H2").parts()] == ["2025Q3", "2025Q4"]
        assert Period.parse("2025Q3").parts() == ()

    def test_a_period_contains_itself_and_its_sub_periods_only(self) -> None:
        year, h2, q1, q3 = (Period.parse(t) for t in ("2025", "2025H2", "2025Q1", "2025Q3"))
        assert year.contains(year) and year.contains(h2) and year.contains(q1)
        assert h2.contains(q3) and not h2.contains(q1) and not h2.contains(year)
        assert not year.contains(Period.parse("2026Q1"))

    def test_enclosing_lists_the_period_then_its_half_then_its_year(self) -> None:
        assert [str(p) for p in Period.parse("2025Q3").enclosing()] == ["2025Q3", "2025H2", "2025"]
        assert [str(p) for p in Period.parse("2025H1").enclosing()] == ["2025H1", "2025"]
        assert [str(p) for p in Period.parse("2025").enclosing()] == ["2025"]


def test_a_division_code_is_six_ascii_digits() -> None:
    from pydantic import TypeAdapter, ValidationError

    from libs.domain.kernel.values import DivisionCode

    codes = TypeAdapter(DivisionCode)
    assert codes.validate_python("130705") == "130705"
    for bad in ("030705", "13070", "1307050", "130705\n", "\uff11\uff13\uff10\uff17\uff10\uff15", "13070٥"):
        with pytest.raises(ValidationError):
            codes.validate_python(bad)


class TestAPeriodInChinese:
    @pytest.mark.parametrize(
        ("text", "label"),
        [
            ("2025", "2025年"),
            ("2025H1", "2025年上半年"),
            ("2025H2", "2025年下半年"),
            ("2025Q1", "2025年第一季度"),
            ("2025Q3", "2025年第三季度"),
            ("2025Q4", "2025年第四季度"),
        ],
    )
    def test_reads_as_an_official_text_names_it(self, text: str, label: str) -> None:
        assert Period.parse(text).label_zh == label


class TestChinaTime:
    """The fixed UTC+8 offset gives the dates the tz database gives for Asia/Shanghai."""

    def test_same_dates_as_the_tz_database(self) -> None:
        from datetime import UTC, datetime, timedelta
        from zoneinfo import ZoneInfo

        from libs.domain.kernel.values import CHINA_TIME

        shanghai = ZoneInfo("Asia/Shanghai")
        instant = datetime(1992, 1, 1, tzinfo=UTC)
        while instant.year < 2040:  # every 7 h 13 min: every hour of the day is hit, both sides of midnight
            assert instant.astimezone(CHINA_TIME).date() == instant.astimezone(shanghai).date(), instant
            instant += timedelta(hours=7, minutes=13)

    def test_midnight_in_china_is_4_pm_utc(self) -> None:
        from datetime import UTC, date, datetime

        from libs.domain.kernel.values import CHINA_TIME

        # 2026-01-01 00:00 in Beijing is 2025-12-31 16:00 UTC (UTC+8, worked out by hand).
        assert datetime(2025, 12, 31, 15, 59, tzinfo=UTC).astimezone(CHINA_TIME).date() == date(2025, 12, 31)
        assert datetime(2025, 12, 31, 16, 0, tzinfo=UTC).astimezone(CHINA_TIME).date() == date(2026, 1, 1)
