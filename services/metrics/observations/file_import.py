"""Values in files: an imported CSV or xlsx read into rows, and the xlsx template to fill in."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date

from sqlalchemy.ext.asyncio import AsyncSession

from libs.domain.kernel.contracts import Actor
from libs.domain.kernel.errors import Forbidden, Unprocessable
from libs.domain.kernel.i18n import Text
from libs.domain.kernel.values import Period, Role, today_in_china
from libs.domain.metrics import messages
from libs.domain.metrics.contracts import ImportConflict, ImportCounts, ImportSummary, IndicatorRead
from libs.domain.metrics.naming import named
from services.metrics.indicators.service import load_catalog
from services.metrics.jurisdiction import Jurisdiction, Registry
from services.metrics.observations.checks import DIVISION_RE, conflict
from services.metrics.observations.decoding import RowIn, RowsRead


async def rows_from_file(
    *, content: bytes, registry: Registry, jurisdiction: Jurisdiction, indicators: Mapping[str, IndicatorRead]
) -> tuple[RowsRead, int]:
    """Rows of an imported file (and how many lines without a value were skipped), zones given by
    name resolved through the registry as of the period, indicators given by a Chinese name
    (one indicator's) read as its code; an unknown or ambiguous name is left for the checks,
    which name the close matches."""
    from services.metrics.observations.files import read_table  # openpyxl only once a file comes

    table = read_table(content)
    if table.missing:
        text = messages.missing_column(table.missing)
        summary = ImportSummary(status="conflict", dry_run=False, counts=ImportCounts(rejected=0))
        error = {"loc": ["file", "header"], "msg": text, "type": "missing_column", "code": "missing_column", "line": 1}
        raise Unprocessable(
            text,
            code="missing_column",
            errors=[error | {"accepted": table.missing}],
            summary=summary.model_dump(mode="json", exclude={"conflicts"}),
        )
    rows: list[RowIn] = []
    conflicts: list[ImportConflict] = []
    zone_column = table.headers.get("subject")
    codes: dict[str, str] = {}
    names = [r for r in table.rows if r.zone and not DIVISION_RE.match(r.zone)]
    if names:
        await jurisdiction.refresh(registry)
    for i, fr in enumerate(table.rows):
        subject: tuple[str, str] | None = None
        if not fr.zone:
            text = messages.bad_subject("empty")
            conflicts.append(conflict(i, "subject", "bad_subject", text, line=fr.line, column=zone_column))
        elif DIVISION_RE.match(fr.zone):
            subject = ("division", fr.zone)
        else:
            try:
                day = Period.parse(fr.period).end
            except ValueError:
                day = today_in_china()
            subject, fault = await _resolve_zone(fr.zone, day, registry, jurisdiction)
            if fault is not None:
                conflicts.append(
                    conflict(
                        i, "subject", "ambiguous_zone", fault[0], line=fr.line, column=zone_column, accepted=fault[1]
                    )
                )
        code = codes.get(fr.indicator)
        if code is None:
            found = named(fr.indicator, indicators)
            code = codes[fr.indicator] = found[0] if len(found) == 1 else fr.indicator
        rows.append(RowIn(i, subject, code, fr.period, fr.value, fr.unit, fr.note, line=fr.line))
    return RowsRead(rows, conflicts, table.headers), table.skipped


async def _resolve_zone(
    text: str, day: date, registry: Registry, jurisdiction: Jurisdiction
) -> tuple[tuple[str, str] | None, tuple[messages.Text, list[str]] | None]:
    """A zone cell as a subject: a zone id active on ``day``, else a name, else an id to check."""
    active = await jurisdiction.active_zones(registry, day)
    if any(z.id == text for z in active):
        return ("zone", text), None
    found = await jurisdiction.resolve(registry, text, day)
    ids = sorted({m.state.id for m in found.matches})
    if len(ids) == 1:
        return ("zone", ids[0]), None
    if len(ids) > 1:
        matches = [f"{m.state.id} {m.state.name}（{m.match}）" for m in found.matches]
        return None, (messages.ambiguous_zone(text, day.isoformat(), matches), ids)
    return ("zone", text), None  # not a name on that day: checked as an id (unknown, ended…)


async def template(
    *,
    session: AsyncSession,
    registry: Registry,
    jurisdiction: Jurisdiction,
    actor: Actor,
    division: str | None,
    period: Period,
) -> bytes:
    """An xlsx template pre-filled with the division's zones (active at the period's end), its own
    totals, and every required indicator reported per that kind of period."""
    from services.metrics.observations.template import build_template  # openpyxl only once a template is asked

    if division is not None and not DIVISION_RE.match(division):
        raise Unprocessable(
            Text("division 应为 6 位区划代码", "division must be a 6-digit code"),
            errors=[
                {
                    "loc": ["query", "division"],
                    "msg": Text(f"{division!r} 不是 6 位区划代码", "not a division code"),
                    "type": "division",
                    "code": "bad_division",
                }
            ],
            code="bad_division",
        )
    if not actor.has(Role.CITY_ADMIN, Role.STATISTICS_BUREAU):
        if division is None:
            division = actor.division
        if division != actor.division:
            raise Forbidden(
                Text("县（区）只能下载本县（区）的填报模板", "a county gets the template of its own division only"),
                code="own_division_only",
            )
    await jurisdiction.refresh(registry)
    zones = await jurisdiction.active_zones(registry, period.end)
    if division is not None:
        zones = [z for z in zones if division in (z.authority, z.entrusted_to)]
    catalog = await load_catalog(session=session)
    indicators = [
        i for i in catalog.indicators.values() if i.kind != "derived" and i.required and period.type in i.period_types
    ]
    return build_template(
        period=str(period),
        zones=sorted(zones, key=lambda z: z.name),
        divisions=[division] if division else [],
        indicators=indicators,
    )
