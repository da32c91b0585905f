"""The city's 2018 and 2020 targets for its zones (张发〔2016〕12号 一(三)), evaluated from the data.

Each target is a measure over *all* zones active at a year's end (both kinds), computed from
additive components so merged zones aggregate correctly:

- ``share``: the zones' share of the city, Σ over zones of each zone's share-of-city value
  (the metrics catalog derives it as component ÷ city(component) × 100, so the sum is
  Σ components ÷ city total × 100);
- ``ratio``: Σ numerator ÷ Σ denominator (× factor), e.g. R&D spending ÷ GDP × 100;
- ``sum``: Σ of a level, e.g. employment;
- ``growth``: year-on-year growth of Σ component, in %;
- ``change_vs_base``: the change of a ratio against a base year, in %.

A projection to the target year fits a least-squares line through the measure's values of up
to five most recent years with data (``growth``: their mean), so a reader sees whether the
trend reaches the target.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

Comparator = Literal[">=", "<="]
Measure = Literal["share", "ratio", "sum", "growth", "change_vs_base"]
TREND_YEARS = 5


@dataclass(frozen=True, slots=True)
class Target:
    """One target of the city: a measure, a threshold and the year it is due."""

    id: str
    title_zh: str
    title_en: str
    measure: Measure
    components: tuple[str, ...]
    target_year: int
    threshold: float
    unit: str
    comparator: Comparator = ">="
    factor: float = 1.0
    base_year: int | None = None


def _t(
    id_: str,
    zh: str,
    en: str,
    measure: Measure,
    components: tuple[str, ...],
    year: int,
    threshold: float,
    unit: str,
    *,
    comparator: Comparator = ">=",
    factor: float = 1.0,
    base_year: int | None = None,
) -> Target:
    return Target(id_, zh, en, measure, components, year, threshold, unit, comparator, factor, base_year)


CITY_TARGETS: tuple[Target, ...] = (
    _t(
        "gdp_share_2018", "开发区地区生产总值占全市比重", "Zones' share of city GDP", "share",
        ("gdp_share_of_city",), 2018, 50, "%",
    ),
    _t(
        "gdp_share_2020", "开发区地区生产总值占全市比重", "Zones' share of city GDP", "share",
        ("gdp_share_of_city",), 2020, 55, "%",
    ),
    _t(
        "gdp_growth_2020", "开发区地区生产总值年均增长", "Zones' GDP growth per year", "growth",
        ("gdp",), 2020, 10, "%",
    ),
    _t(
        "fiscal_share_2018", "开发区财政收入占全市比重", "Zones' share of city fiscal revenue", "share",
        ("fiscal_revenue_share_of_city",), 2018, 45, "%",
    ),
    _t(
        "fiscal_share_2020", "开发区财政收入占全市比重", "Zones' share of city fiscal revenue", "share",
        ("fiscal_revenue_share_of_city",), 2020, 50, "%",
    ),
    _t(
        "fiscal_growth_2020", "开发区财政收入年均增长", "Zones' fiscal revenue growth per year", "growth",
        ("fiscal_revenue",), 2020, 10, "%",
    ),
    _t(
        "rd_intensity_2018", "R&D经费支出占地区生产总值比重", "R&D spending / GDP", "ratio",
        ("rd_spending", "gdp"), 2018, 2.5, "%", factor=100,
    ),
    _t(
        "rd_intensity_2020", "R&D经费支出占地区生产总值比重", "R&D spending / GDP", "ratio",
        ("rd_spending", "gdp"), 2020, 3, "%", factor=100,
    ),
    _t(
        "high_tech_share_2018", "高新技术产业增加值占规模以上工业增加值比重",
        "High-tech value added / above-scale industrial value added", "ratio",
        ("high_tech_value_added", "industrial_value_added"), 2018, 23, "%", factor=100,
    ),
    _t(
        "high_tech_share_2020", "高新技术产业增加值占规模以上工业增加值比重",
        "High-tech value added / above-scale industrial value added", "ratio",
        ("high_tech_value_added", "industrial_value_added"), 2020, 25, "%", factor=100,
    ),
    _t(
        "foreign_investment_share_2018", "开发区实际利用外资占全市比重", "Zones' share of foreign investment used",
        "share", ("foreign_investment_share_of_city",), 2018, 55, "%",
    ),
    _t(
        "foreign_investment_share_2020", "开发区实际利用外资占全市比重", "Zones' share of foreign investment used",
        "share", ("foreign_investment_share_of_city",), 2020, 60, "%",
    ),
    _t(
        "exports_share_2018", "开发区外贸出口总额占全市比重", "Zones' share of exports", "share",
        ("exports_share_of_city",), 2018, 55, "%",
    ),
    _t(
        "exports_share_2020", "开发区外贸出口总额占全市比重", "Zones' share of exports", "share",
        ("exports_share_of_city",), 2020, 60, "%",
    ),
    _t(
        "investment_intensity_2020", "投资强度", "Investment intensity", "ratio",
        ("fixed_asset_investment_cumulative", "land_area_mu"), 2020, 250, "万元/亩",
    ),
    _t("tax_per_mu_2020", "亩均税收", "Tax per mu", "ratio", ("tax_revenue", "land_area_mu"), 2020, 15, "万元/亩"),
    _t(
        "energy_intensity_2020", "单位工业增加值能耗比2015年下降",
        "Energy per 10k yuan of industrial value added vs 2015",
        "change_vs_base", ("energy_consumption", "industrial_value_added"), 2020, -20, "%",
        comparator="<=", base_year=2015,
    ),
    _t(
        "solid_waste_reuse_2020", "工业固体废物综合利用率", "Industrial solid waste reuse rate", "ratio",
        ("solid_waste_reused", "solid_waste_generated"), 2020, 85, "%", factor=100,
    ),
    _t(
        "sewage_treatment_2020", "污水集中处理率", "Sewage centrally treated", "ratio",
        ("sewage_treated", "sewage_generated"), 2020, 100, "%", factor=100,
    ),
    _t("employment_2020", "从业人员", "Employment in the zones", "sum", ("employment",), 2020, 600_000, "人"),
    _t(
        "dominant_industry_share_2018", "主导产业主营业务收入占比", "Dominant-industry revenue share", "ratio",
        ("dominant_industry_revenue", "main_business_revenue"), 2018, 50, "%", factor=100,
    ),
)  # fmt: skip
"""The city's targets of docs/domain.md#indicators-and-targets."""


def target_indicators(targets: Sequence[Target] = CITY_TARGETS) -> list[str]:
    """Every indicator code the targets read, each once."""
    return list(dict.fromkeys(code for t in targets for code in t.components))


@dataclass(frozen=True, slots=True)
class YearTotals:
    """Σ over the zones of one year of each indicator, and how many zones reported it."""

    zones: int
    sums: Mapping[str, float]
    reporting: Mapping[str, int]


def totals(rows: Sequence[Mapping[str, float | None]], codes: Sequence[str]) -> YearTotals:
    """Sum each code over rows (a zone's values); missing values are skipped and counted."""
    sums: dict[str, float] = {}
    reporting: dict[str, int] = {}
    for code in codes:
        present = [v for v in (row.get(code) for row in rows) if v is not None and math.isfinite(v)]
        reporting[code] = len(present)
        if present:
            sums[code] = math.fsum(present)
    return YearTotals(zones=len(rows), sums=sums, reporting=reporting)


@dataclass(frozen=True, slots=True)
class Projection:
    """Where the trend leads by the target year."""

    year: int
    value: float
    on_track: bool
    method: str
    basis_years: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class Progress:
    """A target evaluated for one year."""

    target: Target
    year: int
    value: float | None
    met: bool | None
    coverage: str
    projection: Projection | None
    note: str | None = None


def _ratio(year: YearTotals, num: str, den: str) -> float | None:
    n, d = year.sums.get(num), year.sums.get(den)
    if n is None or d is None or d == 0:
        return None
    return n / d


def measure(target: Target, series: Mapping[int, YearTotals], year: int) -> float | None:
    """The target's measure for ``year`` (None when the data are not there)."""
    current = series.get(year)
    if current is None:
        return None
    if target.measure == "share":
        return current.sums.get(target.components[0])
    if target.measure == "sum":
        return current.sums.get(target.components[0])
    if target.measure == "ratio":
        r = _ratio(current, target.components[0], target.components[1])
        return None if r is None else r * target.factor
    if target.measure == "growth":
        before = series.get(year - 1)
        now, prev = current.sums.get(target.components[0]), before.sums.get(target.components[0]) if before else None
        if now is None or prev is None or prev == 0:
            return None
        return (now / prev - 1) * 100
    # change_vs_base
    assert target.base_year is not None
    base = series.get(target.base_year)
    r_now = _ratio(current, target.components[0], target.components[1])
    r_base = _ratio(base, target.components[0], target.components[1]) if base else None
    if r_now is None or r_base is None or r_base == 0:
        return None
    return (r_now / r_base - 1) * 100


def _meets(target: Target, value: float) -> bool:
    return value >= target.threshold if target.comparator == ">=" else value <= target.threshold


def evaluate(targets: Sequence[Target], series: Mapping[int, YearTotals], year: int) -> list[Progress]:
    """Each target's value for ``year``, whether it meets the target, and the trend's projection.

    ``series`` holds the zones' totals per year (the year asked, the years before it for the
    trend, and any base year).
    """
    out: list[Progress] = []
    for target in targets:
        value = measure(target, series, year)
        current = series.get(year)
        coverage = (
            ", ".join(f"{code}: {current.reporting.get(code, 0)}/{current.zones} zones" for code in target.components)
            if current
            else "no data for the year"
        )
        note = None
        if value is None:
            note = "not evaluable: a component is missing for the year" + (
                f" or for the base year {target.base_year}" if target.base_year else ""
            )
        projection: Projection | None = None
        if year < target.target_year:
            history = [
                (y, v) for y in range(year - TREND_YEARS + 1, year + 1) if (v := measure(target, series, y)) is not None
            ]
            if history:
                years = tuple(y for y, _ in history)
                values = np.array([v for _, v in history])
                if target.measure == "growth" or len(history) == 1:
                    projected = float(values.mean())
                    method = "mean of the years' growth" if target.measure == "growth" else "single year, held flat"
                else:
                    # centred on the last year: fitting on raw years (≈ 2019) loses digits
                    slope, intercept = np.polyfit(np.array(years, dtype=np.float64) - year, values, 1)
                    projected = float(slope * (target.target_year - year) + intercept)
                    method = f"least-squares line through {years[0]}–{years[-1]}"
                projection = Projection(target.target_year, projected, _meets(target, projected), method, years)
        out.append(
            Progress(
                target=target,
                year=year,
                value=value,
                met=None if value is None else _meets(target, value),
                coverage=coverage,
                projection=projection,
                note=note,
            )
        )
    return out


def years_needed(targets: Sequence[Target], year: int) -> list[int]:
    """Every year whose totals :func:`evaluate` reads for ``year``."""
    years = set(range(year - TREND_YEARS, year + 1))
    years |= {t.base_year for t in targets if t.base_year is not None}
    return sorted(years)
