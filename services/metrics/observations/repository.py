"""Queries of observations, revisions, batches and idempotency keys.

Bulk paths: new observations and revisions arrive as ``COPY`` text lines (the ledger's canonical
lines, for revisions); on PostgreSQL they go in with ``COPY`` on the session's own connection
(inside its transaction) and existing values are read by joining ``unnest`` arrays to the
primary key; on SQLite plain multi-row statements do the same work.
"""

from __future__ import annotations

import io
from collections.abc import AsyncIterator, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Table, bindparam, delete, func, insert, literal, select, text, tuple_, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from libs.domain.metrics_ledger import GENESIS_HASH, REVISION_FIELDS
from services.metrics.tables import Batch, IdempotencyKey, Observation, Revision

OBSERVATION_TABLE: Table = Observation.__table__  # type: ignore[assignment]
REVISION_TABLE: Table = Revision.__table__  # type: ignore[assignment]
Key = tuple[str, str, str, str]  # subject_type, subject_id, indicator_code, period
Current = tuple[Decimal, int, int]  # value, revision count, seq of the latest revision
CHAIN_LOCK_KEY = 7_270_001  # pg_advisory_xact_lock key serialising writers of the ledger
SQLITE_CHUNK = 200

OBSERVATION_COLUMNS = (
    "period",
    "indicator_code",
    "subject_type",
    "subject_id",
    "period_end",
    "value",
    "unit",
    "revision",
    "seq",
    "note",
    "pushed_by_division",
    "first_recorded_at",
    "recorded_at",
    "recorded_by",
)
"""The columns of :meth:`ObservationRepository.insert_observations`' lines, in order."""
REVISION_COLUMNS = REVISION_FIELDS
"""The columns of :meth:`ObservationRepository.insert_revisions`' lines: the ledger's canonical lines."""
_COPY_NULL = "\\N"
_INT = ("revision", "seq", "prev_seq", "indicator_version", "lock_id")
_CONVERT: dict[str, Any] = {
    **dict.fromkeys(_INT, int),
    "period_end": date.fromisoformat,
    "first_recorded_at": datetime.fromisoformat,
    "recorded_at": datetime.fromisoformat,
}


def _split(lines: Sequence[str], columns: Sequence[str]) -> list[dict[str, Any]]:
    """COPY text lines back into parameter dicts (the SQLite path; ``ExactDecimal`` takes the text)."""
    out = []
    for line in lines:
        fields = line[:-1].split("\t")
        row: dict[str, Any] = {}
        for name, field in zip(columns, fields, strict=True):
            if field == _COPY_NULL:
                row[name] = None
            else:
                value = _unescape(field) if "\\" in field else field
                convert = _CONVERT.get(name)
                row[name] = convert(value) if convert else value
        out.append(row)
    return out


def _unescape(field: str) -> str:
    out = []
    i = 0
    while i < len(field):
        c = field[i]
        if c == "\\" and i + 1 < len(field):
            nxt = field[i + 1]
            out.append({"t": "\t", "n": "\n", "r": "\r"}.get(nxt, nxt))
            i += 2
        else:
            out.append(c)
            i += 1
    return "".join(out)


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

    async def current(
        self, subject_types: list[str], subject_ids: list[str], codes: list[str], periods: list[str]
    ) -> dict[Key, Current]:
        """The stored (value, revision, seq) of each key (given as four parallel lists) that has a value."""
        out: dict[Key, Current] = {}
        if not subject_ids:
            return out
        if self.postgres:
            conn = await self._asyncpg()
            # asyncpg prepares statements; after five runs PostgreSQL may switch to a generic plan
            # that guesses 100 keys and scans the table once per key. Plan for the actual arrays.
            await conn.execute("SET LOCAL plan_cache_mode = force_custom_plan")
            rows = await conn.fetch(
                "SELECT o.subject_type, o.subject_id, o.indicator_code, o.period, o.value, o.revision, o.seq "
                "FROM unnest($1::text[], $2::text[], $3::text[], $4::text[]) AS k(st, sid, code, p) "
                "JOIN observation o ON o.period = k.p AND o.indicator_code = k.code "
                "AND o.subject_type = k.st AND o.subject_id = k.sid",
                subject_types,
                subject_ids,
                codes,
                periods,
            )
            for r in rows:
                out[(r[0], r[1], r[2], r[3])] = (r[4], r[5], r[6])
            return out
        cols = (Observation.subject_type, Observation.subject_id, Observation.indicator_code, Observation.period)
        keys = list(zip(subject_types, subject_ids, codes, periods, strict=True))
        for i in range(0, len(keys), SQLITE_CHUNK):
            chunk = keys[i : i + SQLITE_CHUNK]
            stmt = select(*cols, Observation.value, Observation.revision, Observation.seq).where(
                tuple_(*cols).in_(chunk)
            )
            for r in await self.session.execute(stmt):
                out[(r[0], r[1], r[2], r[3])] = (r[4], r[5], r[6])
        return out

    async def exists(self, key: Key) -> bool:
        """Whether ``key`` has a current value."""
        o = Observation
        stmt = select(o.seq).where(
            o.period == key[3], o.indicator_code == key[2], o.subject_type == key[0], o.subject_id == key[1]
        )
        return (await self.session.scalar(stmt)) is not None

    async def _copy(self, table: str, columns: Sequence[str], lines: Sequence[str]) -> None:
        if self.postgres:
            conn = await self._asyncpg()
            data = "".join(lines).encode()
            await conn.copy_to_table(table, source=io.BytesIO(data), columns=list(columns), format="text")
            return
        target = OBSERVATION_TABLE if table == "observation" else REVISION_TABLE
        rows = _split(lines, columns)
        for i in range(0, len(rows), 5000):
            await self.session.execute(insert(target), rows[i : i + 5000])

    async def insert_observations(self, lines: Sequence[str]) -> None:
        """Insert new current values (``COPY`` text lines of :data:`OBSERVATION_COLUMNS`)."""
        if lines:
            await self._copy("observation", OBSERVATION_COLUMNS, lines)

    async def update_observations(self, rows: list[dict[str, Any]]) -> None:
        """Replace current values by key (dicts with the key as ``k_*`` and the changed columns)."""
        if not rows:
            return
        table = OBSERVATION_TABLE
        stmt = (
            update(table)
            .where(
                table.c.period == bindparam("k_period"),
                table.c.indicator_code == bindparam("k_code"),
                table.c.subject_type == bindparam("k_type"),
                table.c.subject_id == bindparam("k_id"),
            )
            .values(
                value=bindparam("value"),
                unit=bindparam("unit"),
                revision=bindparam("revision"),
                seq=bindparam("seq"),
                note=bindparam("note"),
                pushed_by_division=bindparam("pushed_by_division"),
                recorded_at=bindparam("recorded_at"),
                recorded_by=bindparam("recorded_by"),
            )
        )
        await self.session.execute(stmt, rows)

    async def chain_head(self) -> tuple[int, str]:
        """The last revision's seq and the last batch's hash (0 and the genesis hash for an empty ledger)."""
        row = (
            await self.session.execute(
                select(Batch.first_seq, Batch.revisions, Batch.hash).order_by(Batch.first_seq.desc()).limit(1)
            )
        ).first()
        if row is None:
            return 0, GENESIS_HASH
        return int(row[0]) + int(row[1]) - 1, str(row[2])

    async def insert_revisions(self, lines: Sequence[str]) -> None:
        """Append revisions (the ledger's canonical lines, which are ``COPY`` text lines)."""
        if lines:
            await self._copy("revision", REVISION_COLUMNS, lines)

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
        after: Key | None,
        limit: int,
    ) -> list[Observation]:
        """Current values matching the filters, in key order (period, indicator, subject)."""
        o = Observation
        order = (o.period, o.indicator_code, o.subject_type, o.subject_id)
        stmt = select(o).order_by(*order).limit(limit)
        if subject is not None:
            stmt = stmt.where(o.subject_type == subject[0], o.subject_id == subject[1])
        if indicator is not None:
            stmt = stmt.where(o.indicator_code == indicator)
        if period is not None:
            stmt = stmt.where(o.period == period)
        if start is not None:
            stmt = stmt.where(o.period_end >= start)
        if end is not None:
            stmt = stmt.where(o.period_end <= end)
        if after is not None:
            stmt = stmt.where(tuple_(*order) > tuple_(*(literal(v) for v in after)))
        return list(await self.session.scalars(stmt))

    async def history(self, key: Key, *, after_seq: int | None, limit: int) -> list[tuple[Revision, Batch]]:
        """Revisions of one value with their batches, oldest first (a walk of ``prev_seq`` links)."""
        o = Observation
        start = (
            select(o.seq.label("seq"))
            .where(o.subject_type == key[0], o.subject_id == key[1], o.indicator_code == key[2], o.period == key[3])
            .cte("chain", recursive=True)
        )
        step = (
            select(Revision.prev_seq.label("seq"))
            .join(start, Revision.seq == start.c.seq)
            .where(Revision.prev_seq.is_not(None))
        )
        chain = start.union_all(step)
        stmt = (
            select(Revision, Batch)
            .join(chain, Revision.seq == chain.c.seq)
            .join(Batch, Batch.id == Revision.batch)
            .order_by(Revision.seq)
            .limit(limit)
        )
        if after_seq is not None:
            stmt = stmt.where(Revision.seq > after_seq)
        return [(r, b) for r, b in (await self.session.execute(stmt)).all()]

    async def batches(self) -> list[Batch]:
        """Every batch of the ledger, in chain order."""
        return list(await self.session.scalars(select(Batch).order_by(Batch.first_seq)))

    async def revision_after(self, seq: int) -> Revision | None:
        """The first revision stored after ``seq``."""
        stmt = select(Revision).where(Revision.seq > seq).order_by(Revision.seq).limit(1)
        return (await self.session.scalars(stmt)).first()

    async def stream_revisions(self, chunk: int = 5000) -> AsyncIterator[list[Revision]]:
        """Every revision in seq order, a chunk at a time (keyset pagination on the primary key)."""
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
        """Every current value (key, value), a chunk at a time (keyset pagination on the primary key)."""
        o = Observation
        order = (o.period, o.indicator_code, o.subject_type, o.subject_id)
        after: tuple[str, ...] | None = None
        while True:
            stmt = select(*order, o.value).order_by(*order).limit(chunk)
            if after is not None:
                stmt = stmt.where(tuple_(*order) > tuple_(*(literal(v) for v in after)))
            rows = (await self.session.execute(stmt)).all()
            if not rows:
                return
            yield [((r[2], r[3], r[1], r[0]), r[4]) for r in rows]
            after = (rows[-1][0], rows[-1][1], rows[-1][2], rows[-1][3])

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
