"""Quality rules against hand-computed values.

Modified z-score: Iglewicz & Hoaglin (1993), "How to Detect and Handle Outliers",
M = 0.6745 (x − median) / MAD, outliers beyond 3.5. Benford: P(d) = log10(1 + 1/d).
"""

from __future__ import annotations

import math
from decimal import Decimal

import pytest

from libs.domain.metrics.catalog import PartOfWhole
from libs.domain.metrics.quality import (
    BENFORD_PROBABILITIES,
    benford_test,
    first_digit,
    growth_outliers,
    parts_exceeding_wholes,
    robust_z_scores,
)


class TestModifiedZScore:
    def test_one_far_value_stands_out(self) -> None:
        # median 2.3; absolute deviations 0.2, 0, 0.1, 0.1, 6.7 → MAD 0.1
        z = robust_z_scores({"a": 2.1, "b": 2.3, "c": 2.2, "d": 2.4, "e": 9.0})
        assert z["e"] == pytest.approx(0.6745 * 6.7 / 0.1)
        assert z["a"] == pytest.approx(-1.349)

    def test_no_spread_and_too_few_values_give_nothing(self) -> None:
        assert robust_z_scores({str(i): 1.0 for i in range(6)}) == {}
        assert robust_z_scores({"a": 1.0, "b": 50.0}) == {}

    def test_zero_mad_falls_back_to_the_mean_absolute_deviation(self) -> None:
        # median 1, MAD 0; mean absolute deviation (0+0+0+0+9)/5 = 1.8 → z = 9 / (1.253314 × 1.8)
        z = robust_z_scores({"a": 1.0, "b": 1.0, "c": 1.0, "d": 1.0, "e": 10.0})
        assert z["e"] == pytest.approx(9 / (1.253314 * 1.8))

    def test_growth_outliers_compare_growth_not_levels(self) -> None:
        previous = {"a": 100.0, "b": 1000.0, "c": 10.0, "d": 50.0, "e": 80.0, "f": 0.0}
        current = {"a": 110.0, "b": 1090.0, "c": 11.0, "d": 56.0, "e": 240.0, "f": 5.0}
        hits = growth_outliers(current, previous)
        assert [h.key for h in hits] == ["e"]  # 200 % against about 10 %; f has no base to grow from


class TestBenford:
    def test_the_probabilities(self) -> None:
        assert BENFORD_PROBABILITIES[0] == pytest.approx(0.30103, abs=1e-6)
        assert BENFORD_PROBABILITIES[8] == pytest.approx(0.045757, abs=1e-6)
        assert sum(BENFORD_PROBABILITIES) == pytest.approx(1.0)

    def test_first_digits(self) -> None:
        assert [first_digit(Decimal(x)) for x in ("0.00721", "-45", "1000", "0")] == [7, 4, 1, None]

    def test_values_all_starting_with_nine_do_not_conform(self) -> None:
        outcome = benford_test([Decimal(900 + i) for i in range(60)])
        assert outcome is not None
        # chi2 = Σ O²/E − n = 60² / (60 · log10(10/9)) − 60
        assert outcome.chi2 == pytest.approx(60**2 / (60 * math.log10(10 / 9)) - 60)
        assert outcome.conforms is False and outcome.observed[8] == 60

    def test_values_close_to_the_law_conform(self) -> None:
        counts = [30, 18, 12, 10, 8, 7, 6, 5, 4]
        values = [Decimal(d) * 10 for d, n in enumerate(counts, start=1) for _ in range(n)]
        outcome = benford_test(values)
        assert outcome is not None and outcome.conforms
        assert outcome.chi2 == pytest.approx(0.137, abs=0.01)

    def test_fewer_than_fifty_values_are_not_tested(self) -> None:
        assert benford_test([Decimal(1)] * 49) is None


class TestPartsAndWholes:
    def test_a_part_above_its_whole(self) -> None:
        rule = PartOfWhole("solid_waste_reused", "solid_waste_generated")
        hits = parts_exceeding_wholes(
            {
                "z1": {"solid_waste_reused": Decimal(120), "solid_waste_generated": Decimal(100)},
                "z2": {"solid_waste_reused": Decimal(80), "solid_waste_generated": Decimal(100)},
                "z3": {"solid_waste_reused": Decimal(80)},
            },
            [rule],
        )
        assert [(h.key, h.part, h.whole) for h in hits] == [("z1", Decimal(120), Decimal(100))]


class TestNoiseIsNotAnOutlier:
    def test_equal_growth_up_to_rounding_flags_nothing(self) -> None:
        previous = {k: 100.0 * (i + 1) for i, k in enumerate("abcdef")}
        current = {k: v * 1.02 for k, v in previous.items()}  # 2 % everywhere, float rounding aside
        assert growth_outliers(current, previous) == []

    def test_a_small_deviation_among_identical_growths_is_not_flagged(self) -> None:
        previous = dict.fromkeys("abcdef", 100.0)
        current = {"a": 102.0, "b": 102.0, "c": 102.0, "d": 102.0, "e": 102.0, "f": 103.0}
        assert growth_outliers(current, previous) == []  # 3 % against 2 %: 1 point, under the 5-point floor
