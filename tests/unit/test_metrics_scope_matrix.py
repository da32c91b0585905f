"""Who may push a zone's values, whether a zone reports a period, and the pro-forma matrix rows."""

from __future__ import annotations

from datetime import date

import pytest

from libs.domain.kernel.values import Period
from libs.domain.metrics.formula import parse_formula
from libs.domain.metrics.matrix import RowSpec, compute_rows, proforma_predecessors
from libs.domain.metrics.scope import existence_fault, managing_divisions
from libs.domain.registry.contracts import LineageLink
from tests.metrics.builders import MERGE_DAY, zone

DONGSHAN = [
    zone("d", "东山", authority="130700", entrusted_to="130721", valid_to=MERGE_DAY),
    zone("d", "东山", authority="130700", entrusted_to="130721", status="merged", valid_from=MERGE_DAY),
]


class TestWhetherAZoneReportsAPeriod:
    def test_a_zone_merged_during_the_period_no_longer_reports_it(self) -> None:
        assert existence_fault(DONGSHAN, Period.parse("2015")) is None
        assert existence_fault(DONGSHAN, Period.parse("2016Q3")) is None  # ends 30 Sep, before the merger
        assert existence_fault(DONGSHAN, Period.parse("2016")) == "zone_ended"

    def test_a_zone_established_during_the_period_reports_all_of_it(self) -> None:
        huaian = [zone("h", "怀安", authority="130728", valid_from=MERGE_DAY)]
        assert existence_fault(huaian, Period.parse("2016")) is None
        assert existence_fault(huaian, Period.parse("2016Q3")) == "zone_not_existing"


class TestManagingDivisions:
    def test_authority_and_entrustment_during_the_period(self) -> None:
        assert managing_divisions(DONGSHAN, Period.parse("2015")) == {"130700", "130721"}

    def test_a_transfer_mid_period_counts_both(self) -> None:
        states = [
            zone("x", "X", authority="130700", valid_to=date(2017, 7, 1)),
            zone("x", "X", authority="130728", valid_from=date(2017, 7, 1)),
        ]
        assert managing_divisions(states, Period.parse("2017")) == {"130700", "130728"}
        assert managing_divisions(states, Period.parse("2017H1")) == {"130700"}


class TestMatrixRows:
    def test_proforma_sums_components_then_computes_ratios(self) -> None:
        link = LineageLink(state=DONGSHAN[0], on=MERGE_DAY, operation="merge", reorganisation=1, via="x")
        assert proforma_predecessors([link], Period.parse("2015").end) == ["d"]
        assert proforma_predecessors([link], Period.parse("2016").end) == []
        rows = compute_rows(
            [RowSpec("x", "宣化", "130705", ("d",))],
            {"x": {"gdp": 1000.0, "rd": 20.0}, "d": {"gdp": 500.0, "rd": 30.0}},
            {"130700": {"gdp": 10000.0}},
            {"rdi": parse_formula("rd / gdp * 100"), "share": parse_formula("gdp / city(gdp) * 100")},
            ["gdp", "rdi", "share", "employment"],
        )
        assert rows[0].values == {"gdp": 1500.0, "rdi": pytest.approx(50 / 15), "share": 15.0, "employment": None}
        assert rows[0].proforma_from == ["d"]

    def test_a_split_link_is_not_added(self) -> None:
        link = LineageLink(state=DONGSHAN[0], on=MERGE_DAY, operation="split", reorganisation=1, via="x")
        assert proforma_predecessors([link], Period.parse("2015").end) == []
