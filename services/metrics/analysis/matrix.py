"""The values matrix: one period's base, stock and derived values, per zone or per division."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from libs.domain.kernel.errors import Unprocessable
from libs.domain.kernel.i18n import Text
from libs.domain.kernel.values import Period
from libs.domain.metrics.contracts import MatrixAnswer, MatrixAnswerRow, MatrixIndicator
from libs.domain.metrics.formula import base_components
from libs.domain.metrics.matrix import RowSpec, Sources, compute_rows, proforma_predecessors
from libs.domain.metrics.periods import Provenance, fill_from_parts, gaps, sub_periods
from libs.domain.metrics.scope import city_of
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
            Text(f"指标目录中没有：{'、'.join(unknown)}", f"unknown indicator(s): {', '.join(unknown)}"),
            errors=[
                {
                    "loc": ["query", "indicators"],
                    "msg": Text(f"指标目录中没有 {c}", f"unknown: {c}"),
                    "type": "indicator",
                    "code": "unknown_indicator",
                }
                for c in unknown
            ],
            code="unknown_indicator",
        )
    return list(dict.fromkeys(requested))


def _components(catalog: Catalog, codes: Sequence[str]) -> list[str]:
    """The stored codes ``codes`` are computed from (a derived code's components, or itself)."""
    own, city = _component_sides(catalog, codes)
    return sorted(own | city)


def _component_sides(catalog: Catalog, codes: Sequence[str]) -> tuple[set[str], set[str]]:
    """The stored codes ``codes`` read for the subject itself, and through ``city(...)``."""
    own: set[str] = set()
    city: set[str] = set()
    for code in codes:
        zone_codes, city_codes = base_components(code, catalog.formulas)
        own |= zone_codes
        city |= city_codes
    return own, city


def _decimals(values: Mapping[str, float | None]) -> dict[str, Decimal | None]:
    """A row's float values as the decimals they stand for: the shortest decimal that reads back as
    the same float (``2400.0`` is ``2400``, ``0.1`` is ``0.1``), so a stored value reads as pushed."""
    return {code: None if v is None else Decimal(repr(v)) for code, v in values.items()}


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


async def built_from_parts(
    session: AsyncSession,
    catalog: Catalog,
    period: Period,
    values: tuple[SubjectFloats, SubjectFloats],
    cells: tuple[list[tuple[str, str]], list[tuple[str, str]]],
) -> Sources:
    """Build the missing ``cells`` (of zones, of divisions) of ``values`` (the zones', the divisions')
    from the period's halves and quarters, in place; which were built and why the rest is missing.

    One more query, and only when a cell is missing and the period has parts; nothing when none is.
    """
    zone_cells, division_cells = cells
    if not (zone_cells or division_cells):
        return Sources(Provenance(), Provenance())
    subs = sub_periods(period)
    parts: tuple[dict[tuple[str, str], dict[str, float]], ...] = (defaultdict(dict), defaultdict(dict))
    if subs:
        codes = sorted({c for _, c in zone_cells} | {c for _, c in division_cells})
        for text, subject_type, subject_id, code, value in await AnalysisRepository(session).parts_floats(
            [str(sub) for sub in subs], codes
        ):
            parts[subject_type != "zone"][(subject_id, code)][text] = value
    stocks = {c for c, i in catalog.indicators.items() if i.kind == "stock"}
    return Sources(
        zones=fill_from_parts(period, values[0], zone_cells, parts[0], stocks),
        divisions=fill_from_parts(period, values[1], division_cells, parts[1], stocks),
    )


async def zone_matrix(query: ZoneMatrixQuery, context: ReadContext) -> MatrixAnswer:
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
    own, city = _component_sides(catalog, codes)
    read = sorted(own | city)
    values, division_values = await period_floats(context.session, p, read)
    specs = [RowSpec(z.id, z.name, z.authority, adds.get(z.id, ())) for z in zones]
    subjects = dict.fromkeys(s for spec in specs for s in (spec.zone, *spec.add))
    cities = dict.fromkeys(city_of(spec.authority) for spec in specs) if city else {}
    cells = (gaps(values, subjects, own, len(read)), gaps(division_values, cities, city, len(read)))
    sources = await built_from_parts(context.session, catalog, p, (values, division_values), cells)
    rows = compute_rows(specs, values, division_values, catalog.formulas, codes, sources)
    return MatrixAnswer(
        period=str(p),
        kind=query.kind.value if query.kind else None,
        as_of=day,
        lineage=query.lineage,
        indicators=_columns(catalog, codes),
        # Built without validation: compute_rows gives str ids and names, float-or-None values.
        rows=[
            MatrixAnswerRow.model_construct(
                zone_id=r.zone,
                division=None,
                name=r.name,
                values=_decimals(r.values),
                proforma_from=r.proforma_from,
                built=r.built,
                missing=r.missing,
            )
            for r in rows
        ],
    )


async def division_matrix(query: DivisionMatrixQuery, session: AsyncSession) -> MatrixAnswer:
    """The divisions' own totals for the period, one row per division code (in ``division``).

    Derived values are computed from the division's components; ``city(...)`` reads the totals
    of the division's city. For the assessment's reference scores of counties without a zone.
    """
    divisions = query.divisions
    bad = [d for d in divisions if not (len(d) == 6 and d.isdigit() and d[0] != "0")]
    if bad or not divisions:
        raise Unprocessable(
            Text(
                "divisions 应为以逗号分隔的 6 位区划代码", "divisions must be a comma-separated list of 6-digit codes"
            ),
            errors=[
                {
                    "loc": ["query", "divisions"],
                    "msg": Text(f"{d} 不是 6 位区划代码", f"not a division code: {d}"),
                    "type": "division",
                    "code": "bad_division",
                }
                for d in bad
            ]
            or [
                {
                    "loc": ["query", "divisions"],
                    "msg": Text("未给出区划代码", "no division given"),
                    "type": "division",
                    "code": "no_division",
                }
            ],
            code="bad_division",
        )
    catalog = await load_catalog(session=session)
    codes = _codes(catalog, query.indicators)
    own, city = _component_sides(catalog, codes)
    read = sorted(own | city)
    zones, division_values = await period_floats(session, query.period, read)
    specs = [RowSpec(d, d, d) for d in dict.fromkeys(divisions)]
    cities = dict.fromkeys(city_of(d) for d in divisions) if city else {}
    # A division row reads its own totals and its city's: both are cells of the divisions' values.
    own_gaps = gaps(division_values, [spec.zone for spec in specs], own, len(read))
    cells = dict.fromkeys([*own_gaps, *gaps(division_values, cities, city, len(read))])
    sources = await built_from_parts(session, catalog, query.period, (zones, division_values), ([], list(cells)))
    rows = compute_rows(
        specs, division_values, division_values, catalog.formulas, codes, Sources(sources.divisions, sources.divisions)
    )
    return MatrixAnswer(
        period=str(query.period),
        kind=None,
        as_of=query.as_of or query.period.end,
        lineage="none",
        indicators=_columns(catalog, codes),
        rows=[
            MatrixAnswerRow(
                zone_id=None, division=r.zone, name=r.name, values=_decimals(r.values), built=r.built, missing=r.missing
            )
            for r in rows
        ],
    )
