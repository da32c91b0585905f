"""The values matrix: one period's base, stock and derived values, per zone or per division."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from libs.domain.kernel.errors import Unprocessable
from libs.domain.kernel.values import Period
from libs.domain.metrics.contracts import MatrixIndicator, MatrixRead, MatrixRow
from libs.domain.metrics.formula import base_components
from libs.domain.metrics.matrix import RowSpec, compute_rows, proforma_predecessors
from services.metrics.analysis.commands import DivisionMatrixQuery, ReadContext, ZoneMatrixQuery
from services.metrics.analysis.repository import AnalysisRepository
from services.metrics.indicators.service import Catalog, load_catalog

SubjectFloats = dict[str, dict[str, float]]
"""Values as floats, by subject id then indicator code."""


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


def _components(catalog: Catalog, codes: Sequence[str]) -> list[str]:
    """The stored codes ``codes`` are computed from (a derived code's components, or itself)."""
    own: set[str] = set()
    for code in codes:
        zone_codes, city_codes = base_components(code, catalog.formulas)
        own |= zone_codes | city_codes
    return sorted(own)


def _columns(catalog: Catalog, codes: Sequence[str]) -> list[MatrixIndicator]:
    return [
        MatrixIndicator(
            code=c,
            unit=catalog.indicators[c].unit,
            kind=catalog.indicators[c].kind,
            version=catalog.indicators[c].version,
            direction=catalog.indicators[c].direction,
        )
        for c in codes
    ]


async def period_floats(
    session: AsyncSession, period: Period, codes: Sequence[str]
) -> tuple[SubjectFloats, SubjectFloats]:
    """Zone values and division totals of ``period`` as floats, by subject then indicator."""
    zones: SubjectFloats = defaultdict(dict)
    divisions: SubjectFloats = defaultdict(dict)
    for subject_type, subject_id, code, value in await AnalysisRepository(session).period_floats(str(period), codes):
        (zones if subject_type == "zone" else divisions)[subject_id][code] = value
    return zones, divisions


async def zone_matrix(query: ZoneMatrixQuery, context: ReadContext) -> MatrixRead:
    """Every zone of the kind active on the day, with its values.

    One query reads the base and stock values of the period; derived values are computed from
    the components, after adding (``lineage="proforma"``) the components of the zones merged
    into each row after the period.
    """
    p, registry, jurisdiction = query.period, context.registry, context.jurisdiction
    catalog = await load_catalog(session=context.session)
    codes = _codes(catalog, query.indicators)
    day = query.as_of or p.end
    await jurisdiction.refresh(registry)
    zones = sorted(await jurisdiction.active_zones(registry, day, query.kind), key=lambda z: z.id)
    adds: dict[str, tuple[str, ...]] = {}
    if query.lineage == "proforma" and zones:
        lineages = await jurisdiction.lineage_of(registry, [z.id for z in zones])
        adds = {z: tuple(proforma_predecessors(lin.predecessors, p.end)) for z, lin in lineages.items()}
    values, division_values = await period_floats(context.session, p, _components(catalog, codes))
    specs = [RowSpec(z.id, z.name, z.authority, adds.get(z.id, ())) for z in zones]
    rows = compute_rows(specs, values, division_values, catalog.formulas, codes)
    return MatrixRead(
        period=str(p),
        kind=query.kind.value if query.kind else None,
        as_of=day,
        lineage=query.lineage,
        indicators=_columns(catalog, codes),
        # Built without validation: compute_rows gives str ids and names, float-or-None values.
        rows=[
            MatrixRow.model_construct(zone=r.zone, name=r.name, values=r.values, proforma_from=r.proforma_from)
            for r in rows
        ],
    )


async def division_matrix(query: DivisionMatrixQuery, session: AsyncSession) -> MatrixRead:
    """The divisions' own totals for the period, one row per division code (``zone`` holds the code).

    Derived values are computed from the division's components; ``city(...)`` reads the totals
    of the division's city. For the assessment's reference scores of counties without a zone.
    """
    divisions = query.divisions
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
    codes = _codes(catalog, query.indicators)
    _, division_values = await period_floats(session, query.period, _components(catalog, codes))
    specs = [RowSpec(d, d, d) for d in dict.fromkeys(divisions)]
    rows = compute_rows(specs, division_values, division_values, catalog.formulas, codes)
    return MatrixRead(
        period=str(query.period),
        kind=None,
        as_of=query.as_of or query.period.end,
        lineage="none",
        indicators=_columns(catalog, codes),
        rows=[MatrixRow(zone=r.zone, name=r.name, values=r.values) for r in rows],
    )
