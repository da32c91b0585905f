"""Queries of the catalog: bureaus and approval items."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.permits.sql import dialect_insert, insert_unique, lock_row
from services.permits.tables import (
    Bureau,
    CatalogItem,
)


class CatalogRepository:
    """Bureaus and approval items."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def bureau(self, zone: str) -> Bureau | None:
        """The bureau of ``zone``."""
        return await self.session.get(Bureau, zone)

    async def bureaus(self, zones: Sequence[str]) -> dict[str, Bureau]:
        """The bureaus of ``zones``."""
        if not zones:
            return {}
        rows = await self.session.scalars(select(Bureau).where(Bureau.zone.in_(set(zones))))
        return {b.zone: b for b in rows}

    async def add(self, row: Bureau | CatalogItem) -> None:
        """Insert a bureau or an item."""
        self.session.add(row)
        await self.session.flush()

    async def flush(self) -> None:
        """Write pending changes."""
        await self.session.flush()

    async def upsert_bureau(self, values: dict[str, Any]) -> Bureau:
        """Create or replace a zone's bureau in one statement (concurrent writers: the last wins)."""
        stmt = dialect_insert(self.session)(Bureau).values(**values)
        changed = {k: v for k, v in values.items() if k != "zone"}
        await self.session.execute(stmt.on_conflict_do_update(index_elements=["zone"], set_=changed))
        row = await self.session.scalar(
            select(Bureau).where(Bureau.zone == values["zone"]).execution_options(populate_existing=True)
        )
        assert row is not None
        return row

    async def add_item(self, row: CatalogItem) -> bool:
        """Insert a new item as the transaction's first write; False if its code was just taken."""
        return await insert_unique(self.session, row)

    async def item_for_update(self, item_id: str) -> CatalogItem | None:
        """The item, locked until the transaction ends (no lost updates between two editors)."""
        return await lock_row(self.session, CatalogItem, CatalogItem.id, item_id, CatalogItem.version)

    async def item(self, item_id: str) -> CatalogItem | None:
        """The item ``item_id``."""
        return await self.session.get(CatalogItem, item_id)

    async def item_by_code(self, zone: str, code: str) -> CatalogItem | None:
        """The item of ``zone`` with ``code``."""
        row: CatalogItem | None = await self.session.scalar(
            select(CatalogItem).where(CatalogItem.zone == zone, CatalogItem.code == code)
        )
        return row

    async def items(self, *, zone: str | None, after: str | None, limit: int) -> list[CatalogItem]:
        """Items (of ``zone``) ordered by zone and code, after the cursor ``zone/code``."""
        q = select(CatalogItem)
        if zone is not None:
            q = q.where(CatalogItem.zone == zone)
        if after is not None:
            z, _, c = after.partition("/")
            q = q.where(or_(CatalogItem.zone > z, and_(CatalogItem.zone == z, CatalogItem.code > c)))
        q = q.order_by(CatalogItem.zone, CatalogItem.code).limit(limit)
        return list(await self.session.scalars(q))
