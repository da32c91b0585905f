"""Halves and years built from their parts: flows summed, stocks the last part's, ratios from sums.

Every expected number is worked by hand in the test.
"""

from __future__ import annotations

import pytest

from libs.domain.kernel.values import Period
from libs.domain.metrics.formula import parse_formula
from libs.domain.metrics.matrix import RowSpec, Sources, compute_rows
from libs.domain.metrics.periods import Provenance, build, fill_from_parts, gaps, sub_periods

P = Period.parse


def pushed(**by_period: float) -> dict[str, float]:
    """Values by period, written ``y2025Q1=120`` (a keyword cannot start with a digit)."""
    return {text[1:]: value for text, value in by_period.items()}


class TestAHalfBuiltFromItsQuarters:
    def test_a_flow_is_the_sum_of_its_quarters(self) -> None:
        # GDP 120 in Q1 and 130 in Q2: the first half produced 120 + 130 = 250.
        got = build(P("2025H1"), pushed(y2025Q1=120, y2025Q2=130), stock=False)
        assert (got.value, got.built, got.missing) == (250.0, True, ())

    def test_a_stock_is_its_last_quarter_s_level(self) -> None:
        # Employment 900 at the end of March and 950 at the end of June: the half ends in June, 950.
        got = build(P("2025H1"), pushed(y2025Q1=900, y2025Q2=950), stock=True)
        assert (got.value, got.built) == (950.0, True)
        # The first quarter's level does not matter for the half's end.
        assert build(P("2025H1"), pushed(y2025Q2=950), stock=True).value == 950.0

    def test_a_ratio_is_recomputed_from_the_summed_components_never_averaged(self) -> None:
        # R&D 3 and 5, GDP 120 and 130: the half's intensity is (3 + 5) / (120 + 130) * 100 = 3.2 %,
        # not the mean of the quarters' 2.5 % and 3.846 % (3.173 %).
        quarters = {
            "rd": pushed(y2025Q1=3, y2025Q2=5),
            "gdp": pushed(y2025Q1=120, y2025Q2=130),
        }
        values: dict[str, dict[str, float]] = {}
        cells = [("z", "rd"), ("z", "gdp")]
        sources = fill_from_parts(P("2025H1"), values, cells, {("z", c): v for c, v in quarters.items()}, set())
        rows = compute_rows(
            [RowSpec("z", "Z", "130705")],
            values,
            {},
            {"rdi": parse_formula("rd / gdp * 100")},
            ["rdi", "rd", "gdp"],
            Sources(sources, Provenance()),
        )
        assert rows[0].values == {"rdi": pytest.approx(3.2), "rd": 8.0, "gdp": 250.0}
        assert rows[0].built == ["rdi", "rd", "gdp"] and rows[0].missing == {}

    def test_a_missing_quarter_makes_the_half_missing_and_says_which(self) -> None:
        got = build(P("2025H1"), pushed(y2025Q1=120), stock=False)
        assert (got.value, got.missing) == (None, ("2025Q2",))

    def test_a_value_pushed_for_the_half_itself_wins(self) -> None:
        got = build(P("2025H1"), pushed(y2025H1=260, y2025Q1=120, y2025Q2=130), stock=False)
        assert (got.value, got.built) == (260.0, False)


class TestAYearBuiltFromItsParts:
    def test_from_its_halves_each_pushed_or_built(self) -> None:
        # H1 pushed 250; H2 from Q3 140 + Q4 160 = 300; the year 250 + 300 = 550.
        got = build(P("2025"), pushed(y2025H1=250, y2025Q3=140, y2025Q4=160), stock=False)
        assert (got.value, got.built) == (550.0, True)

    def test_from_its_four_quarters(self) -> None:
        # 120 + 130 + 140 + 160 = 550.
        got = build(P("2025"), pushed(y2025Q1=120, y2025Q2=130, y2025Q3=140, y2025Q4=160), stock=False)
        assert got.value == 550.0

    def test_a_stock_year_is_the_level_at_the_end_of_its_last_quarter(self) -> None:
        got = build(P("2025"), pushed(y2025H1=950, y2025Q3=970, y2025Q4=990), stock=True)
        assert got.value == 990.0

    def test_what_lacks_is_said_in_the_coarsest_periods_lacking_everything(self) -> None:
        # Nothing of the first half; the third quarter only of the second.
        got = build(P("2025"), pushed(y2025Q3=140), stock=False)
        assert (got.value, got.missing) == (None, ("2025H1", "2025Q4"))
        assert build(P("2025"), {}, stock=False).missing == ("2025",)

    def test_sub_periods_are_the_halves_and_their_quarters(self) -> None:
        assert [str(p) for p in sub_periods(P("2025"))] == ["2025H1", "2025Q1", "2025Q2", "2025H2", "2025Q3", "2025Q4"]
        assert sub_periods(P("2025Q3")) == []


class TestTheMatrixRowsSayWhatWasBuiltAndWhatLacks:
    def test_missing_cells_are_found_then_built_or_explained(self) -> None:
        values = {"x": {"gdp": 1000.0, "rd": 20.0}, "y": {"gdp": 10.0}}
        cells = gaps(values, ["x", "y", "w"], ["gdp", "rd"], read=2)
        assert cells == [("y", "rd"), ("w", "gdp"), ("w", "rd")]
        parts = {("y", "rd"): pushed(y2025H1=1), ("w", "gdp"): pushed(y2025H1=4, y2025H2=6)}
        sources = fill_from_parts(P("2025"), values, cells, parts, set())
        assert values["w"] == {"gdp": 10.0}
        assert sources.built == {"w": {"gdp"}}
        assert sources.missing == {"y": {"rd": ("2025H2",)}, "w": {"rd": ("2025",)}}

    def test_a_derived_value_lists_what_its_components_and_its_city_lack(self) -> None:
        zones = Provenance(missing={"y": {"rd": ("2025H2",)}})
        cities = Provenance(missing={"130700": {"gdp": ("2025Q4",)}})
        formulas = {"rdi": parse_formula("rd / gdp * 100"), "share": parse_formula("gdp / city(gdp) * 100")}
        rows = compute_rows(
            [RowSpec("y", "Y", "130705")],
            {"y": {"gdp": 10.0}},
            {},
            formulas,
            ["rdi", "share", "rd"],
            Sources(zones, cities),
        )
        assert rows[0].missing == {
            "rdi": ["rd 2025H2"],
            "share": ["city(gdp) 2025Q4"],
            "rd": ["rd 2025H2"],
        }

    def test_proforma_adds_a_predecessor_s_built_value(self) -> None:
        # The successor pushed its year (1000); the predecessor only its halves (200 + 300 = 500).
        values = {"x": {"gdp": 1000.0}}
        cells = gaps(values, ["x", "d"], ["gdp"], read=1)
        sources = fill_from_parts(P("2015"), values, cells, {("d", "gdp"): pushed(y2015H1=200, y2015H2=300)}, set())
        rows = compute_rows(
            [RowSpec("x", "X", "130705", ("d",))], values, {}, {}, ["gdp"], Sources(sources, Provenance())
        )
        assert rows[0].values == {"gdp": 1500.0} and rows[0].proforma_from == ["d"]
        assert rows[0].built == ["gdp"]
