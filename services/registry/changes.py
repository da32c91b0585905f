"""The ordered feed of registry changes that other services' caches follow."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from libs.domain.registry.contracts import ChangeFeed, ChangeRead
from services.common.pagination import encode_cursor
from services.registry import repository as repo


async def change_feed(*, session: AsyncSession, after: int, limit: int) -> ChangeFeed:
    """The change feed after ``after``: ``next_cursor`` is always set, after the last change given
    (or where the caller was, when none followed), so a follower keeps polling from it."""
    rows = await repo.ChangeRepository(session).after(after, limit)
    last = rows[-1].id if rows else after
    return ChangeFeed(
        items=[ChangeRead(id=r.id, occurred_at=r.occurred_at, type=r.type, payload=payload(r.payload)) for r in rows],
        next_cursor=encode_cursor(last),
    )


def payload(stored: dict[str, Any]) -> dict[str, Any]:
    """A change's payload as the API writes it.

    The stored payload names the act ``reorganisation`` (a number) and its zones ``zones``; the
    answer writes the act id as a string and the zones as ``zone_ids``, as everywhere in the API."""
    out = {("zone_ids" if k == "zones" else k): v for k, v in stored.items()}
    if isinstance(out.get("reorganisation"), int):
        out["reorganisation"] = str(out["reorganisation"])
    return out
