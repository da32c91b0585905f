"""One ``Idempotency-Key`` policy for every write of every service that takes the header.

A key belongs to the token subject that sent it. The policy:

- **claim**: the first request with a key claims it in a short transaction of its own
  (status ``running``), runs, and stores its answer in the *same* transaction as its writes
  (:meth:`Idempotency.complete`), so the answer exists exactly when the writes do;
- **replay**: a later request with the same key and the same request fingerprint gets the stored
  answer (status and body) instead of running again;
- **another body**: the same key with a different fingerprint is a 422 problem;
- **in flight**: the same key while the first request still runs is a 409 problem; a key left
  ``running`` by a request that died is taken over after :data:`RUNNING_TIMEOUT`;
- **failure**: a request that fails releases its key (a retry runs anew);
- **retention**: finished keys are kept :data:`RETENTION`; past it a key is claimed anew, as if
  it had been deleted, and expired keys are deleted every :data:`PURGE_EVERY` by some claim.

Each service keeps its keys in its own ``idempotency_key`` table declared with
:class:`IdempotencyKeyColumns`; :class:`KeyStore` is what the policy needs of it and
:class:`SqlKeyStore` implements it for any such table.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol, TypeVar

from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy import JSON, DateTime, Integer, String, delete, null, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from libs.domain.kernel.errors import Conflict, Unprocessable
from libs.domain.kernel.i18n import Text
from services.common.audit import exempt
from services.common.db import Database, UtcDateTime

RETENTION = timedelta(hours=48)
RUNNING_TIMEOUT = timedelta(minutes=10)
PURGE_EVERY = timedelta(minutes=1)
MAX_KEY_LENGTH = 200
REPLAYED_HEADER = "Idempotent-Replayed"


class IdempotencyKeyColumns:
    """The columns of a service's ``idempotency_key`` table (mix into the service's ``Base``)."""

    __tablename__ = "idempotency_key"

    subject: Mapped[str] = mapped_column(String(200), primary_key=True)
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    request_hash: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16))
    response_status: Mapped[int | None] = mapped_column(Integer)
    response_body: Mapped[Any] = mapped_column(JSON, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    completed_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


def fingerprint(document: Any) -> str:
    """The request fingerprint of a JSON-like request document: SHA-256 of its JSON with sorted
    keys and no whitespace (dates and decimals as their ``str``).

    Not the kernel's canonical JSON: that one refuses NaN, which a request body may hold (Python's
    JSON parser reads ``NaN``), and a fingerprint must never turn a request into an error."""
    text = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class StoredKey:
    """What a store remembers of a key."""

    request_hash: str
    status: str  # "running" or "done"
    created_at: datetime
    response_status: int | None = None
    response_body: Any = None


@dataclass(frozen=True, slots=True)
class Claim:
    """The outcome of claiming a key: run the request (``replay`` False), or answer the stored one."""

    replay_status: int | None = None
    replay_body: Any = None

    @property
    def replay(self) -> bool:
        """True when the request must not run: its stored answer is the answer."""
        return self.replay_status is not None


class KeyStore(Protocol):
    """What the policy needs of a service's key table, inside one session's transaction."""

    async def commit_without_waiting(self) -> None:
        """Let the claim's commit return before it reaches the disk, where the backend can."""

    async def insert_running(self, subject: str, key: str, request_hash: str, now: datetime) -> bool:
        """Insert a new ``running`` key; False when the subject already has that key."""

    async def get(self, subject: str, key: str) -> StoredKey | None:
        """The stored key, read afresh."""

    async def renew(self, subject: str, key: str, request_hash: str, expired_before: datetime, now: datetime) -> bool:
        """Re-claim a finished key created before ``expired_before``; False if it is not one."""

    async def take_over(self, subject: str, key: str, stale_before: datetime, now: datetime) -> bool:
        """Re-claim a key left running since before ``stale_before``; False if it is fresher."""

    async def complete(self, subject: str, key: str, status: int, body: Any, now: datetime) -> None:
        """Store the answer of the request that holds the key."""

    async def release(self, subject: str, key: str) -> None:
        """Forget a running key whose request failed."""

    async def purge(self, before: datetime) -> None:
        """Delete finished keys created before ``before``."""


class SqlKeyStore:
    """:class:`KeyStore` over a table declared with :class:`IdempotencyKeyColumns`."""

    def __init__(self, session: AsyncSession, model: type[IdempotencyKeyColumns]) -> None:
        self.session = session
        self.model: Any = model

    async def commit_without_waiting(self) -> None:
        if self.session.bind.dialect.name == "postgresql":
            await self.session.execute(text("SET LOCAL synchronous_commit = off"))

    async def insert_running(self, subject: str, key: str, request_hash: str, now: datetime) -> bool:
        # One INSERT … ON CONFLICT DO NOTHING, not a savepoint around an insert: nothing to roll back.
        values = {"subject": subject, "key": key, "request_hash": request_hash, "status": "running", "created_at": now}
        dialect = self.session.bind.dialect.name
        if dialect in ("postgresql", "sqlite"):
            make = pg_insert if dialect == "postgresql" else sqlite_insert
            stmt = make(self.model).values(**values).on_conflict_do_nothing(index_elements=["subject", "key"])
            return bool(getattr(await self.session.execute(stmt), "rowcount", 0))
        try:
            async with self.session.begin_nested():
                self.session.add(self.model(**values))
                await self.session.flush()
        except IntegrityError:
            return False
        return True

    async def get(self, subject: str, key: str) -> StoredKey | None:
        row = await self.session.get(self.model, (subject, key), populate_existing=True)
        if row is None:
            return None
        created = row.created_at if row.created_at.tzinfo is not None else row.created_at.replace(tzinfo=UTC)
        return StoredKey(row.request_hash, row.status, created, row.response_status, row.response_body)

    def _where(self, subject: str, key: str, *conditions: Any) -> Any:
        m = self.model
        return update(m).where(m.subject == subject, m.key == key, *conditions)

    async def renew(self, subject: str, key: str, request_hash: str, expired_before: datetime, now: datetime) -> bool:
        m = self.model
        result = await self.session.execute(
            self._where(subject, key, m.status == "done", m.created_at < expired_before)
            .values(
                request_hash=request_hash,
                status="running",
                response_status=None,
                response_body=null(),
                created_at=now,
                completed_at=None,
            )
            .execution_options(synchronize_session=False)
        )
        return bool(getattr(result, "rowcount", 0))

    async def take_over(self, subject: str, key: str, stale_before: datetime, now: datetime) -> bool:
        m = self.model
        stmt = self._where(subject, key, m.status == "running", m.created_at < stale_before).values(created_at=now)
        return bool(getattr(await self.session.execute(stmt), "rowcount", 0))

    async def complete(self, subject: str, key: str, status: int, body: Any, now: datetime) -> None:
        answer = {"status": "done", "response_status": status, "response_body": body, "completed_at": now}
        await self.session.execute(self._where(subject, key).values(**answer))

    async def release(self, subject: str, key: str) -> None:
        m = self.model
        await self.session.execute(delete(m).where(m.subject == subject, m.key == key, m.status == "running"))

    async def purge(self, before: datetime) -> None:
        m = self.model
        await self.session.execute(delete(m).where(m.created_at < before, m.status == "done"))


def _in_flight(key: str) -> Conflict:
    return Conflict(
        Text("使用此 Idempotency-Key 的请求仍在处理中", "a request with this Idempotency-Key is still being processed"),
        code="idempotency_key_in_flight",
        idempotency_key=key,
    )


@dataclass(eq=False)
class Idempotency:
    """The policy over one service's key table (one instance per app: it remembers when it purged)."""

    db: Database
    model: type[IdempotencyKeyColumns]
    retention: timedelta = RETENTION
    running_timeout: timedelta = RUNNING_TIMEOUT
    _purged_at: datetime = field(default=datetime.min.replace(tzinfo=UTC), init=False)

    def store(self, session: AsyncSession) -> KeyStore:
        """The key store inside ``session``."""
        return SqlKeyStore(session, self.model)

    async def claim(self, *, subject: str, key: str, request_hash: str) -> Claim:
        """Claim ``key`` for this request in a short transaction of its own.

        The claim's commit does not wait for the disk (PostgreSQL): the request's own commit,
        later in the log, does; if the server stops before that, the claim and the request are
        lost together, and the retry runs the request anew.
        """
        now = datetime.now(UTC)
        async with self.db.sessions() as session:
            exempt(session)  # bookkeeping: the request's own transaction is the audited write
            store = self.store(session)
            await store.commit_without_waiting()
            if now - self._purged_at >= PURGE_EVERY:
                await store.purge(now - self.retention)
                self._purged_at = now
            if await store.insert_running(subject, key, request_hash, now):
                await session.commit()
                return Claim()
            claim = await self._existing(store, subject, key, request_hash, now)
            await session.commit()
            return claim

    async def _existing(self, store: KeyStore, subject: str, key: str, request_hash: str, now: datetime) -> Claim:
        """The answer to a claim of a key the store already holds (raises a problem, or returns)."""
        existing = await store.get(subject, key)
        if existing is None:  # released between our insert and our read: a plain retry is fine
            raise Conflict(
                Text(
                    "使用此 Idempotency-Key 的请求即将完成，请重试",
                    "a request with this Idempotency-Key is finishing; retry",
                ),
                code="idempotency_key_in_flight",
                idempotency_key=key,
            )
        expired = now - self.retention
        if existing.status == "done" and existing.created_at < expired:
            if not await store.renew(subject, key, request_hash, expired, now):
                raise _in_flight(key)  # renewed by a concurrent request with the same key
            return Claim()
        if existing.request_hash != request_hash:
            raise Unprocessable(
                Text(
                    "此 Idempotency-Key 已用于另一个请求；新的内容请使用新的键",
                    "this Idempotency-Key was used for a different request; use a new key for new content",
                ),
                code="idempotency_key_reused",
                idempotency_key=key,
                errors=[
                    {
                        "loc": ["header", "Idempotency-Key"],
                        "msg": Text("此键已随另一个请求体使用过", "reused with another body"),
                        "type": "reuse",
                    }
                ],
            )
        if existing.status == "done":
            return Claim(existing.response_status or 200, existing.response_body)
        stale = now - self.running_timeout
        if existing.created_at > stale or not await store.take_over(subject, key, stale, now):
            raise _in_flight(key)
        return Claim()

    async def complete(self, session: AsyncSession, *, subject: str, key: str, status: int, body: Any) -> None:
        """Store the answer with the request's own writes (same transaction)."""
        await self.store(session).complete(subject, key, status, body, datetime.now(UTC))

    async def release(self, *, subject: str, key: str) -> None:
        """Forget the key of a request that failed, in a short transaction of its own."""
        async with self.db.sessions() as session:
            exempt(session)
            await self.store(session).release(subject, key)
            await session.commit()


T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Keyed:
    """A write's idempotency: who sent it, with which key (``None``: none), and its fingerprint."""

    subject: str
    key: str | None
    request_hash: str

    @classmethod
    def of(cls, subject: str, key: str | None, body: BaseModel, *, route: str | None = None) -> Keyed:
        """``body``'s idempotency; the body is fingerprinted only when a key was sent (a request
        without one claims nothing). ``route`` names the action when the body alone does not (a
        publication's body does not say which run): the same key sent to another run is then
        another request (a 422), never a replay of the first."""
        if key is None:
            return cls(subject, key, "")
        document = body.model_dump(mode="json")
        return cls(subject, key, fingerprint(document if route is None else {"route": route, "body": document}))


async def idempotent(
    policy: Idempotency,
    session: AsyncSession,
    request: Keyed,
    run: Callable[[], Awaitable[T]],
    answer: Callable[[T], tuple[int, Any]],
) -> T | JSONResponse:
    """Run a write under the policy: without a key it just runs; with one it claims the key, runs,
    and stores ``answer(result)`` (the status and JSON body a replay will answer) in the write's own
    transaction, or answers a replay (``Idempotent-Replayed: true``). A failure releases the key."""
    if request.key is None:
        return await run()
    claim = await policy.claim(subject=request.subject, key=request.key, request_hash=request.request_hash)
    if claim.replay:
        status = claim.replay_status or 200
        return JSONResponse(claim.replay_body, status_code=status, headers={REPLAYED_HEADER: "true"})
    try:
        result = await run()
        status, body = answer(result)
        await policy.complete(session, subject=request.subject, key=request.key, status=status, body=body)
    except BaseException:
        # Roll back first: on SQLite the request's transaction may hold the single write lock.
        await session.rollback()
        await policy.release(subject=request.subject, key=request.key)
        raise
    return result
