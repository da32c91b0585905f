"""Divisions: recording their states and listing them with the zones they administer or host."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from libs.domain.kernel.contracts import Page
from libs.domain.kernel.errors import NotFound, Unprocessable
from libs.domain.kernel.i18n import Text
from libs.domain.registry.contracts import DivisionCreate, DivisionList, DivisionRead, DivisionWithZones
from services.common.pagination import encode_cursor
from services.registry import repository as repo
from services.registry.context import WriteContext
from services.registry.conversions import division_read, zone_brief
from services.registry.tables import Division, ZoneState


async def record_division(body: DivisionCreate, ctx: WriteContext) -> tuple[DivisionRead, bool]:
    """Record a division (or a new state of one) and end the divisions it replaces.

    Returns the recorded state and whether it was already recorded: the same state sent again
    (a retry after a lost answer) is answered with the stored one and changes nothing.
    """
    await repo.lock_registry(ctx.session)
    divisions = repo.DivisionRepository(ctx.session)
    existing = await divisions.versions(body.code)
    if existing and await _already_recorded(divisions, existing[-1], body):
        return division_read(existing[-1]), True
    replaced = await _replaced_divisions(divisions, existing, body)
    now = datetime.now(UTC)
    current = existing[-1] if existing else None
    if current is not None and current.valid_to is None:
        current.valid_to = body.valid_from
    for old in replaced:
        old.valid_to = body.valid_from
        old.successor = body.code
    row = Division(
        code=body.code,
        name=body.name,
        valid_from=body.valid_from,
        is_city=body.is_city,
        note=body.note,
        recorded_at=now,
        recorded_by=ctx.actor.sub,
    )
    await divisions.add(row)
    change_id = await repo.ChangeRepository(ctx.session).append(
        "division.recorded",
        {"code": body.code, "valid_from": body.valid_from.isoformat(), "replaces": list(body.replaces)},
        now,
    )
    ctx.announce(change_id)
    return division_read(row), False


async def _replaced_divisions(
    divisions: repo.DivisionRepository, existing: list[Division], body: DivisionCreate
) -> list[Division]:
    """The divisions ``body`` ends; 422 listing every reason it cannot be recorded."""
    faults: list[dict[str, Any]] = []
    if any(v.valid_from >= body.valid_from for v in existing):
        faults.append(
            {
                "loc": ["body", "valid_from"],
                "msg": Text(
                    f"行政区划 {body.code} 已有自该日期或更晚日期起的记录",
                    f"{body.code} already has a state from this date or later",
                ),
                "type": "not_latest",
                "code": "not_latest",
            }
        )
    replaced: list[Division] = []
    for i, code in enumerate(body.replaces):
        if code == body.code:
            continue  # a new state of the same code: handled as ``existing``
        old = await divisions.get_valid(code, body.valid_from - timedelta(days=1))
        if old is None or old.valid_to is not None:
            faults.append(
                {
                    "loc": ["body", "replaces", i],
                    "msg": Text(
                        f"行政区划 {code} 在 valid_from 前一日不在有效期内（或已有终止日期）",
                        f"{code} is not in force (and open-ended) the day before valid_from",
                    ),
                    "type": "unknown_division",
                    "code": "unknown_division",
                }
            )
        else:
            replaced.append(old)
    if faults:
        raise Unprocessable(
            Text("无法登记该行政区划", "the division cannot be recorded"), code="division_not_recordable", errors=faults
        )
    return replaced


async def _already_recorded(divisions: repo.DivisionRepository, latest: Division, body: DivisionCreate) -> bool:
    """True if ``latest`` is exactly the state ``body`` asks for, replacements included."""
    if (latest.valid_from, latest.name, latest.is_city, latest.note or None) != (
        body.valid_from,
        body.name,
        body.is_city,
        body.note or None,
    ):
        return False
    for code in body.replaces:
        if code == body.code:
            continue
        old = await divisions.get_valid(code, body.valid_from - timedelta(days=1))
        if old is None or old.valid_to != body.valid_from or old.successor != body.code:
            return False
    return True


async def division_versions(*, session: AsyncSession, code: str, after: str | None, limit: int) -> Page[DivisionRead]:
    """Every recorded state of a division code, oldest first, a page after the cursor (a ``valid_from``)."""
    rows = await repo.DivisionRepository(session).versions(code)
    if not rows:
        raise NotFound(
            Text(f"未登记行政区划 {code}", f"division {code} is not recorded"), code="division_not_found", division=code
        )
    rest = [r for r in rows if after is None or r.valid_from.isoformat() > after]
    page = rest[:limit]
    more = len(rest) > limit
    return Page(
        items=[division_read(r) for r in page],
        next_cursor=encode_cursor(page[-1].valid_from.isoformat()) if more and page else None,
    )


async def list_divisions(*, session: AsyncSession, as_of: date, after: str | None, limit: int) -> DivisionList:
    """Divisions in force on ``as_of`` with their zones, and the county-level ones without a zone."""
    divisions = repo.DivisionRepository(session)
    all_divisions = await divisions.valid_on(as_of)
    zones = await repo.ZoneRepository(session).active_on(as_of)
    administers: dict[str, list[ZoneState]] = defaultdict(list)
    hosts: dict[str, list[ZoneState]] = defaultdict(list)
    for z in zones:
        administers[z.authority].append(z)
        if z.entrusted_to:
            hosts[z.entrusted_to].append(z)
    without = [d.code for d in all_divisions if not d.is_city and not administers.get(d.code)]
    page = [d for d in all_divisions if after is None or d.code > after][: limit + 1]
    more = len(page) > limit
    page = page[:limit]
    items = [
        DivisionWithZones(
            **division_read(d).model_dump(),
            administers=[zone_brief(z) for z in administers.get(d.code, [])],
            hosts_by_entrustment=[zone_brief(z) for z in hosts.get(d.code, [])],
            has_provincial_zone=bool(administers.get(d.code)),
        )
        for d in page
    ]
    return DivisionList(
        as_of=as_of,
        items=items,
        next_cursor=encode_cursor(page[-1].code) if more and page else None,
        without_provincial_zone=without,
    )
