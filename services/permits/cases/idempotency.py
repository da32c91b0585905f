"""The intake's idempotency, all in one place: a retry with the same ``Idempotency-Key`` by the
same caller answers the case made first, also when the first is still being written."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import StringConstraints, TypeAdapter

from libs.domain.kernel.errors import Conflict
from services.permits.cases.context import IntakeContext
from services.permits.cases.documents import read_document

IDEMPOTENCY_KEY_MAX = 200
"""The longest ``Idempotency-Key`` header taken."""

IDEMPOTENCY_KEY = TypeAdapter(Annotated[str, StringConstraints(max_length=IDEMPOTENCY_KEY_MAX)])
"""The header as the hot intake route validates it (as the declared route does)."""


async def earlier_answer(ctx: IntakeContext, key: str | None) -> dict[str, Any] | None:
    """The case the caller already made with ``key``, as the intake answers it; ``None`` if none."""
    if key is None:
        return None
    repo = ctx.repo()
    existing = await repo.by_idempotency_key(ctx.actor.sub, key)
    if existing is None:
        return None
    return await read_document(repo, ctx.official, existing, ctx.today, ctx.actor)


async def winner_answer(ctx: IntakeContext, key: str | None) -> dict[str, Any]:
    """The case a concurrent retry with the same ``key`` stored first (the intake's own write found
    the key taken), as the intake answers it."""
    repo = ctx.repo()
    existing = await repo.by_idempotency_key(ctx.actor.sub, key or "")
    if existing is None:
        raise Conflict("the application could not be stored; retry")
    return await read_document(repo, ctx.official, existing, ctx.today, ctx.actor)
