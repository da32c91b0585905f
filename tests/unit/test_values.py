"""Periods and other value objects."""

from __future__ import annotations

from datetime import date

import pytest

from libs.domain.values import Period


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


def test_a_division_code_is_six_ascii_digits() -> None:
    from pydantic import TypeAdapter, ValidationError

    from libs.domain.values import DivisionCode

    codes = TypeAdapter(DivisionCode)
    assert codes.validate_python("130705") == "130705"
    for bad in ("030705", "13070", "1307050", "130705\n", "\uff11\uff13\uff10\uff17\uff10\uff15", "13070٥"):
        with pytest.raises(ValidationError):
            codes.validate_python(bad)
