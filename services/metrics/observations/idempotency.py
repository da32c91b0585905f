"""Idempotency keys of the push: claimed before a request runs, completed with its writes, released if it fails."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from libs.domain.kernel.errors import Conflict, Unprocessable
from services.common.db import Database
from services.metrics.observations.repository import IdempotencyRepository
from services.metrics.tables import IdempotencyKey

IDEMPOTENCY_RETENTION = timedelta(hours=48)
"""Keys are kept at least this long (the contract promises 24 hours)."""
RUNNING_TIMEOUT = timedelta(minutes=10)
"""A key still 'running' after this long belonged to a request that died; a retry may take it over."""
PURGE_EVERY = timedelta(minutes=1)
"""How often (at most, per database) a claim deletes the finished keys past their retention."""
_PURGED: dict[str, datetime] = {}  # database URL -> when a claim last deleted the expired keys
_NEVER = datetime.min.replace(tzinfo=UTC)


@dataclass(frozen=True)
class Claim:
    """The outcome of claiming an Idempotency-Key: run the request, or replay a stored answer."""

    replay_status: int | None = None
    replay_body: dict[str, Any] | None = None

    @property
    def replay(self) -> bool:
        return self.replay_status is not None


def _aware(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


async def claim_key(*, db: Database, subject: str, key: str, request_hash: str) -> Claim:
    """Claim ``key`` for this request in a short transaction of its own.

    Same key and request, finished: the stored answer. Same key, other request: 422. Same key
    still running: 409 (a key left running by a dead request is taken over after a while). A
    finished key past its retention is claimed anew, as if it had been deleted: keys past it
    are deleted (:data:`PURGE_EVERY`) by the next claim after a while, not by every claim.

    The claim's commit does not wait for the disk (PostgreSQL): the request's own commit, later
    in the log, does; if the server stops before that, the claim and the request are lost
    together, and the retry runs the request anew.
    """
    now = datetime.now(UTC)
    async with db.sessions() as session:
        repo = IdempotencyRepository(session)
        await repo.commit_without_waiting()
        if now - _PURGED.get(db.url, _NEVER) >= PURGE_EVERY:
            await repo.purge(before=now - IDEMPOTENCY_RETENTION)
            _PURGED[db.url] = now
        row = IdempotencyKey(subject=subject, key=key, request_hash=request_hash, status="running", created_at=now)
        if await repo.try_insert(row):
            await session.commit()
            return Claim()
        existing = await repo.get(subject, key)
        if existing is None:  # released between our insert and our read: a plain retry is fine
            await session.rollback()
            raise Conflict("a request with this Idempotency-Key is finishing; retry", idempotency_key=key)
        expired = now - IDEMPOTENCY_RETENTION
        if existing.status == "done" and _aware(existing.created_at) < expired:
            if not await repo.renew(subject, key, request_hash=request_hash, expired_before=expired, now=now):
                await session.rollback()  # renewed by a concurrent request with the same key
                raise Conflict("a request with this Idempotency-Key is still being processed", idempotency_key=key)
            await session.commit()
            return Claim()
        if existing.request_hash != request_hash:
            await session.commit()
            raise Unprocessable(
                "this Idempotency-Key was used for a different request; use a new key for new content",
                idempotency_key=key,
            )
        if existing.status == "done":
            await session.commit()
            return Claim(existing.response_status or 200, existing.response_body or {})
        if _aware(existing.created_at) > now - RUNNING_TIMEOUT or not await repo.take_over(
            subject, key, stale_before=now - RUNNING_TIMEOUT, now=now
        ):
            await session.rollback()
            raise Conflict("a request with this Idempotency-Key is still being processed", idempotency_key=key)
        await session.commit()
        return Claim()


async def complete_key(*, session: AsyncSession, subject: str, key: str, status: int, body: dict[str, Any]) -> None:
    """Store the answer with the request's own writes (same transaction)."""
    await IdempotencyRepository(session).complete(subject, key, status=status, body=body, now=datetime.now(UTC))


async def release_key(*, db: Database, subject: str, key: str) -> None:
    """Forget the key of a request that failed, in a short transaction of its own."""
    async with db.sessions() as session:
        await IdempotencyRepository(session).release(subject, key)
        await session.commit()
