"""Use cases of the read side: the values matrix, completeness, quality findings, deadlines."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from libs.domain.kernel.contracts import Actor
from libs.domain.kernel.errors import Forbidden, Unprocessable
from libs.domain.kernel.values import Period, Role, ZoneKind, today_in_china
from libs.domain.metrics.catalog import CONSISTENCY_RULES
from libs.domain.metrics.contracts import (
    BenfordResult,
    CompletenessRead,
    DeadlineRead,
    DeadlineSet,
    DivisionCompleteness,
    MatrixIndicator,
    MatrixRead,
    MatrixRow,
    QualityFinding,
    QualityReport,
    Subject,
    ZoneCompleteness,
)
from libs.domain.metrics.formula import base_components
from libs.domain.metrics.matrix import RowSpec, compute_rows, proforma_predecessors
from libs.domain.metrics.quality import (
    BENFORD_ALPHA,
    BENFORD_MIN_VALUES,
    MODIFIED_Z_THRESHOLD,
    benford_test,
    growth_outliers,
    parts_exceeding_wholes,
)
from libs.domain.metrics.scope import city_of, reporting_division
from libs.domain.registry.contracts import ZoneRead
from services.metrics.analysis.repository import AnalysisRepository
from services.metrics.indicators.service import Catalog, load_catalog
from services.metrics.jurisdiction import Jurisdiction, Registry
from services.metrics.tables import Deadline

DEFAULT_DUE_DAYS = 30
"""Without a date set for a period, its values are due this many days after it ends."""
CHINA = ZoneInfo("Asia/Shanghai")


def _codes(catalog: Catalog, requested: Sequence[str] | None) -> list[str]:
    if not requested:
        return sorted(catalog.indicators)
    unknown = [c for c in requested if c not in catalog.indicators]
    if unknown:
        raise Unprocessable(
            f"unknown indicator(s): {', '.join(unknown)}",
            errors=[{"loc": ["query", "indicators"], "msg": f"unknown: {c}", "type": "indicator"} for c in unknown],
        )
    return list(dict.fromkeys(requested))


async def _values(
    session: AsyncSession, period: Period, codes: Sequence[str]
) -> tuple[dict[str, dict[str, float]], dict[str, dict[str, float]]]:
    """Zone values and division totals of ``period`` as floats, by subject then indicator."""
    zones: dict[str, dict[str, float]] = defaultdict(dict)
    divisions: dict[str, dict[str, float]] = defaultdict(dict)
    for subject_type, subject_id, code, value in await AnalysisRepository(session).period_floats(str(period), codes):
        (zones if subject_type == "zone" else divisions)[subject_id][code] = value
    return zones, divisions


async def matrix(
    *,
    session: AsyncSession,
    registry: Registry,
    jurisdiction: Jurisdiction,
    period: Period,
    indicators: Sequence[str] | None,
    kind: ZoneKind | None,
    as_of: date | None,
    lineage: str,
) -> MatrixRead:
    """Every zone of ``kind`` active on ``as_of`` (default: the period's end), with its values.

    One query reads the base and stock values of the period; derived values are computed from
    the components, after adding (``lineage="proforma"``) the components of the zones merged
    into each row after the period.
    """
    p = period
    catalog = await load_catalog(session=session)
    codes = _codes(catalog, indicators)
    own: set[str] = set()
    for code in codes:
        zone_codes, city_codes = base_components(code, catalog.formulas)
        own |= zone_codes | city_codes
    day = as_of or p.end
    await jurisdiction.refresh(registry)
    zones = sorted(await jurisdiction.active_zones(registry, day, kind), key=lambda z: z.id)
    adds: dict[str, tuple[str, ...]] = {}
    if lineage == "proforma" and zones:
        lineages = await jurisdiction.lineage_of(registry, [z.id for z in zones])
        adds = {z: tuple(proforma_predecessors(lin.predecessors, p.end)) for z, lin in lineages.items()}
    values, division_values = await _values(session, p, sorted(own))
    specs = [RowSpec(z.id, z.name, z.authority, adds.get(z.id, ())) for z in zones]
    rows = compute_rows(specs, values, division_values, catalog.formulas, codes)
    return MatrixRead(
        period=str(p),
        kind=kind.value if kind else None,
        as_of=day,
        lineage="proforma" if lineage == "proforma" else "none",
        indicators=[
            MatrixIndicator(
                code=c,
                unit=catalog.indicators[c].unit,
                kind=catalog.indicators[c].kind,
                version=catalog.indicators[c].version,
                direction=catalog.indicators[c].direction,
            )
            for c in codes
        ],
        # Built without validation: compute_rows gives str ids and names, float-or-None values.
        rows=[
            MatrixRow.model_construct(zone=r.zone, name=r.name, values=r.values, proforma_from=r.proforma_from)
            for r in rows
        ],
    )


async def division_matrix(
    *,
    session: AsyncSession,
    period: Period,
    indicators: Sequence[str] | None,
    divisions: Sequence[str],
    as_of: date | None,
) -> MatrixRead:
    """The divisions' own totals for ``period``, one row per division code (``zone`` holds the code).

    Derived values are computed from the division's components; ``city(...)`` reads the totals
    of the division's city. For the assessment's reference scores of counties without a zone.
    """
    p = period
    bad = [d for d in divisions if not (len(d) == 6 and d.isdigit() and d[0] != "0")]
    if bad or not divisions:
        raise Unprocessable(
            "divisions must be a comma-separated list of 6-digit codes",
            errors=[
                {"loc": ["query", "divisions"], "msg": f"not a division code: {d}", "type": "division"} for d in bad
            ]
            or [{"loc": ["query", "divisions"], "msg": "no division given", "type": "division"}],
        )
    catalog = await load_catalog(session=session)
    codes = _codes(catalog, indicators)
    own: set[str] = set()
    for code in codes:
        zone_codes, city_codes = base_components(code, catalog.formulas)
        own |= zone_codes | city_codes
    _, division_values = await _values(session, p, sorted(own))
    wanted = list(dict.fromkeys(divisions))
    specs = [RowSpec(d, d, d) for d in wanted]
    rows = compute_rows(specs, division_values, division_values, catalog.formulas, codes)
    return MatrixRead(
        period=str(p),
        kind=None,
        as_of=as_of or p.end,
        lineage="none",
        indicators=[
            MatrixIndicator(
                code=c,
                unit=catalog.indicators[c].unit,
                kind=catalog.indicators[c].kind,
                version=catalog.indicators[c].version,
                direction=catalog.indicators[c].direction,
            )
            for c in codes
        ],
        rows=[MatrixRow(zone=r.zone, name=r.name, values=r.values) for r in rows],
    )


# --- deadlines and completeness -----------------------------------------------------------------


def default_due(period: Period) -> date:
    """The due date of a period nobody set one for: :data:`DEFAULT_DUE_DAYS` after its end."""
    return period.end + timedelta(days=DEFAULT_DUE_DAYS)


async def get_deadline(*, session: AsyncSession, period: Period) -> DeadlineRead:
    """The period's due date as set, else the default rule."""
    p = period
    row = await AnalysisRepository(session).deadline(str(p))
    if row is None:
        return DeadlineRead(period=str(p), due_on=default_due(p), default=True)
    return DeadlineRead(
        period=row.period,
        due_on=row.due_on,
        default=False,
        set_by=row.set_by,
        set_at=row.set_at if row.set_at.tzinfo else row.set_at.replace(tzinfo=UTC),
    )


async def set_deadline(*, session: AsyncSession, actor: Actor, period: Period, body: DeadlineSet) -> DeadlineRead:
    """Set when a period's values are due."""
    p = period
    if body.due_on < p.end:
        raise Unprocessable(
            "a period's values cannot be due before it ends",
            errors=[{"loc": ["body", "due_on"], "msg": f"before {p.end}", "type": "range"}],
        )
    row = await AnalysisRepository(session).set_deadline(
        Deadline(period=str(p), due_on=body.due_on, set_by=actor.sub, set_at=datetime.now(UTC))
    )
    return DeadlineRead(period=row.period, due_on=row.due_on, default=False, set_by=row.set_by, set_at=row.set_at)


def _china_day(moment: datetime) -> date:
    aware = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment
    return aware.astimezone(CHINA).date()


async def completeness(
    *,
    session: AsyncSession,
    registry: Registry,
    jurisdiction: Jurisdiction,
    actor: Actor,
    period: Period,
    kind: ZoneKind | None,
    division: str | None,
) -> CompletenessRead:
    """For each zone expected to report (active at the period's end), the required indicators missing."""
    p = period
    if not actor.has(Role.CITY_ADMIN, Role.STATISTICS_BUREAU, Role.COMMERCE_BUREAU, Role.SCIENCE_BUREAU):
        if actor.has(Role.COUNTY):
            if division not in (None, actor.division):
                raise Forbidden("a county sees its own division's completeness only")
            division = actor.division
        else:
            raise Forbidden("completeness is for the city, the bureaus and the counties")
    catalog = await load_catalog(session=session)
    required = sorted(
        c for c, i in catalog.indicators.items() if i.kind != "derived" and i.required and p.type in i.period_types
    )
    deadline = await get_deadline(session=session, period=p)
    await jurisdiction.refresh(registry)
    zones = await jurisdiction.active_zones(registry, p.end, kind)
    if division is not None:
        zones = [z for z in zones if division in (z.authority, z.entrusted_to)]
    pushed: dict[str, dict[str, datetime]] = defaultdict(dict)
    for zone_id, code, first in await AnalysisRepository(session).first_pushes(str(p), required):
        pushed[zone_id][code] = first
    today = today_in_china()
    out: list[ZoneCompleteness] = []
    for z in sorted(zones, key=lambda z: (reporting_division(z), z.name)):
        got = pushed.get(z.id, {})
        missing = [c for c in required if c not in got]
        late = sorted(c for c, at in got.items() if _china_day(at) > deadline.due_on)
        if missing:
            status = "overdue" if today > deadline.due_on else "incomplete"
        else:
            status = "complete_late" if late else "complete_on_time"
        last = max(got.values(), default=None)
        out.append(
            ZoneCompleteness(
                zone=z.id,
                name=z.name,
                division=reporting_division(z),
                expected=len(required),
                reported=len(required) - len(missing),
                missing=missing,
                late=late,
                status=status,
                last_pushed_at=(last.replace(tzinfo=UTC) if last and last.tzinfo is None else last),
            )
        )
    by_division: dict[str, list[ZoneCompleteness]] = defaultdict(list)
    for zc in out:
        by_division[zc.division].append(zc)
    divisions = []
    for code, items in sorted(by_division.items()):
        expected = sum(i.expected for i in items)
        reported = sum(i.reported for i in items)
        divisions.append(
            DivisionCompleteness(
                division=code,
                zones=len(items),
                expected=expected,
                reported=reported,
                rate=(reported / expected) if expected else 1.0,
                on_time=sum(1 for i in items if i.status == "complete_on_time"),
                late=sum(1 for i in items if i.status in ("complete_late", "overdue")),
            )
        )
    return CompletenessRead(
        period=str(p),
        kind=kind,
        division=division,
        due_on=deadline.due_on,
        as_of=p.end,
        required=required,
        zones=out,
        divisions=divisions,
    )


# --- quality -------------------------------------------------------------------------------------


def _zone(zone_id: str) -> Subject:
    return Subject(zone=zone_id)


async def quality(
    *, session: AsyncSession, registry: Registry, jurisdiction: Jurisdiction, period: Period
) -> QualityReport:
    """Consistency findings, growth outliers across zones, and a first-digit test per pushing division."""
    p = period
    catalog = await load_catalog(session=session)
    additive = sorted(catalog.additive)
    raw = await AnalysisRepository(session).period_values(str(p), additive)
    zone_values: dict[str, dict[str, Decimal]] = defaultdict(dict)
    division_values: dict[str, dict[str, Decimal]] = defaultdict(dict)
    by_pusher: dict[str | None, list[Decimal]] = defaultdict(list)
    for subject_type, subject_id, code, value, pusher in raw:
        (zone_values if subject_type == "zone" else division_values)[subject_id][code] = value
        by_pusher[pusher].append(value)
    findings: list[QualityFinding] = []
    per = str(p)

    # a part above its whole
    for subject_type, values in (("zone", zone_values), ("division", division_values)):
        for hit in parts_exceeding_wholes(values, CONSISTENCY_RULES):
            subject = Subject(zone=hit.key) if subject_type == "zone" else Subject(division=hit.key)
            findings.append(
                QualityFinding(
                    rule="part_exceeds_whole",
                    subject=subject,
                    indicator=hit.rule.part,
                    period=per,
                    message=f"{hit.rule.part} ({hit.part}) exceeds {hit.rule.whole} ({hit.whole})",
                    values={hit.rule.part: float(hit.part), hit.rule.whole: float(hit.whole)},
                )
            )
    # a share above 100% (the shares not already covered by a part/whole rule)
    covered = {frozenset((r.part, r.whole)) for r in CONSISTENCY_RULES}
    zones: list[ZoneRead] = []
    if zone_values:
        await jurisdiction.refresh(registry)
        zones = await jurisdiction.active_zones(registry, p.end)
    authority = {z.id: z.authority for z in zones}
    floats = {z: {c: float(v) for c, v in vals.items()} for z, vals in zone_values.items()}
    division_floats = {d: {c: float(v) for c, v in vals.items()} for d, vals in division_values.items()}
    for code, formula in sorted(catalog.formulas.items()):
        if catalog.indicators[code].unit != "%" or frozenset(formula.variables) in covered:
            continue
        for zone_id, vals in sorted(floats.items()):
            city = division_floats.get(city_of(authority.get(zone_id, "000000")), {})
            share = formula.evaluate(vals, city)
            if share is not None and share > 100:
                findings.append(
                    QualityFinding(
                        rule="share_above_100",
                        subject=_zone(zone_id),
                        indicator=code,
                        period=per,
                        message=f"{code} = {share:.2f}% ({formula.text})",
                        values={code: share, **{v: vals.get(v) for v in sorted(formula.variables)}},
                    )
                )
    # the zones' sum above the total of their city or county
    findings.extend(_sums_above_totals(zones, zone_values, division_values, per))
    # growth outliers, previous period pro-forma so that mergers do not look like growth
    findings.extend(await _growth_findings(session, registry, jurisdiction, p, zones, floats, additive))
    # first digits per pushing division
    benford: list[BenfordResult] = []
    for pusher, pushed in sorted(by_pusher.items(), key=lambda kv: (kv[0] is None, kv[0] or "")):
        outcome = benford_test(pushed)
        if outcome is None:
            continue
        result = BenfordResult(
            division=pusher,
            n=outcome.n,
            chi2=outcome.chi2,
            p_value=outcome.p_value,
            mad=outcome.mad,
            observed={str(d): c for d, c in enumerate(outcome.observed, start=1)},
            conforms=outcome.conforms,
        )
        benford.append(result)
        if not outcome.conforms:
            findings.append(
                QualityFinding(
                    rule="benford",
                    subject=Subject(division=pusher) if pusher else None,
                    indicator=None,
                    period=per,
                    message=f"first digits of the {outcome.n} values pushed by {pusher or 'city-level roles'} "
                    f"depart from Benford's law (chi2 = {outcome.chi2:.1f}, p = {outcome.p_value:.2g})",
                    values={"n": outcome.n, "chi2": outcome.chi2, "p_value": outcome.p_value, "mad": outcome.mad},
                )
            )
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


def _sums_above_totals(
    zones: Sequence[ZoneRead],
    zone_values: dict[str, dict[str, Decimal]],
    division_values: dict[str, dict[str, Decimal]],
    period: str,
) -> list[QualityFinding]:
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
                        subject=Subject(division=division),
                        indicator=code,
                        period=period,
                        message=f"the {len(parts)} zones' {code} add up to {s}, above the total {total} of {division}",
                        values={"zones_sum": float(s), "total": float(total), "zones": len(parts)},
                    )
                )
    return out


async def _growth_findings(
    session: AsyncSession,
    registry: Registry,
    jurisdiction: Jurisdiction,
    period: Period,
    zones: Sequence[ZoneRead],
    current: dict[str, dict[str, float]],
    codes: Sequence[str],
) -> list[QualityFinding]:
    if not current or not zones:
        return []
    previous = period.same_period_last_year()
    before, _ = await _values(session, previous, codes)
    if not before:
        return []
    lineages = await jurisdiction.lineage_of(registry, [z.id for z in zones])
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
                    subject=_zone(hit.key),
                    indicator=code,
                    period=str(period),
                    message=f"{code} grew {hit.growth:+.1%} against {previous} (median {hit.median_growth:+.1%}, "
                    f"modified z = {hit.z:.1f})",
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
