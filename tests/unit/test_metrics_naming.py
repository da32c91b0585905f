"""How files name indicators and units, and how a conflict's text says where it is."""

from __future__ import annotations

from libs.domain.metrics.catalog import SEED_INDICATORS
from libs.domain.metrics.contracts import IndicatorRead
from libs.domain.metrics.messages import Text, duplicate_row
from libs.domain.metrics.naming import close_matches, named
from libs.domain.metrics.units import accepted_units


def catalog(*extra: tuple[str, str]) -> dict[str, IndicatorRead]:
    seeds = [(i.code, i.name_zh) for i in SEED_INDICATORS[:3]] + list(extra)  # gdp, fiscal_revenue, tax_revenue
    return {
        code: IndicatorRead.model_validate(
            {
                "code": code,
                "name_zh": zh,
                "name_en": code,
                "unit": "万元",
                "kind": "base",
                "direction": "higher_is_better",
                "period_types": ["year"],
                "version": 1,
                "required": True,
                "created_at": "2026-01-01T00:00:00Z",
            }
        )
        for code, zh in seeds
    }


class TestAnIndicatorIsNamed:
    def test_by_code_by_chinese_name_or_as_the_template_writes_it(self) -> None:
        known = catalog()
        assert named("gdp", known) == ["gdp"]
        assert named(" 财政收入 ", known) == ["fiscal_revenue"]
        assert named("税收收入（tax_revenue）", known) == ["tax_revenue"]
        assert named("Tax (tax_revenue)", known) == ["tax_revenue"]
        assert named("没有", known) == [] and named("x（nothing）", known) == []

    def test_a_name_two_indicators_carry_names_both(self) -> None:
        assert named("示例", catalog(("b", "示例"), ("a", "示例"))) == ["a", "b"]

    def test_an_unknown_name_gets_its_close_matches_labelled(self) -> None:
        # 财政收人 differs from 财政收入 in one character of four: ratio 2*3/8 = 0.75
        assert close_matches("财政收人", catalog()) == ["fiscal_revenue（财政收入）"]
        assert close_matches("完全无关", catalog()) == []


class TestAcceptedUnits:
    def test_every_unit_of_the_dimension_smallest_first(self) -> None:
        assert accepted_units("万美元") == ["美元", "千美元", "万美元", "百万美元", "亿美元"]
        assert accepted_units("%") == ["‰", "%"]  # ‰ is a tenth of %

    def test_a_unit_outside_the_table_accepts_only_itself(self) -> None:
        assert accepted_units("万元/亩") == ["万元/亩"]


class TestAText:
    def test_reads_chinese_first_then_english(self) -> None:
        assert str(duplicate_row(2)) == "与第 2 行的主体、指标、期间相同 / same subject, indicator, period as row 2"

    def test_says_the_row_and_column_of_a_file_only(self) -> None:
        text = Text("错", "wrong")
        assert str(text.at(7, "数值")) == "第 7 行“数值”列：错 / row 7, column 数值: wrong"
        assert str(text.at(None, "数值")) == "错 / wrong"
