"""Completeness: for each zone expected to report a period, the required indicators still missing."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from libs.domain.kernel.contracts import Actor
from libs.domain.kernel.errors import Forbidden
from libs.domain.kernel.i18n import Text
from libs.domain.kernel.values import Role, today_in_china
from libs.domain.metrics.contracts import CompletenessRead, DivisionCompleteness, ZoneCompleteness
from libs.domain.metrics.scope import reporting_division
from libs.domain.registry.contracts import ZoneRead
from services.metrics.analysis.commands import CompletenessQuery, ReadContext
from services.metrics.analysis.deadlines import get_deadline
from services.metrics.analysis.repository import AnalysisRepository
from services.metrics.indicators.service import load_catalog

CHINA = ZoneInfo("Asia/Shanghai")


def _china_day(moment: datetime) -> date:
    aware = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment
    return aware.astimezone(CHINA).date()


def _division_seen(actor: Actor, division: str | None) -> str | None:
    """The division whose completeness ``actor`` may see (``None``: all): a county its own only."""
    if actor.has(Role.CITY_ADMIN, Role.STATISTICS_BUREAU, Role.COMMERCE_BUREAU, Role.SCIENCE_BUREAU):
        return division
    if not actor.has(Role.COUNTY):
        raise Forbidden(
            Text(
                "报送完整性仅供市级、各局和县（区）查阅", "completeness is for the city, the bureaus and the counties"
            ),
            code="completeness_not_allowed",
        )
    if division not in (None, actor.division):
        raise Forbidden(
            Text("县（区）只能查阅本县（区）的报送完整性", "a county sees its own division's completeness only"),
            code="own_division_only",
        )
    return actor.division


def _zone_completeness(
    zone: ZoneRead, required: Sequence[str], pushed: dict[str, datetime], due_on: date, today: date
) -> ZoneCompleteness:
    """A zone's required indicators, reported or missing, against the period's due date."""
    missing = [c for c in required if c not in pushed]
    late = sorted(c for c, at in pushed.items() if _china_day(at) > due_on)
    if missing:
        status = "overdue" if today > due_on else "incomplete"
    else:
        status = "complete_late" if late else "complete_on_time"
    last = max(pushed.values(), default=None)
    return ZoneCompleteness(
        zone_id=zone.id,
        name=zone.name,
        division=reporting_division(zone),
        expected=len(required),
        reported=len(required) - len(missing),
        missing=missing,
        late=late,
        status=status,
        last_pushed_at=(last.replace(tzinfo=UTC) if last and last.tzinfo is None else last),
    )


def _division_rates(zones: Sequence[ZoneCompleteness]) -> list[DivisionCompleteness]:
    """Each reporting division's rate and how many of its zones were on time or late."""
    by_division: dict[str, list[ZoneCompleteness]] = defaultdict(list)
    for zc in zones:
        by_division[zc.division].append(zc)
    divisions = []
    for code, items in sorted(by_division.items()):
        expected = sum(i.expected for i in items)
        reported = sum(i.reported for i in items)
        divisions.append(
            DivisionCompleteness(
                division=code,
                zone_count=len(items),
                expected=expected,
                reported=reported,
                rate=(reported / expected) if expected else 1.0,
                on_time=sum(1 for i in items if i.status == "complete_on_time"),
                late=sum(1 for i in items if i.status in ("complete_late", "overdue")),
            )
        )
    return divisions


async def completeness(query: CompletenessQuery, context: ReadContext, actor: Actor) -> CompletenessRead:
    """For each zone expected to report (active at the period's end), the required indicators missing."""
    p, session = query.period, context.session
    division = _division_seen(actor, query.division)
    catalog = await load_catalog(session=session)
    required = sorted(
        c for c, i in catalog.indicators.items() if i.kind != "derived" and i.required and p.type in i.period_types
    )
    deadline = await get_deadline(session=session, period=p)
    await context.jurisdiction.refresh(context.registry)
    zones = await context.jurisdiction.active_zones(context.registry, p.end, query.kind)
    if division is not None:
        zones = [z for z in zones if division in (z.authority, z.entrusted_to)]
    pushed: dict[str, dict[str, datetime]] = defaultdict(dict)
    for zone_id, code, first in await AnalysisRepository(session).first_pushes(str(p), required):
        pushed[zone_id][code] = first
    today = today_in_china()
    out = [
        _zone_completeness(z, required, pushed.get(z.id, {}), deadline.due_on, today)
        for z in sorted(zones, key=lambda z: (reporting_division(z), z.name))
    ]
    return CompletenessRead(
        period=str(p),
        kind=query.kind,
        division=division,
        due_on=deadline.due_on,
        as_of=p.end,
        required=required,
        by_zone=out,
        divisions=_division_rates(out),
    )
