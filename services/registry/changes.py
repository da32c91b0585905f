"""The ordered feed of registry changes that other services' caches follow."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from libs.domain.registry.contracts import ChangeFeed, ChangeRead
from services.common.pagination import encode_cursor
from services.registry import repository as repo


async def change_feed(*, session: AsyncSession, after: int, limit: int) -> ChangeFeed:
    """The change feed after ``after``."""
    rows = await repo.ChangeRepository(session).after(after, limit + 1)
    more = len(rows) > limit
    rows = rows[:limit]
    last = rows[-1].id if rows else after
    return ChangeFeed(
        items=[ChangeRead(id=r.id, occurred_at=r.occurred_at, type=r.type, payload=dict(r.payload)) for r in rows],
        next_cursor=encode_cursor(last),
        has_more=more,
    )
