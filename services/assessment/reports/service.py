"""Reports computed live from the registry and the metrics service (nothing stored)."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from datetime import date
from decimal import Decimal
from typing import NamedTuple

from libs.domain.assessment.contracts import (
    IndicatorRanking,
    IndicatorRankRow,
    RankingsRead,
    TargetProgressItem,
    TargetProgressRead,
    TargetProjection,
)
from libs.domain.assessment.methodology import PERIOD_TYPE_ZH
from libs.domain.assessment.scoring import competition_ranks
from libs.domain.assessment.targets import CITY_TARGETS, YearTotals, evaluate, target_indicators, totals, years_needed
from libs.domain.clients.metrics import MetricsClient
from libs.domain.clients.registry import RegistryClient
from libs.domain.kernel.errors import Unprocessable
from libs.domain.kernel.i18n import Text
from libs.domain.kernel.values import Period, ZoneKind, ZoneStatus
from libs.domain.metrics.contracts import IndicatorRead
from services.assessment.reports import bulletin_render as render
from services.assessment.reports.bulletin_chart import Bar

MAIN_INDICATORS = (
    "gdp",
    "fiscal_revenue",
    "tax_revenue",
    "foreign_investment_used",
    "exports",
    "rd_intensity",
    "high_tech_share",
    "investment_intensity",
    "tax_per_mu",
)
"""The main indicators of the half-year bulletin when none are named (those the catalog has)."""

MAX_INDICATORS = 40


def _choose(catalog: Sequence[IndicatorRead], asked: list[str] | None, period: Period) -> list[IndicatorRead]:
    by_code = {i.code: i for i in catalog}
    if not asked:
        chosen = [by_code[c] for c in MAIN_INDICATORS if c in by_code and period.type in by_code[c].period_types]
        if not chosen:
            raise Unprocessable(
                Text(
                    "请指定参与排名的指标：默认的主要指标均不在指标目录中",
                    "name the indicators to rank: none of the default main indicators is in the metrics catalog",
                ),
                code="no_default_indicators",
                errors=[
                    {
                        "loc": ["query", "indicators"],
                        "msg": Text("没有可用的默认指标", "no default indicator available"),
                        "type": "missing",
                        "code": "missing",
                    }
                ],
            )
        return chosen
    faults = []
    for i, code in enumerate(asked):
        info = by_code.get(code)
        if info is None:
            faults.append(
                {
                    "loc": ["query", "indicators", i],
                    "msg": Text(f"未知指标 {code!r}", f"unknown indicator {code!r}"),
                    "type": "unknown",
                    "code": "unknown",
                }
            )
        elif period.type not in info.period_types:
            faults.append(
                {
                    "loc": ["query", "indicators", i],
                    "msg": Text(
                        f"{code} 不按{PERIOD_TYPE_ZH.get(period.type, period.type)}报送",
                        f"{code} is not reported per {period.type}",
                    ),
                    "type": "period",
                    "code": "period",
                }
            )
    if faults:
        raise Unprocessable(
            Text(
                f"{len(faults)} 项指标无法在 {period} 排名", f"{len(faults)} indicator(s) cannot be ranked for {period}"
            ),
            code="indicators_not_rankable",
            errors=faults,
        )
    return [by_code[c] for c in dict.fromkeys(asked)]


class _Zone(NamedTuple):
    """A zone ranked: its id and name."""

    id: str
    name: str


def _ranking(
    info: IndicatorRead,
    refs: Sequence[_Zone],
    now_rows: Mapping[str, Mapping[str, float | None]],
    before_rows: Mapping[str, Mapping[str, float | None]],
) -> IndicatorRanking:
    """One indicator ranked across ``refs`` now and in the previous period, with each zone's change."""
    higher = info.direction == "higher_is_better"
    values = [now_rows.get(z, {}).get(info.code) for z, _ in refs]
    earlier = [before_rows.get(z, {}).get(info.code) for z, _ in refs]
    ranks = competition_ranks(values, descending=higher)
    earlier_ranks = competition_ranks(earlier, descending=higher)
    rows = []
    for (zone, name), value, rank, prev_value, prev_rank in zip(
        refs, values, ranks, earlier, earlier_ranks, strict=True
    ):
        change = None if rank is None or prev_rank is None else prev_rank - rank
        movement = None
        if rank is not None:
            movement = "new" if prev_rank is None else "up" if change and change > 0 else "down" if change else "same"
        rows.append(
            IndicatorRankRow(
                zone_id=zone,
                name=name,
                value=value,
                rank=rank,
                previous_value=prev_value,
                previous_rank=prev_rank,
                rank_change=change,
                movement=movement,
            )
        )
    rows.sort(key=lambda r: (r.rank is None, r.rank or 0, r.name))
    return IndicatorRanking(indicator=info.code, name=info.name_zh, unit=info.unit, direction=info.direction, rows=rows)


async def rankings(
    *, registry: RegistryClient, metrics: MetricsClient, period: Period, kind: ZoneKind, indicators: list[str] | None
) -> RankingsRead:
    """Each indicator ranked on its own across the zones of ``kind``, with the change since the previous period.

    The previous period's values are asked for the same zones (as of this period's end, with
    pro-forma lineage): a zone formed by a merger is compared with its predecessors' summed
    components, so the change is lineage-aware.
    """
    current = period
    if indicators is not None and len(indicators) > MAX_INDICATORS:
        raise Unprocessable(
            Text(f"每期通报至多 {MAX_INDICATORS} 项指标", f"at most {MAX_INDICATORS} indicators per bulletin"),
            code="too_many_indicators",
            errors=[
                {
                    "loc": ["query", "indicators"],
                    "msg": Text("指标过多", "too many"),
                    "type": "too_many",
                    "code": "too_many",
                }
            ],
        )
    chosen = _choose(await metrics.indicators(), indicators, current)
    codes = [i.code for i in chosen]
    previous = current.previous()
    as_of = current.end
    zones, now, before = await asyncio.gather(
        registry.list_zones(as_of=as_of, kind=kind, status=ZoneStatus.ACTIVE),
        metrics.matrix(period=str(current), indicators=codes, kind=kind.value, as_of=as_of, lineage="proforma"),
        metrics.matrix(period=str(previous), indicators=codes, kind=kind.value, as_of=as_of, lineage="proforma"),
    )
    refs = sorted((_Zone(z.id, z.name) for z in zones), key=lambda t: t[0])
    now_rows = {r.zone: r.values for r in now.rows}
    before_rows = {r.zone: r.values for r in before.rows}
    out = [_ranking(info, refs, now_rows, before_rows) for info in chosen]
    return RankingsRead(
        period=str(current),
        previous_period=str(previous),
        kind=kind,
        as_of=as_of,
        indicators=out,
        notes=[
            "each indicator is ranked on its own (standard competition ranking on the value rounded to 6 decimals)",
            f"changes compare with {previous} values of the same zones as of {as_of} (pro-forma lineage: a merged "
            "zone is compared with its predecessors' summed components)",
        ],
    )


def _float(value: Decimal | None) -> float | None:
    """A value as the ranking computed it (the answer holds it as the decimal of its float)."""
    return None if value is None else float(value)


def rankings_bulletin(report: RankingsRead) -> render.Bulletin:
    """The half-year bulletin of the main indicators, ready to render."""
    sections = []
    columns = ["排名", "开发区", "数值", "单位", "上期数值", "上期排名", "名次变化"]
    for ranking in report.indicators:
        rows: list[list[render.Cell]] = [
            [
                r.rank,
                r.name,
                _float(r.value),
                ranking.unit,
                _float(r.previous_value),
                r.previous_rank,
                render.change_text(r.rank_change, r.movement),
            ]
            for r in ranking.rows
        ]
        chart = [Bar(r.name, _float(r.value), r.rank_change) for r in ranking.rows if r.rank is not None]
        direction = "（数值越低越好）" if ranking.direction == "lower_is_better" else ""
        sections.append(
            render.Section(
                f"{ranking.name}（{ranking.indicator}）{direction}",
                columns,
                rows,
                chart=chart,
                value_label=f"{ranking.name}（{ranking.unit}）",
            )
        )
    period, previous = Period.parse(report.period).label_zh, Period.parse(report.previous_period).label_zh
    kind_zh = render.KIND_ZH.get(report.kind.value, report.kind.value)
    return render.Bulletin(
        title=f"{period} 开发区主要指标排名通报（{kind_zh}）",
        subtitle=f"对比期间：{previous}；开发区登记日期：{report.as_of.isoformat()}",
        sections=sections,
        notes=[
            "每项指标单独排名，采用并列排名（1、2、2、4）；名次变化 = 上期排名 − 本期排名。",
            "上期数值按本期开发区口径（合并开发区含其前身）计算。",
        ],
    )


async def targets_progress(*, metrics: MetricsClient, year: int) -> TargetProgressRead:
    """The city's 2018 and 2020 targets evaluated from the zones' data for ``year``, with projections."""
    catalog = {i.code: i for i in await metrics.indicators()}
    wanted = target_indicators()
    codes = [c for c in wanted if c in catalog and "year" in catalog[c].period_types]
    absent = [c for c in wanted if c not in codes]
    years = years_needed(CITY_TARGETS, year)
    gate = asyncio.Semaphore(4)

    async def one(y: int) -> tuple[int, YearTotals | None]:
        if not codes:
            return y, None
        async with gate:
            matrix = await metrics.matrix(
                period=str(y), indicators=codes, kind=None, as_of=date(y, 12, 31), lineage="proforma"
            )
        rows = [r.values for r in matrix.rows]
        if not rows or all(v is None for r in rows for v in r.values()):
            return y, None
        return y, totals(rows, codes)

    series = {y: t for y, t in await asyncio.gather(*(one(y) for y in years)) if t is not None}
    items = []
    for progress in evaluate(CITY_TARGETS, series, year):
        t = progress.target
        lacking = [c for c in t.components if c in absent]
        note = f"not evaluable: {', '.join(lacking)} not in the metrics catalog" if lacking else progress.note
        p = progress.projection
        items.append(
            TargetProgressItem(
                id=t.id,
                title_zh=t.title_zh,
                title_en=t.title_en,
                target_year=t.target_year,
                comparator=t.comparator,
                target=t.threshold,
                unit=t.unit,
                value=progress.value,
                met=progress.met,
                coverage=progress.coverage,
                projection=None
                if p is None
                else TargetProjection(
                    year=p.year, value=p.value, on_track=p.on_track, method=p.method, basis_years=list(p.basis_years)
                ),
                note=note,
            )
        )
    return TargetProgressRead(
        year=year,
        as_of=date(year, 12, 31),
        items=items,
        notes=[
            "measured over every zone active at each year's end (both kinds); ratios are ratios of summed components",
            "shares of the city sum each zone's share-of-city value (component ÷ the city's own total × 100)",
            f"years with data: {', '.join(str(y) for y in sorted(series)) or 'none'}",
        ],
    )
