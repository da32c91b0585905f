"""Unit conversion: exact factors of the units people push (1 公顷 = 15 亩, 1 亿 = 10,000 万)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from libs.domain.metrics.units import UnitError, convert, parse_decimal


class TestConversionsAreExact:
    @pytest.mark.parametrize(
        ("value", "source", "target", "expected"),
        [
            ("1.5", "亿元", "万元", "15000"),
            ("12345", "元", "万元", "1.2345"),
            ("2", "亿美元", "万美元", "20000"),
            ("1", "公顷", "亩", "15"),  # the legal definition: 15 亩 = 1 公顷
            ("1", "平方公里", "亩", "1500"),
            ("1", "亩", "平方米", "666.666667"),  # 10000 / 15, rounded to six places
            ("3", "万吨标准煤", "吨标准煤", "30000"),
            ("2.5", "万人", "人", "25000"),
            ("7", "tce", "吨标准煤", "7"),  # an alias
            ("5", "‰", "%", "0.5"),
        ],
    )
    def test_known_units(self, value: str, source: str, target: str, expected: str) -> None:
        assert convert(Decimal(value), source, target) == Decimal(expected)

    def test_an_indicators_own_unit_matches_only_itself(self) -> None:
        assert convert(Decimal("3"), "美元(PPP)", "美元(PPP)") == Decimal("3")
        with pytest.raises(UnitError) as err:
            convert(Decimal("3"), "美元", "美元(PPP)")
        assert err.value.code == "incompatible_unit"

    def test_unknown_and_incompatible_units(self) -> None:
        with pytest.raises(UnitError) as unknown:
            convert(Decimal(1), "卢布", "万元")
        with pytest.raises(UnitError) as incompatible:
            convert(Decimal(1), "亩", "万元")
        assert (unknown.value.code, incompatible.value.code) == ("unknown_unit", "incompatible_unit")


class TestParsingNumbers:
    def test_thousand_separators_and_floats(self) -> None:
        assert parse_decimal("1,234.50") == Decimal("1234.50")
        assert parse_decimal(0.1) == Decimal("0.1")

    @pytest.mark.parametrize(
        ("text", "value"), [("1,234,567", "1234567"), ("-12,345.5", "-12345.5"), ("1，234", "1234"), ("1 234", "1234")]
    )
    def test_thousands_grouped_by_threes_are_read(self, text: str, value: str) -> None:
        assert parse_decimal(text) == Decimal(value)

    @pytest.mark.parametrize("text", ["", "abc", "NaN", "Infinity", True, "1,5", "12,34", "1,2345", ",123", "约3000"])
    def test_non_numbers_are_refused(self, text: object) -> None:
        with pytest.raises(ValueError):
            parse_decimal(text)  # type: ignore[arg-type]
