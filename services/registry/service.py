"""The registry's use cases."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from libs.domain.contracts.common import Actor
from libs.domain.contracts.registry import DivisionCreate, DivisionRead, Park, ZoneRead
from libs.domain.errors import NotFound, Unprocessable
from libs.domain.values import ZoneKind, ZoneLevel, ZoneStatus
from services.registry.repository import ChangeRepository, DivisionRepository, ZoneStateRepository
from services.registry.tables import Division, ZoneState


def division_read(row: Division) -> DivisionRead:
    """Contract view of a division row."""
    return DivisionRead(
        code=row.code,
        name=row.name,
        valid_from=row.valid_from,
        valid_to=row.valid_to,
        successor=row.successor,
        is_city=row.is_city,
        note=row.note,
    )


def zone_read(row: ZoneState) -> ZoneRead:
    """Contract view of a zone state row."""
    return ZoneRead(
        id=row.zone_id,
        name=row.name,
        kind=ZoneKind(row.kind),
        level=ZoneLevel(row.level),
        status=ZoneStatus(row.status),
        authority=row.authority,
        entrusted_to=row.entrusted_to,
        parks=[Park.model_validate(p) for p in row.parks],
        plaques=list(row.plaques),
        approved_area_km2=row.approved_area_km2,
        established_on=row.established_on,
        legal_basis=row.legal_basis,
        successor=row.successor,
        status_reason=row.status_reason,
        valid_from=row.valid_from,
        valid_to=row.valid_to,
    )


async def record_division(*, session: AsyncSession, actor: Actor, body: DivisionCreate) -> DivisionRead:
    """Record a division (or a new state of one) and end the divisions it replaces."""
    repo = DivisionRepository(session)
    faults: list[dict[str, object]] = []
    existing = await repo.versions(body.code)
    if any(v.valid_from >= body.valid_from for v in existing):
        faults.append(
            {
                "loc": ["body", "valid_from"],
                "msg": f"{body.code} already has a state from this date or later",
                "type": "not_latest",
            }
        )
    replaced: list[Division] = []
    for i, code in enumerate(body.replaces):
        old = await repo.get_valid(code, body.valid_from - timedelta(days=1))
        if old is None or (old.valid_to is not None):
            faults.append(
                {
                    "loc": ["body", "replaces", i],
                    "msg": f"{code} is not in force the day before valid_from",
                    "type": "unknown_division",
                }
            )
        else:
            replaced.append(old)
    if faults:
        raise Unprocessable("the division cannot be recorded", errors=faults)
    now = datetime.now(UTC)
    current = existing[-1] if existing else None
    if current is not None and current.valid_to is None:
        current.valid_to = body.valid_from
    for old in replaced:
        if old.code != body.code:
            old.valid_to = body.valid_from
            old.successor = body.code
    row = Division(
        code=body.code,
        name=body.name,
        valid_from=body.valid_from,
        is_city=body.is_city,
        note=body.note,
        recorded_at=now,
        recorded_by=actor.sub,
    )
    await repo.add(row)
    await ChangeRepository(session).append(
        "division.recorded",
        {"code": body.code, "valid_from": body.valid_from.isoformat(), "replaces": list(body.replaces)},
        now,
    )
    return division_read(row)


async def list_divisions(
    *, session: AsyncSession, as_of: date, after: str | None, limit: int
) -> tuple[list[DivisionRead], str | None]:
    """Divisions in force on ``as_of``; returns the page and the last code when more follow."""
    rows = await DivisionRepository(session).valid_on(as_of, after_code=after, limit=limit + 1)
    more = len(rows) > limit
    rows = rows[:limit]
    return [division_read(r) for r in rows], (rows[-1].code if more and rows else None)


async def get_zone(*, session: AsyncSession, zone_id: str, as_of: date) -> ZoneRead:
    """A zone as it stood on ``as_of``; 404 if it did not exist then."""
    repo = ZoneStateRepository(session)
    row = await repo.get(zone_id, as_of)
    if row is None:
        if await repo.exists(zone_id):
            raise NotFound(f"zone {zone_id} has no recorded state on {as_of.isoformat()}", zone=zone_id)
        raise NotFound(f"zone {zone_id} does not exist", zone=zone_id)
    return zone_read(row)
