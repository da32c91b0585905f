"""The city's targets evaluated from zone totals (libs/domain/assessment/targets.py).

Thresholds are those of docs/domain.md#indicators-and-targets (from 张发〔2016〕12号
一(三)); the data are made up by hand so every expected value can be checked on paper.
"""

from __future__ import annotations

import pytest

from libs.domain.assessment.targets import CITY_TARGETS, Target, YearTotals, evaluate, totals, years_needed


def target(id_: str) -> Target:
    return next(t for t in CITY_TARGETS if t.id == id_)


def year(**sums: float) -> YearTotals:
    return YearTotals(zones=3, sums=sums, reporting={k: 3 for k in sums})


class TestTheTargetsAreThoseOfThePolicy:
    @pytest.mark.parametrize(
        ("id_", "threshold", "due"),
        [
            ("gdp_share_2018", 50, 2018),
            ("gdp_share_2020", 55, 2020),
            ("fiscal_share_2018", 45, 2018),
            ("rd_intensity_2020", 3, 2020),
            ("high_tech_share_2018", 23, 2018),
            ("foreign_investment_share_2020", 60, 2020),
            ("investment_intensity_2020", 250, 2020),
            ("tax_per_mu_2020", 15, 2020),
            ("solid_waste_reuse_2020", 85, 2020),
            ("sewage_treatment_2020", 100, 2020),
            ("employment_2020", 600_000, 2020),
            ("dominant_industry_share_2018", 50, 2018),
        ],
    )
    def test_threshold_and_year(self, id_: str, threshold: float, due: int) -> None:
        assert (target(id_).threshold, target(id_).target_year) == (threshold, due)

    def test_energy_must_fall_at_least_twenty_percent_below_2015(self) -> None:
        t = target("energy_intensity_2020")
        assert (t.threshold, t.comparator, t.base_year) == (-20, "<=", 2015)


class TestMeasures:
    def test_a_share_of_the_city_is_the_sum_of_the_zones_shares(self) -> None:
        # three zones with 20%, 15% and 10% of the city's GDP: together 45% < 50% (2018 target)
        (p,) = evaluate([target("gdp_share_2018")], {2018: year(gdp_share_of_city=45.0)}, 2018)
        assert p.value == 45.0 and p.met is False

    def test_a_ratio_is_a_ratio_of_sums(self) -> None:
        # R&D 3,000 over GDP 100,000 → 3.0% meets the 2020 target of 3%
        (p,) = evaluate([target("rd_intensity_2020")], {2020: year(rd_spending=3_000, gdp=100_000)}, 2020)
        assert p.value == pytest.approx(3.0) and p.met is True

    def test_growth_is_year_on_year(self) -> None:
        series = {2019: year(gdp=100_000), 2020: year(gdp=111_000)}
        (p,) = evaluate([target("gdp_growth_2020")], series, 2020)
        assert p.value == pytest.approx(11.0) and p.met is True

    def test_energy_intensity_is_compared_with_2015(self) -> None:
        # 2015: 80 t / 100 (0.8); 2020: 60 t / 100 (0.6) → −25% ≤ −20%: met
        series = {2015: year(energy_consumption=80, industrial_value_added=100),
                  2020: year(energy_consumption=60, industrial_value_added=100)}  # fmt: skip
        (p,) = evaluate([target("energy_intensity_2020")], series, 2020)
        assert p.value == pytest.approx(-25.0) and p.met is True

    def test_missing_components_make_a_target_not_evaluable(self) -> None:
        (p,) = evaluate([target("tax_per_mu_2020")], {2020: year(tax_revenue=10)}, 2020)
        assert p.value is None and p.met is None and p.note is not None


class TestProjection:
    def test_a_linear_trend_is_projected_to_the_target_year(self) -> None:
        # shares 40, 42, 44 in 2015–2017: the line reaches 46 in 2018, short of 50
        series = {y: year(gdp_share_of_city=40.0 + 2 * (y - 2015)) for y in (2015, 2016, 2017)}
        (p,) = evaluate([target("gdp_share_2018")], series, 2017)
        assert p.projection is not None
        assert p.projection.value == pytest.approx(46.0) and p.projection.on_track is False
        assert p.projection.basis_years == (2015, 2016, 2017)

    def test_growth_is_projected_by_its_mean(self) -> None:
        series = {2016: year(gdp=100.0), 2017: year(gdp=110.0), 2018: year(gdp=124.3)}  # +10%, +13%
        (p,) = evaluate([target("gdp_growth_2020")], series, 2018)
        assert p.projection is not None and p.projection.value == pytest.approx(11.5)
        assert p.projection.on_track is True

    def test_no_projection_once_the_target_year_is_reached(self) -> None:
        (p,) = evaluate([target("gdp_share_2018")], {2018: year(gdp_share_of_city=51.0)}, 2018)
        assert p.projection is None and p.met is True


class TestTotals:
    def test_sums_skip_missing_values_and_count_who_reported(self) -> None:
        t = totals([{"gdp": 1.0, "tax_revenue": None}, {"gdp": 2.5}, {"gdp": None}], ["gdp", "tax_revenue"])
        assert t.sums == {"gdp": 3.5} and t.reporting == {"gdp": 2, "tax_revenue": 0} and t.zones == 3

    def test_the_years_read_include_the_trend_and_the_base_year(self) -> None:
        years = years_needed(CITY_TARGETS, 2019)
        assert years[0] == 2014 and 2015 in years and years[-1] == 2019
