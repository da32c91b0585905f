"""The seed indicator catalog: every indicator of docs/domain.md#indicators-and-targets
(一(三), 十三, 十八) and its components.

Ratios are derived indicators over additive components, so a merged zone's ratio is always
the ratio of summed components. Shares of the city use ``city(code)``: the same component
pushed for the city's own division (e.g. ``{"division": "130700"}``).

``CONSISTENCY_RULES`` names the parts that can never exceed their whole; the quality checks
read them.
"""

from __future__ import annotations

from dataclasses import dataclass

from libs.domain.metrics.contracts import IndicatorCreate

_ALL = ["year", "half", "quarter"]


def _base(
    code: str,
    zh: str,
    en: str,
    unit: str,
    *,
    kind: str = "base",
    periods: list[str] | None = None,
    required: bool = True,
) -> IndicatorCreate:
    return IndicatorCreate.model_validate(
        {
            "code": code,
            "name_zh": zh,
            "name_en": en,
            "unit": unit,
            "kind": kind,
            "direction": "higher_is_better",
            "period_types": periods or _ALL,
            "min": 0,
            "max": None,
            "formula": None,
            "required": required,
        }
    )


def _derived(
    code: str,
    zh: str,
    en: str,
    unit: str,
    formula: str,
    *,
    lower_is_better: bool = False,
    periods: list[str] | None = None,
    max_: int | None = None,
) -> IndicatorCreate:
    return IndicatorCreate.model_validate(
        {
            "code": code,
            "name_zh": zh,
            "name_en": en,
            "unit": unit,
            "kind": "derived",
            "direction": "lower_is_better" if lower_is_better else "higher_is_better",
            "period_types": periods or _ALL,
            "min": 0,
            "max": max_,
            "formula": formula,
        }
    )


SEED_INDICATORS: tuple[IndicatorCreate, ...] = (
    # additive flows over the period
    _base("gdp", "地区生产总值", "Gross domestic product", "万元"),
    _base("fiscal_revenue", "财政收入", "Fiscal revenue", "万元"),
    _base("tax_revenue", "税收收入", "Tax revenue", "万元"),
    _base("rd_spending", "研究与试验发展经费支出", "R&D spending", "万元"),
    _base("industrial_value_added", "规模以上工业增加值", "Above-scale industrial value added", "万元"),
    _base("high_tech_value_added", "高新技术产业增加值", "High-tech industry value added", "万元"),
    _base("foreign_investment_used", "实际利用外资", "Actual foreign investment used", "万美元"),
    _base("exports", "外贸出口总额", "Exports", "万美元"),
    _base("energy_consumption", "综合能源消费量", "Energy consumption", "吨标准煤"),
    _base("solid_waste_generated", "一般工业固体废物产生量", "Industrial solid waste generated", "吨"),
    _base("solid_waste_reused", "一般工业固体废物综合利用量", "Industrial solid waste reused", "吨"),
    _base("sewage_generated", "污水产生量", "Sewage generated", "万吨"),
    _base("sewage_treated", "污水集中处理量", "Sewage centrally treated", "万吨"),
    _base("main_business_revenue", "主营业务收入", "Main business revenue", "万元"),
    _base("dominant_industry_revenue", "主导产业主营业务收入", "Dominant-industry main business revenue", "万元"),
    # additive levels at the period's end
    _base("employment", "从业人员", "Employment", "人", kind="stock"),
    _base("land_area_mu", "已开发土地面积", "Developed land", "亩", kind="stock"),
    _base(
        "fixed_asset_investment_cumulative",
        "累计固定资产投资",
        "Cumulative fixed-asset investment",
        "万元",
        kind="stock",
    ),
    # ratios, always from summed components
    _derived("rd_intensity", "R&D经费支出占地区生产总值比重", "R&D spending / GDP", "%", "rd_spending / gdp * 100"),
    _derived(
        "high_tech_share",
        "高新技术产业增加值占规模以上工业增加值比重",
        "High-tech value added / above-scale industrial value added",
        "%",
        "high_tech_value_added / industrial_value_added * 100",
        max_=100,
    ),
    _derived(
        "investment_intensity",
        "投资强度",
        "Investment intensity (cumulative fixed-asset investment per mu)",
        "万元/亩",
        "fixed_asset_investment_cumulative / land_area_mu",
    ),
    _derived("tax_per_mu", "亩均税收", "Tax revenue per mu", "万元/亩", "tax_revenue / land_area_mu", periods=["year"]),
    _derived(
        "energy_intensity",
        "单位工业增加值能耗",
        "Energy per 10k yuan of industrial value added",
        "吨标准煤/万元",
        "energy_consumption / industrial_value_added",
        lower_is_better=True,
    ),
    _derived(
        "solid_waste_reuse_rate",
        "工业固体废物综合利用率",
        "Industrial solid waste reuse rate",
        "%",
        "solid_waste_reused / solid_waste_generated * 100",
        max_=100,
    ),
    _derived(
        "sewage_treatment_rate",
        "污水集中处理率",
        "Sewage centrally treated",
        "%",
        "sewage_treated / sewage_generated * 100",
        max_=100,
    ),
    _derived(
        "dominant_industry_share",
        "主导产业主营业务收入占比",
        "Dominant-industry revenue share",
        "%",
        "dominant_industry_revenue / main_business_revenue * 100",
        max_=100,
    ),
    _derived(
        "gdp_share_of_city", "地区生产总值占全市比重", "GDP share of the city", "%", "gdp / city(gdp) * 100", max_=100
    ),
    _derived(
        "fiscal_revenue_share_of_city",
        "财政收入占全市比重",
        "Fiscal revenue share of the city",
        "%",
        "fiscal_revenue / city(fiscal_revenue) * 100",
        max_=100,
    ),
    _derived(
        "foreign_investment_share_of_city",
        "实际利用外资占全市比重",
        "Foreign investment used, share of the city",
        "%",
        "foreign_investment_used / city(foreign_investment_used) * 100",
        max_=100,
    ),
    _derived(
        "exports_share_of_city",
        "外贸出口占全市比重",
        "Exports, share of the city",
        "%",
        "exports / city(exports) * 100",
        max_=100,
    ),
)
"""Every indicator the catalog starts with (version 1 of each)."""


@dataclass(frozen=True, slots=True)
class PartOfWhole:
    """A consistency rule: ``part`` can never exceed ``whole`` for the same subject and period."""

    part: str
    whole: str


CONSISTENCY_RULES: tuple[PartOfWhole, ...] = (
    PartOfWhole("solid_waste_reused", "solid_waste_generated"),
    PartOfWhole("sewage_treated", "sewage_generated"),
    PartOfWhole("high_tech_value_added", "industrial_value_added"),
    PartOfWhole("dominant_industry_revenue", "main_business_revenue"),
)
"""Parts that can never exceed their whole (shares computed from them would pass 100%)."""


def seed_codes() -> list[str]:
    """The codes of the seed catalog, in catalog order."""
    return [i.code for i in SEED_INDICATORS]
