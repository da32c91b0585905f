"""Data-quality findings of a period for the statistics bureau: consistency, growth outliers, Benford."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from decimal import Decimal

from libs.domain.kernel.i18n import Text
from libs.domain.kernel.values import Period
from libs.domain.metrics.catalog import CONSISTENCY_RULES
from libs.domain.metrics.contracts import BenfordResult, QualityFinding, QualityReport
from libs.domain.metrics.matrix import RowSpec, compute_rows, proforma_predecessors
from libs.domain.metrics.quality import (
    BENFORD_ALPHA,
    BENFORD_MIN_VALUES,
    MODIFIED_Z_THRESHOLD,
    benford_test,
    growth_outliers,
    parts_exceeding_wholes,
)
from libs.domain.metrics.scope import city_of
from libs.domain.registry.contracts import ZoneRead
from services.metrics.analysis.commands import ReadContext
from services.metrics.analysis.matrix import SubjectFloats, period_floats
from services.metrics.analysis.repository import AnalysisRepository
from services.metrics.indicators.service import Catalog, load_catalog

SubjectValues = dict[str, dict[str, Decimal]]
"""Exact values, by subject id then indicator code."""


def _parts_above_wholes(
    zone_values: SubjectValues, division_values: SubjectValues, period: str
) -> list[QualityFinding]:
    """A part above its whole, for zones and divisions."""
    out: list[QualityFinding] = []
    for subject_type, values in (("zone", zone_values), ("division", division_values)):
        for hit in parts_exceeding_wholes(values, CONSISTENCY_RULES):
            out.append(
                QualityFinding(
                    rule="part_exceeds_whole",
                    zone_id=hit.key if subject_type == "zone" else None,
                    division=hit.key if subject_type == "division" else None,
                    indicator=hit.rule.part,
                    period=period,
                    message=Text(
                        f"{hit.rule.part}（{hit.part}）大于 {hit.rule.whole}（{hit.whole}）",
                        f"{hit.rule.part} ({hit.part}) exceeds {hit.rule.whole} ({hit.whole})",
                    ),
                    values={hit.rule.part: float(hit.part), hit.rule.whole: float(hit.whole)},
                )
            )
    return out


def _shares_above_100(
    catalog: Catalog, zones: Sequence[ZoneRead], floats: SubjectFloats, division_floats: SubjectFloats, period: str
) -> list[QualityFinding]:
    """A zone's share above 100% (the shares not already covered by a part/whole rule)."""
    covered = {frozenset((r.part, r.whole)) for r in CONSISTENCY_RULES}
    authority = {z.id: z.authority for z in zones}
    out: list[QualityFinding] = []
    for code, formula in sorted(catalog.formulas.items()):
        if catalog.indicators[code].unit != "%" or frozenset(formula.variables) in covered:
            continue
        for zone_id, vals in sorted(floats.items()):
            city = division_floats.get(city_of(authority.get(zone_id, "000000")), {})
            share = formula.evaluate(vals, city)
            if share is not None and share > 100:
                out.append(
                    QualityFinding(
                        rule="share_above_100",
                        zone_id=zone_id,
                        division=None,
                        indicator=code,
                        period=period,
                        message=Text(
                            f"{code} = {share:.2f}%（{formula.text}），超过 100%",
                            f"{code} = {share:.2f}% ({formula.text})",
                        ),
                        values={code: share, **{v: vals.get(v) for v in sorted(formula.variables)}},
                    )
                )
    return out


def _sums_above_totals(
    zones: Sequence[ZoneRead], zone_values: SubjectValues, division_values: SubjectValues, period: str
) -> list[QualityFinding]:
    """The zones' sum above the total of their city or county."""
    members: dict[str, list[str]] = defaultdict(list)
    for z in zones:
        members[city_of(z.authority)].append(z.id)
        if z.authority != city_of(z.authority):
            members[z.authority].append(z.id)
    out: list[QualityFinding] = []
    for division, totals in sorted(division_values.items()):
        ids = members.get(division, [])
        for code, total in sorted(totals.items()):
            parts = [zone_values[i][code] for i in ids if code in zone_values.get(i, {})]
            if not parts:
                continue
            s = sum(parts, Decimal(0))
            if s > total:
                out.append(
                    QualityFinding(
                        rule="zones_exceed_total",
                        zone_id=None,
                        division=division,
                        indicator=code,
                        period=period,
                        message=Text(
                            f"{len(parts)} 个开发区的 {code} 合计 {s}，超过 {division} 的总量 {total}",
                            f"the {len(parts)} zones' {code} add up to {s}, above the total {total} of {division}",
                        ),
                        values={"zones_sum": float(s), "total": float(total), "zones": len(parts)},
                    )
                )
    return out


async def _growth_findings(
    context: ReadContext, period: Period, zones: Sequence[ZoneRead], current: SubjectFloats, codes: Sequence[str]
) -> list[QualityFinding]:
    """Growth outliers across zones, against the previous period pro-forma so that mergers do not
    look like growth."""
    if not current or not zones:
        return []
    previous = period.same_period_last_year()
    before, _ = await period_floats(context.session, previous, codes)
    if not before:
        return []
    lineages = await context.jurisdiction.lineage_of(context.registry, [z.id for z in zones])
    specs = [
        RowSpec(z.id, z.name, z.authority, tuple(proforma_predecessors(lineages[z.id].predecessors, previous.end)))
        for z in zones
    ]
    rows = compute_rows(specs, before, {}, {}, list(codes))
    prev = {r.zone: r.values for r in rows}
    out: list[QualityFinding] = []
    for code in codes:
        cur = {z: v[code] for z, v in current.items() if code in v}
        old = {z: x for z, v in prev.items() if (x := v.get(code)) is not None}
        for hit in growth_outliers(cur, old):
            out.append(
                QualityFinding(
                    rule="growth_outlier",
                    zone_id=hit.key,
                    division=None,
                    indicator=code,
                    period=str(period),
                    message=Text(
                        f"{code} 比 {previous} 增长 {hit.growth:+.1%}（各开发区中位数 {hit.median_growth:+.1%}，"
                        f"修正 z 值 {hit.z:.1f}）",
                        f"{code} grew {hit.growth:+.1%} against {previous} (median {hit.median_growth:+.1%}, "
                        f"modified z = {hit.z:.1f})",
                    ),
                    values={
                        "current": hit.current,
                        "previous": hit.previous,
                        "growth": hit.growth,
                        "median_growth": hit.median_growth,
                        "z": hit.z,
                    },
                )
            )
    return out


def _first_digits(
    by_pusher: dict[str | None, list[Decimal]], period: str
) -> tuple[list[BenfordResult], list[QualityFinding]]:
    """The first-digit test of each pushing division's values, and a finding for each that departs."""
    benford: list[BenfordResult] = []
    findings: list[QualityFinding] = []
    for pusher, pushed in sorted(by_pusher.items(), key=lambda kv: (kv[0] is None, kv[0] or "")):
        outcome = benford_test(pushed)
        if outcome is None:
            continue
        benford.append(
            BenfordResult(
                division=pusher,
                n=outcome.n,
                chi2=outcome.chi2,
                p_value=outcome.p_value,
                mad=outcome.mad,
                observed={str(d): c for d, c in enumerate(outcome.observed, start=1)},
                conforms=outcome.conforms,
            )
        )
        if not outcome.conforms:
            findings.append(
                QualityFinding(
                    rule="benford",
                    zone_id=None,
                    division=pusher or None,
                    indicator=None,
                    period=period,
                    message=Text(
                        f"{pusher or '市级角色'}报送的 {outcome.n} 个数值的首位数字分布偏离本福特定律"
                        f"（chi2 = {outcome.chi2:.1f}，p = {outcome.p_value:.2g}）",
                        f"first digits of the {outcome.n} values pushed by {pusher or 'city-level roles'} "
                        f"depart from Benford's law (chi2 = {outcome.chi2:.1f}, p = {outcome.p_value:.2g})",
                    ),
                    values={"n": outcome.n, "chi2": outcome.chi2, "p_value": outcome.p_value, "mad": outcome.mad},
                )
            )
    return benford, findings


async def quality(period: Period, context: ReadContext) -> QualityReport:
    """Consistency findings, growth outliers across zones, and a first-digit test per pushing division."""
    per = str(period)
    catalog = await load_catalog(session=context.session)
    additive = sorted(catalog.additive)
    zone_values: SubjectValues = defaultdict(dict)
    division_values: SubjectValues = defaultdict(dict)
    by_pusher: dict[str | None, list[Decimal]] = defaultdict(list)
    for subject_type, subject_id, code, value, pusher in await AnalysisRepository(context.session).period_values(
        per, additive
    ):
        (zone_values if subject_type == "zone" else division_values)[subject_id][code] = value
        by_pusher[pusher].append(value)
    zones: list[ZoneRead] = []
    if zone_values:
        await context.jurisdiction.refresh(context.registry)
        zones = await context.jurisdiction.active_zones(context.registry, period.end)
    floats = {z: {c: float(v) for c, v in vals.items()} for z, vals in zone_values.items()}
    division_floats = {d: {c: float(v) for c, v in vals.items()} for d, vals in division_values.items()}
    benford, departures = _first_digits(by_pusher, per)
    findings = [
        *_parts_above_wholes(zone_values, division_values, per),
        *_shares_above_100(catalog, zones, floats, division_floats, per),
        *_sums_above_totals(zones, zone_values, division_values, per),
        *await _growth_findings(context, period, zones, floats, additive),
        *departures,
    ]
    return QualityReport(
        period=per,
        findings=findings,
        benford=benford,
        thresholds={
            "modified_z": MODIFIED_Z_THRESHOLD,
            "benford_min_values": BENFORD_MIN_VALUES,
            "benford_alpha": BENFORD_ALPHA,
        },
    )
