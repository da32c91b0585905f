"""Use cases of the indicator catalog, and the catalog snapshot the other features read."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from libs.domain.kernel.contracts import Actor
from libs.domain.kernel.errors import Conflict, NotFound, Unprocessable
from libs.domain.kernel.i18n import Text
from libs.domain.metrics.catalog import SEED_INDICATORS
from libs.domain.metrics.contracts import IndicatorCreate, IndicatorRead
from libs.domain.metrics.formula import Formula, FormulaError, dependency_order, parse_formula, unknown_codes
from libs.domain.metrics.units import lookup
from services.metrics.indicators.repository import IndicatorRepository
from services.metrics.tables import Indicator

SEED_AUTHOR = "seed-catalog"


def indicator_read(row: Indicator) -> IndicatorRead:
    """Contract view of an indicator row."""
    return IndicatorRead(
        code=row.code,
        version=row.version,
        name_zh=row.name_zh,
        name_en=row.name_en,
        unit=row.unit,
        kind=row.kind,
        direction=row.direction,
        period_types=list(row.period_types),
        min=_plain(row.min),
        max=_plain(row.max),
        formula=row.formula,
        required=row.required,
        created_at=row.created_at,
    )


def _plain(value: Decimal | None) -> Decimal | None:
    """A bound as written, whatever scale the column stored it with (``0E-8`` -> ``0``, ``100.50`` -> ``100.5``)."""
    if value is None:
        return None
    return Decimal(format(Decimal(value).normalize(), "f"))


@dataclass(frozen=True)
class Catalog:
    """The latest version of every indicator, with the derived ones' parsed formulas."""

    indicators: dict[str, IndicatorRead]
    formulas: dict[str, Formula]

    def get(self, code: str) -> IndicatorRead | None:
        """The indicator ``code``, if it exists."""
        return self.indicators.get(code)

    @property
    def additive(self) -> list[str]:
        """Codes of the base and stock indicators (the ones values are pushed for)."""
        return [c for c, i in self.indicators.items() if i.kind != "derived"]


async def load_catalog(*, session: AsyncSession) -> Catalog:
    """The catalog as it stands (latest versions)."""
    rows = await IndicatorRepository(session).latest()
    indicators = {r.code: indicator_read(r) for r in rows}
    formulas: dict[str, Formula] = {}
    for code, ind in indicators.items():
        if ind.kind == "derived" and ind.formula:
            try:
                formulas[code] = parse_formula(ind.formula)
            except FormulaError:  # cannot happen for stored formulas; skip rather than fail reads
                continue
    return Catalog(indicators, formulas)


class CatalogCache:
    """The catalog of the last :meth:`get`, read again only once the indicator table changed (a
    cheap query tells: :meth:`IndicatorRepository.fingerprint`). One per app (``MetricsRuntime.catalogs``)."""

    def __init__(self) -> None:
        self._fingerprint: tuple[int, int] | None = None
        self._catalog: Catalog | None = None

    async def get(self, *, session: AsyncSession) -> Catalog:
        """The catalog as it stands, as :func:`load_catalog` reads it."""
        fingerprint = await IndicatorRepository(session).fingerprint()
        if self._catalog is not None and fingerprint == self._fingerprint:
            return self._catalog
        catalog = await load_catalog(session=session)
        # The fingerprint read before the catalog: a version added in between makes the next
        # fingerprint differ, so the catalog is read again rather than ever kept stale.
        self._fingerprint, self._catalog = fingerprint, catalog
        return catalog


_INDICATOR_KIND_ZH = {"base": "基础指标", "stock": "存量指标", "derived": "计算指标"}


def _fault(field: str, msg: Text, type_: str, code: str) -> dict[str, Any]:
    return {"loc": ["body", field], "msg": msg, "type": type_, "code": code}


async def create_indicator(*, session: AsyncSession, actor: Actor, body: IndicatorCreate) -> tuple[IndicatorRead, bool]:
    """Add an indicator, or a new version of an existing code (versions are never edited).

    Returns the version and whether it already existed: a definition equal to the latest
    version (a retry after a lost answer) is answered with that version, not a new one.
    """
    repo = IndicatorRepository(session)
    catalog = await load_catalog(session=session)
    faults: list[dict[str, Any]] = []
    if (body.kind == "derived") != (body.formula is not None):
        faults.append(
            _fault(
                "formula",
                Text(
                    "计算指标必须给出公式，其他指标不得给出公式",
                    "a formula is required for derived indicators and only for them",
                ),
                "formula",
                "formula_for_derived_only",
            )
        )
    if body.min is not None and body.max is not None and body.min >= body.max:
        faults.append(_fault("max", Text("max 必须大于 min", "max must be greater than min"), "range", "bad_range"))
    if body.kind == "derived" and body.formula is not None:
        faults.extend(_formula_faults(body, catalog))
    if faults:
        raise Unprocessable(Text("指标定义无效", "the indicator is not valid"), errors=faults, code="invalid_indicator")
    versions = await repo.versions(body.code)
    if versions and _same_definition(versions[-1], body):
        return indicator_read(versions[-1]), True
    previous = catalog.get(body.code)
    if previous is not None and await repo.is_used(body.code):
        same_unit = previous.unit == body.unit or (
            lookup(previous.unit) is not None and lookup(previous.unit) == lookup(body.unit)
        )
        if not same_unit or previous.kind != body.kind:
            raise Conflict(
                Text(
                    f"指标 {body.code} 已有以 {previous.unit} 计的数据（{_INDICATOR_KIND_ZH[previous.kind]}）；"
                    "新版本不能改变单位或类型（请另设指标代码）",
                    f"indicator {body.code} already has values in {previous.unit} as a {previous.kind} indicator; "
                    "a new version may not change its unit or kind (add a new code instead)",
                ),
                code="unit_or_kind_change",
                indicator=body.code,
                version=previous.version,
            )
    version = await repo.latest_version(body.code) + 1
    row = Indicator(**body.model_dump(), version=version, created_at=datetime.now(UTC), created_by=actor.sub)
    await repo.add(row)
    return indicator_read(row), False


def _same_definition(row: Indicator, body: IndicatorCreate) -> bool:
    """True if a stored version defines exactly what ``body`` asks for (numbers compared by value)."""
    stored = IndicatorCreate.model_validate({name: getattr(row, name) for name in IndicatorCreate.model_fields})
    return stored.model_dump() == body.model_dump()


def _formula_faults(body: IndicatorCreate, catalog: Catalog) -> list[dict[str, Any]]:
    assert body.formula is not None
    try:
        formula = parse_formula(body.formula)
    except FormulaError as exc:
        return [_fault("formula", exc.text, "formula", "bad_formula")]
    known = set(catalog.indicators) - {body.code}
    unknown = unknown_codes(formula, known)
    if unknown:
        text = Text(
            f"公式引用了指标目录中没有的指标：{'、'.join(unknown)}", f"unknown indicator(s): {', '.join(unknown)}"
        )
        return [_fault("formula", text, "formula.unknown_indicator", "formula_unknown_indicator")]
    derived_in_city = sorted(c for c in formula.city_variables if catalog.indicators[c].kind == "derived")
    if derived_in_city:
        text = Text(
            f"city(...) 只能引用基础指标或存量指标：{'、'.join(derived_in_city)}",
            f"city(...) takes base or stock indicators only: {', '.join(derived_in_city)}",
        )
        return [_fault("formula", text, "formula", "city_of_derived")]
    formulas = {**catalog.formulas, body.code: formula}
    try:
        dependency_order(formulas)
    except FormulaError as exc:
        return [_fault("formula", exc.text, "formula.cycle", "formula_cycle")]
    return []


async def list_indicators(
    *, session: AsyncSession, after: str | None, limit: int
) -> tuple[list[IndicatorRead], str | None]:
    """The latest version of each indicator, one page."""
    rows = await IndicatorRepository(session).latest(after_code=after, limit=limit + 1)
    more = len(rows) > limit
    rows = rows[:limit]
    return [indicator_read(r) for r in rows], (rows[-1].code if more and rows else None)


async def indicator_versions(
    *, session: AsyncSession, code: str, after: int | None, limit: int
) -> tuple[list[IndicatorRead], int | None]:
    """One page of an indicator's versions, oldest first, after version ``after``, and the last
    version of the page when more follow; 404 when the indicator is unknown. (An indicator has a
    few versions: they are read together and paged in memory.)"""
    rows = await IndicatorRepository(session).versions(code)
    if not rows:
        raise NotFound(Text(f"指标 {code} 不存在", f"indicator {code} does not exist"), code="indicator_not_found")
    rest = [r for r in rows if after is None or r.version > after]
    page = rest[:limit]
    return [indicator_read(r) for r in page], (page[-1].version if len(rest) > limit else None)


async def seed_catalog(*, session: AsyncSession) -> int:
    """Add version 1 of every seed indicator not yet in the catalog; how many were added."""
    repo = IndicatorRepository(session)
    have = await repo.existing_codes()
    now = datetime.now(UTC)
    rows = [
        Indicator(**i.model_dump(), version=1, created_at=now, created_by=SEED_AUTHOR)
        for i in SEED_INDICATORS
        if i.code not in have
    ]
    if rows:
        await repo.add_all(rows)
    return len(rows)
