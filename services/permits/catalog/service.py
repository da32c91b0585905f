"""The catalog use cases: a zone's bureau, its approval items, the public power list."""

from __future__ import annotations

import time
from datetime import date, datetime
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from libs.domain.kernel.contracts import Actor
from libs.domain.kernel.errors import (
    Conflict,
    NotFound,
    Unprocessable,
)
from libs.domain.kernel.i18n import Text
from libs.domain.kernel.values import Role
from libs.domain.permits.contracts import (
    BureauRead,
    BureauWrite,
    Fee,
    ItemCreate,
    ItemRead,
    MaterialSpec,
    PowerListEntry,
    StageSpec,
)
from libs.domain.registry.contracts import ZoneRead
from services.permits.catalog.repository import CatalogRepository
from services.permits.shared import check_if_match, new_id, require_zone_role, utcnow
from services.permits.tables import Bureau, CatalogItem

ZONE_CACHE_SECONDS = 60.0


class ZoneLookup(Protocol):
    """What this service needs of the registry client (the real one or its Fake)."""

    async def get_zone(self, zone_id: str, *, as_of: date | None = None) -> ZoneRead: ...


async def ensure_zone(*, registry: ZoneLookup, cache: dict[str, float], zone_id: str, loc: list[str | int]) -> None:
    """Check with the registry that ``zone_id`` exists (422 if not, 503 if the registry is down).

    A positive answer is remembered for a minute in ``cache`` (owned by the app), so a burst of
    applications does not call the registry once each.
    """
    expires = cache.get(zone_id)
    if expires is not None and expires > time.monotonic():
        return
    try:
        await registry.get_zone(zone_id)
    except NotFound as exc:
        raise Unprocessable(
            Text(f"开发区 {zone_id} 在名录中不存在", f"zone {zone_id} does not exist in the registry"),
            errors=[
                {
                    "loc": loc,
                    "msg": Text("未知的开发区", "unknown zone"),
                    "type": "unknown_zone",
                    "code": "unknown_zone",
                }
            ],
            code="unknown_zone",
        ) from exc
    cache[zone_id] = time.monotonic() + ZONE_CACHE_SECONDS


def _bureau_read(row: Bureau) -> BureauRead:
    return BureauRead(
        zone_id=row.zone,
        name=row.name,
        document_prefix=row.document_prefix,
        seal=row.seal,
        updated_at=row.updated_at,
        updated_by=row.updated_by,
    )


async def put_bureau(
    *,
    session: AsyncSession,
    registry: ZoneLookup,
    zone_cache: dict[str, float],
    actor: Actor,
    zone: str,
    body: BureauWrite,
) -> BureauRead:
    """Configure a zone's bureau (city admin, or that zone's bureau admin)."""
    require_zone_role(actor, zone, Role.BUREAU_ADMIN)
    await ensure_zone(registry=registry, cache=zone_cache, zone_id=zone, loc=["path", "zone_id"])
    row = await CatalogRepository(session).upsert_bureau(
        {
            "zone": zone,
            "name": body.name,
            "document_prefix": body.document_prefix,
            "seal": body.seal,
            "updated_at": utcnow(),
            "updated_by": actor.sub,
        }
    )
    return _bureau_read(row)


async def get_bureau(*, session: AsyncSession, zone: str) -> BureauRead:
    """A zone's bureau (404 until configured)."""
    row = await CatalogRepository(session).bureau(zone)
    if row is None:
        raise NotFound(
            Text(f"开发区 {zone} 尚未设立审批局", f"zone {zone} has no approval bureau configured"),
            code="bureau_not_found",
        )
    return _bureau_read(row)


def _item_read(row: CatalogItem) -> ItemRead:
    return ItemRead(
        id=row.id,
        code=row.code,
        name=row.name,
        zone_id=row.zone,
        legal_basis=row.legal_basis,
        statutory_limit_days=row.statutory_limit_days,
        promised_limit_days=row.promised_limit_days,
        max_extension_days=row.max_extension_days,
        stages=[StageSpec.model_validate(s) for s in row.stages],
        materials=[MaterialSpec.model_validate(m) for m in row.materials],
        accept_pending_minor=row.accept_pending_minor,
        land_use_check=row.land_use_check,
        fee=Fee(amount_yuan=row.fee_yuan, waived=row.fee_waived, note=row.fee_note),
        responsibility=row.responsibility,
        note=row.note,
        version=row.version,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def _apply_item(row: CatalogItem, body: ItemCreate, actor: Actor, now: datetime) -> None:
    row.code, row.name, row.zone, row.legal_basis = body.code, body.name, body.zone_id, body.legal_basis
    row.statutory_limit_days, row.promised_limit_days = body.statutory_limit_days, body.promised_limit_days
    row.max_extension_days = body.max_extension_days
    row.stages = [s.model_dump(mode="json") for s in body.stages]
    row.materials = [m.model_dump(mode="json") for m in body.materials]
    row.accept_pending_minor, row.land_use_check = body.accept_pending_minor, body.land_use_check
    row.fee_yuan, row.fee_waived, row.fee_note = body.fee.amount_yuan, body.fee.waived, body.fee.note
    row.responsibility, row.note = body.responsibility, body.note
    row.updated_at, row.updated_by = now, actor.sub


def _code_taken(zone: str, code: str) -> Text:
    return Text(f"开发区 {zone} 已有编码为 {code!r} 的事项", f"zone {zone} already has an item with code {code!r}")


def _no_item(item_id: str) -> Text:
    return Text(f"事项 {item_id} 不存在", f"item {item_id} does not exist")


async def create_item(
    *, session: AsyncSession, registry: ZoneLookup, zone_cache: dict[str, float], actor: Actor, body: ItemCreate
) -> ItemRead:
    """Add an approval item to a zone bureau's catalog (409 if the code is taken in that zone)."""
    require_zone_role(actor, body.zone_id, Role.BUREAU_ADMIN)
    await ensure_zone(registry=registry, cache=zone_cache, zone_id=body.zone_id, loc=["body", "zone_id"])
    repo = CatalogRepository(session)
    existing = await repo.item_by_code(body.zone_id, body.code)
    if existing is not None:
        raise Conflict(_code_taken(body.zone_id, body.code), code="item_code_taken", item=existing.id)
    now = utcnow()
    row = CatalogItem(id=new_id(), version=1, created_at=now)
    _apply_item(row, body, actor, now)
    if not await repo.add_item(row):
        raise Conflict(_code_taken(body.zone_id, body.code), code="item_code_taken")
    return _item_read(row)


async def update_item(
    *,
    session: AsyncSession,
    actor: Actor,
    item_id: str,
    body: ItemCreate,
    if_match: str | None,
) -> ItemRead:
    """Replace an item (cases already submitted keep the version they were submitted under)."""
    repo = CatalogRepository(session)
    row = await repo.item_for_update(item_id)
    if row is None:
        raise NotFound(_no_item(item_id), code="item_not_found")
    require_zone_role(actor, row.zone, Role.BUREAU_ADMIN)
    check_if_match(if_match, row.version)
    if body.zone_id != row.zone:
        raise Unprocessable(
            Text("事项不能转到其他开发区", "an item cannot move to another zone"),
            errors=[
                {
                    "loc": ["body", "zone_id"],
                    "msg": Text(f"应保持为 {row.zone}", f"must stay {row.zone}"),
                    "type": "immutable",
                    "code": "item_zone_immutable",
                }
            ],
            code="item_zone_immutable",
        )
    if body.code != row.code and await repo.item_by_code(row.zone, body.code) is not None:
        raise Conflict(_code_taken(row.zone, body.code), code="item_code_taken")
    _apply_item(row, body, actor, utcnow())
    row.version += 1
    await repo.flush()
    return _item_read(row)


async def get_item(*, session: AsyncSession, item_id: str) -> ItemRead:
    """One item."""
    row = await CatalogRepository(session).item(item_id)
    if row is None:
        raise NotFound(_no_item(item_id), code="item_not_found")
    return _item_read(row)


async def list_items(
    *, session: AsyncSession, zone: str | None, after: str | None, limit: int
) -> tuple[list[ItemRead], str | None]:
    """The catalog (of a zone), ordered by zone and code; the second value is the next cursor."""
    rows = await CatalogRepository(session).items(zone=zone, after=after, limit=limit + 1)
    more = len(rows) > limit
    rows = rows[:limit]
    return [_item_read(r) for r in rows], (f"{rows[-1].zone}/{rows[-1].code}" if more else None)


async def power_list(
    *, session: AsyncSession, zone: str | None, after: str | None, limit: int
) -> tuple[list[PowerListEntry], str | None]:
    """The public list of powers and responsibilities (权力清单、责任清单)."""
    repo = CatalogRepository(session)
    rows = await repo.items(zone=zone, after=after, limit=limit + 1)
    more = len(rows) > limit
    rows = rows[:limit]
    bureaus = await repo.bureaus([r.zone for r in rows])
    out = []
    for r in rows:
        departments: list[str] = []
        for stage in r.stages:
            departments += [d for d in stage["departments"] if d not in departments]
        bureau = bureaus.get(r.zone)
        out.append(
            PowerListEntry(
                zone_id=r.zone,
                bureau=bureau.name if bureau else None,
                code=r.code,
                name=r.name,
                legal_basis=r.legal_basis,
                statutory_limit_days=r.statutory_limit_days,
                promised_limit_days=r.promised_limit_days,
                departments=departments,
                fee=Fee(amount_yuan=r.fee_yuan, waived=r.fee_waived, note=r.fee_note),
                responsibility=r.responsibility,
            )
        )
    return out, (f"{rows[-1].zone}/{rows[-1].code}" if more else None)
