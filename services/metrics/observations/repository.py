"""Queries of observations, revisions, batches and idempotency keys.

Bulk paths: on PostgreSQL new observations and revisions go in with ``COPY`` on the
session's own connection (inside its transaction) and existing values are read by joining
``unnest`` arrays; on SQLite plain multi-row statements do the same work.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Table, bindparam, delete, func, insert, select, text, tuple_, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from services.metrics.tables import Batch, IdempotencyKey, Observation, Revision

OBSERVATION_TABLE: Table = Observation.__table__  # type: ignore[assignment]
REVISION_TABLE: Table = Revision.__table__  # type: ignore[assignment]
Key = tuple[str, str, str, str]  # subject_type, subject_id, indicator_code, period
CHAIN_LOCK_KEY = 7_270_001  # pg_advisory_xact_lock key serialising writers of the ledger
SQLITE_CHUNK = 200

OBSERVATION_COLUMNS = (
    "subject_type",
    "subject_id",
    "indicator_code",
    "period",
    "period_end",
    "value",
    "unit",
    "revision",
    "note",
    "pushed_by_division",
    "first_recorded_at",
    "recorded_at",
    "recorded_by",
)
REVISION_COLUMNS = (
    "seq",
    "subject_type",
    "subject_id",
    "indicator_code",
    "indicator_version",
    "period",
    "old_value",
    "new_value",
    "unit",
    "original_value",
    "original_unit",
    "note",
    "recorded_at",
    "recorded_by",
    "recorded_by_division",
    "batch",
    "restatement_reason",
    "lock_id",
    "prev_hash",
    "hash",
)


class ObservationRepository:
    """Current values and the revision ledger."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    @property
    def postgres(self) -> bool:
        return self.session.bind.dialect.name == "postgresql"

    async def _asyncpg(self) -> Any:
        conn = await self.session.connection()
        raw = await conn.get_raw_connection()
        return raw.driver_connection

    async def lock_writes(self) -> None:
        """Serialise writers of the ledger until this transaction ends.

        PostgreSQL: a transaction-level advisory lock. SQLite: a no-op UPDATE takes the
        database's single write lock now, before the current values are read.
        """
        if self.postgres:
            await self.session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": CHAIN_LOCK_KEY})
        else:
            await self.session.execute(text("UPDATE batch SET rows = rows WHERE 1 = 0"))

    async def current(self, keys: Sequence[Key]) -> dict[Key, tuple[int, Decimal, int]]:
        """The stored (id, value, revision) of each key that has a value."""
        out: dict[Key, tuple[int, Decimal, int]] = {}
        if not keys:
            return out
        if self.postgres:
            conn = await self._asyncpg()
            # asyncpg prepares statements; after five runs PostgreSQL may switch to a generic plan
            # that guesses 100 keys and scans the table once per key. Plan for the actual arrays.
            await conn.execute("SET LOCAL plan_cache_mode = force_custom_plan")
            rows = await conn.fetch(
                "SELECT o.id, o.subject_type, o.subject_id, o.indicator_code, o.period, o.value, o.revision "
                "FROM observation o JOIN unnest($1::text[], $2::text[], $3::text[], $4::text[]) "
                "AS k(st, sid, code, p) ON o.subject_type = k.st AND o.subject_id = k.sid "
                "AND o.indicator_code = k.code AND o.period = k.p",
                [k[0] for k in keys],
                [k[1] for k in keys],
                [k[2] for k in keys],
                [k[3] for k in keys],
            )
            for r in rows:
                out[(r[1], r[2], r[3], r[4])] = (r[0], r[5], r[6])
            return out
        cols = (Observation.subject_type, Observation.subject_id, Observation.indicator_code, Observation.period)
        for i in range(0, len(keys), SQLITE_CHUNK):
            chunk = list(keys[i : i + SQLITE_CHUNK])
            stmt = select(Observation.id, *cols, Observation.value, Observation.revision).where(
                tuple_(*cols).in_(chunk)
            )
            for r in await self.session.execute(stmt):
                out[(r[1], r[2], r[3], r[4])] = (r[0], r[5], r[6])
        return out

    async def insert_observations(self, rows: list[tuple[Any, ...]]) -> None:
        """Insert new current values (tuples in :data:`OBSERVATION_COLUMNS` order)."""
        if not rows:
            return
        if self.postgres:
            conn = await self._asyncpg()
            await conn.copy_records_to_table("observation", records=rows, columns=list(OBSERVATION_COLUMNS))
            return
        await self.session.execute(
            insert(OBSERVATION_TABLE), [dict(zip(OBSERVATION_COLUMNS, r, strict=True)) for r in rows]
        )

    async def update_observations(self, rows: list[dict[str, Any]]) -> None:
        """Replace current values by id (dicts with ``oid`` and the changed columns)."""
        if not rows:
            return
        table = OBSERVATION_TABLE
        stmt = (
            update(table)
            .where(table.c.id == bindparam("oid"))
            .values(
                value=bindparam("value"),
                unit=bindparam("unit"),
                revision=bindparam("revision"),
                note=bindparam("note"),
                pushed_by_division=bindparam("pushed_by_division"),
                recorded_at=bindparam("recorded_at"),
                recorded_by=bindparam("recorded_by"),
            )
        )
        await self.session.execute(stmt, rows)

    async def chain_head(self) -> tuple[int, str | None]:
        """The last revision's seq and hash (0 and ``None`` for an empty ledger)."""
        row = (
            await self.session.execute(select(Revision.seq, Revision.hash).order_by(Revision.seq.desc()).limit(1))
        ).first()
        return (int(row[0]), str(row[1])) if row else (0, None)

    async def insert_revisions(self, rows: list[tuple[Any, ...]]) -> None:
        """Append revisions (tuples in :data:`REVISION_COLUMNS` order)."""
        if not rows:
            return
        if self.postgres:
            conn = await self._asyncpg()
            await conn.copy_records_to_table("revision", records=rows, columns=list(REVISION_COLUMNS))
            return
        await self.session.execute(insert(REVISION_TABLE), [dict(zip(REVISION_COLUMNS, r, strict=True)) for r in rows])

    async def add_batch(self, batch: Batch) -> None:
        """Record a stored batch."""
        self.session.add(batch)
        await self.session.flush()

    # --- reads --------------------------------------------------------------------------------

    async def search(
        self,
        *,
        subject: tuple[str, str] | None,
        indicator: str | None,
        period: str | None,
        start: Any | None,
        end: Any | None,
        after_id: int | None,
        limit: int,
    ) -> list[Observation]:
        """Current values matching the filters, by id."""
        stmt = select(Observation).order_by(Observation.id).limit(limit)
        if subject is not None:
            stmt = stmt.where(Observation.subject_type == subject[0], Observation.subject_id == subject[1])
        if indicator is not None:
            stmt = stmt.where(Observation.indicator_code == indicator)
        if period is not None:
            stmt = stmt.where(Observation.period == period)
        if start is not None:
            stmt = stmt.where(Observation.period_end >= start)
        if end is not None:
            stmt = stmt.where(Observation.period_end <= end)
        if after_id is not None:
            stmt = stmt.where(Observation.id > after_id)
        return list(await self.session.scalars(stmt))

    async def history(self, key: Key, *, after_seq: int | None, limit: int) -> list[Revision]:
        """Revisions of one value, oldest first."""
        stmt = (
            select(Revision)
            .where(
                Revision.subject_type == key[0],
                Revision.subject_id == key[1],
                Revision.indicator_code == key[2],
                Revision.period == key[3],
            )
            .order_by(Revision.seq)
            .limit(limit)
        )
        if after_seq is not None:
            stmt = stmt.where(Revision.seq > after_seq)
        return list(await self.session.scalars(stmt))

    async def stream_revisions(self, chunk: int = 5000) -> AsyncIterator[list[Revision]]:
        """Every revision in seq order, a chunk at a time (keyset pagination)."""
        after = 0
        while True:
            rows = list(
                await self.session.scalars(
                    select(Revision).where(Revision.seq > after).order_by(Revision.seq).limit(chunk)
                )
            )
            if not rows:
                return
            yield rows
            after = rows[-1].seq
            self.session.expunge_all()

    async def stream_observations(self, chunk: int = 5000) -> AsyncIterator[list[tuple[Key, Decimal]]]:
        """Every current value (key, value), a chunk at a time."""
        after = 0
        while True:
            rows = (
                await self.session.execute(
                    select(
                        Observation.id,
                        Observation.subject_type,
                        Observation.subject_id,
                        Observation.indicator_code,
                        Observation.period,
                        Observation.value,
                    )
                    .where(Observation.id > after)
                    .order_by(Observation.id)
                    .limit(chunk)
                )
            ).all()
            if not rows:
                return
            yield [((r[1], r[2], r[3], r[4]), r[5]) for r in rows]
            after = rows[-1][0]

    async def count_revisions(self) -> int:
        """How many revisions the ledger holds."""
        return int(await self.session.scalar(select(func.count()).select_from(Revision)) or 0)


class IdempotencyRepository:
    """Idempotency keys, scoped to a token subject."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def try_insert(self, row: IdempotencyKey) -> bool:
        """Insert a new key; ``False`` when (subject, key) already exists."""
        try:
            async with self.session.begin_nested():
                self.session.add(row)
                await self.session.flush()
        except IntegrityError:
            return False
        return True

    async def get(self, subject: str, key: str) -> IdempotencyKey | None:
        """The stored key."""
        return await self.session.get(IdempotencyKey, (subject, key), populate_existing=True)

    async def take_over(self, subject: str, key: str, *, stale_before: datetime, now: datetime) -> bool:
        """Claim a key left running by a request that died; ``False`` if it is still fresh."""
        result = await self.session.execute(
            update(IdempotencyKey)
            .where(
                IdempotencyKey.subject == subject,
                IdempotencyKey.key == key,
                IdempotencyKey.status == "running",
                IdempotencyKey.created_at < stale_before,
            )
            .values(created_at=now)
        )
        return bool(getattr(result, "rowcount", 0))

    async def complete(self, subject: str, key: str, *, status: int, body: dict[str, Any], now: datetime) -> None:
        """Store the answer of a finished request."""
        await self.session.execute(
            update(IdempotencyKey)
            .where(IdempotencyKey.subject == subject, IdempotencyKey.key == key)
            .values(status="done", response_status=status, response_body=body, completed_at=now)
        )

    async def release(self, subject: str, key: str) -> None:
        """Forget a key whose request failed, so that a retry runs again."""
        await self.session.execute(
            delete(IdempotencyKey).where(
                IdempotencyKey.subject == subject, IdempotencyKey.key == key, IdempotencyKey.status == "running"
            )
        )

    async def purge(self, *, before: datetime) -> None:
        """Drop finished keys created before ``before``."""
        await self.session.execute(
            delete(IdempotencyKey).where(IdempotencyKey.created_at < before, IdempotencyKey.status == "done")
        )
