"""Queries of observations, revisions and batches: the push's writes and the readers' reads.

The tables are system-versioned: ``observation`` holds each value's current version (all the
fields of its revision), ``revision`` the superseded ones. Bulk paths: new versions arrive as
``COPY`` text lines (a prefix, then the ledger's canonical line); on PostgreSQL they go in with
``COPY`` on the session's own connection (inside its transaction), existing values are read and
superseded versions moved to the history by joining ``unnest`` arrays to the primary key; on
SQLite plain multi-row statements do the same work.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Collection, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import msgspec
from sqlalchemy import Table, and_, delete, exists, func, insert, literal, or_, select, text, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from libs.domain.metrics.ledger import GENESIS_HASH, REVISION_FIELDS
from services.common.audit import wrote
from services.metrics.tables import Batch, Observation, PeriodLock, Revision

OBSERVATION_TABLE: Table = Observation.__table__  # type: ignore[assignment]
REVISION_TABLE: Table = Revision.__table__  # type: ignore[assignment]
BATCH_TABLE: Table = Batch.__table__  # type: ignore[assignment]
Key = tuple[str, str, str, str]
"""A value's identity (subject_type, subject_id, indicator_code, period): a dict key, unpacked, never indexed."""
ReadCursor = tuple[str, str, str, str]
"""Where a page of current values ends: (period, indicator_code, subject_type, subject_id), their order."""


class Current(msgspec.Struct, gc=False):
    """A value's current version, as a push needs it (one per row of a batch: built in C, unlike a NamedTuple)."""

    value: Decimal
    revision: int
    seq: int
    first_recorded_at: datetime


CHAIN_LOCK_KEY = 7_270_001  # pg_advisory_xact_lock key serialising writers of the ledger
SQLITE_CHUNK = 200

VERSION_COLUMNS = tuple("value" if name == "new_value" else name for name in REVISION_FIELDS)
"""The columns of ``observation`` holding a version's canonical line (``new_value`` is ``value``)."""
NEW_COLUMNS = ("period_end", *VERSION_COLUMNS)
"""The columns of a value's first version: its period's end, then its canonical line."""
NEXT_COLUMNS = ("revision", "first_recorded_at", *NEW_COLUMNS)
"""The columns of a later version: its number and the value's first time, then as :data:`NEW_COLUMNS`."""
_VERSION_SQL = ", ".join(VERSION_COLUMNS)
_REVISION_SQL = ", ".join(REVISION_FIELDS)
_COPY_NULL = "\\N"
_INT = ("revision", "seq", "prev_seq", "indicator_version", "lock_id")
_CONVERT: dict[str, Any] = {
    **dict.fromkeys(_INT, int),
    "period_end": date.fromisoformat,
    "value": str,
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
    """The push's writes: current values read and replaced, versions moved to the history, and
    the batch sealing them as the next link of the ledger."""

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
        """The stored (value, revision, seq, first recorded at) of each key (given as four parallel lists)."""
        out: dict[Key, Current] = {}
        if not subject_ids:
            return out
        if self.postgres:
            conn = await self._asyncpg()
            # asyncpg prepares statements; after five runs PostgreSQL may switch to a generic plan
            # that guesses 100 keys and scans the table once per key. Plan for the actual arrays.
            await conn.execute("SET LOCAL plan_cache_mode = force_custom_plan")
            rows = await conn.fetch(
                "SELECT o.subject_type, o.subject_id, o.indicator_code, o.period, o.value, o.revision, o.seq, "
                "COALESCE(o.first_recorded_at, b.recorded_at) "
                "FROM unnest($1::text[], $2::text[], $3::text[], $4::text[]) AS k(st, sid, code, p) "
                "JOIN observation o ON o.period = k.p AND o.indicator_code = k.code "
                "AND o.subject_type = k.st AND o.subject_id = k.sid JOIN batch b ON b.id = o.batch",
                subject_types,
                subject_ids,
                codes,
                periods,
            )
            for r in rows:
                out[(r[0], r[1], r[2], r[3])] = Current(r[4], r[5], r[6], r[7])
            return out
        cols = (Observation.subject_type, Observation.subject_id, Observation.indicator_code, Observation.period)
        keys = list(zip(subject_types, subject_ids, codes, periods, strict=True))
        for i in range(0, len(keys), SQLITE_CHUNK):
            chunk = keys[i : i + SQLITE_CHUNK]
            stmt = (
                select(
                    *cols,
                    Observation.value,
                    Observation.revision,
                    Observation.seq,
                    func.coalesce(Observation.first_recorded_at, Batch.recorded_at),
                )
                .join(Batch, Batch.id == Observation.batch)
                .where(tuple_(*cols).in_(chunk))
            )
            for r in await self.session.execute(stmt):
                out[(r[0], r[1], r[2], r[3])] = Current(r[4], r[5], r[6], r[7])
        return out

    async def before_new(self, key: Key, lock_periods: Sequence[str]) -> tuple[int, str, bool, bool]:
        """:meth:`chain_head`, whether ``key`` has a current value and whether one of
        ``lock_periods`` (those whose lock holds its period) is locked, for any scope: one round
        trip on PostgreSQL."""
        subject_type, subject_id, code, period = key
        if not self.postgres:
            last_seq, prev_hash = await self.chain_head()
            o = Observation
            stmt = select(o.seq).where(
                o.period == period, o.indicator_code == code, o.subject_type == subject_type, o.subject_id == subject_id
            )
            taken = (await self.session.scalar(stmt)) is not None
            locked = await self.session.scalar(select(exists().where(PeriodLock.period.in_(list(lock_periods)))))
            return last_seq, prev_hash, taken, bool(locked)
        conn = await self._asyncpg()
        row = await conn.fetchrow(
            "SELECT h.first_seq + h.revisions - 1, h.hash, EXISTS (SELECT 1 FROM observation o WHERE o.period = $4 "
            "AND o.indicator_code = $3 AND o.subject_type = $1 AND o.subject_id = $2), "
            "EXISTS (SELECT 1 FROM period_lock l WHERE l.period = ANY($5::text[])) "
            "FROM (SELECT 1) AS one LEFT JOIN LATERAL "
            "(SELECT first_seq, revisions, hash FROM batch ORDER BY first_seq DESC LIMIT 1) AS h ON true",
            subject_type,
            subject_id,
            code,
            period,
            list(lock_periods),
        )
        if row[0] is None:
            return 0, GENESIS_HASH, bool(row[2]), bool(row[3])
        return int(row[0]), str(row[1]), bool(row[2]), bool(row[3])

    async def _copy(self, columns: Sequence[str], lines: Sequence[str]) -> None:
        if self.postgres:
            wrote(self.session)  # straight through the driver: the audit log does not see it go by
            conn = await self._asyncpg()
            # A memoryview: asyncpg takes bytes for a file path, and reads file objects in a thread.
            data = memoryview("".join(lines).encode())
            await conn.copy_to_table("observation", source=data, columns=list(columns), format="text")
            return
        rows = _split(lines, columns)
        for i in range(0, len(rows), 5000):
            await self.session.execute(insert(OBSERVATION_TABLE), rows[i : i + 5000])

    async def stream_new(self, chunks: AsyncIterator[bytes]) -> None:
        """Insert values' first versions from chunks of ``COPY`` data (PostgreSQL only)."""
        wrote(self.session)  # straight through the driver: the audit log does not see it go by
        conn = await self._asyncpg()
        await conn.copy_to_table("observation", source=chunks, columns=list(NEW_COLUMNS), format="text")

    async def insert_new(self, lines: Sequence[str]) -> None:
        """Insert values' first versions (``COPY`` text lines of :data:`NEW_COLUMNS`)."""
        if lines:
            await self._copy(NEW_COLUMNS, lines)

    async def insert_next(self, lines: Sequence[str]) -> None:
        """Insert later versions (``COPY`` text lines of :data:`NEXT_COLUMNS`), after :meth:`supersede`."""
        if lines:
            await self._copy(NEXT_COLUMNS, lines)

    async def supersede(self, keys: Sequence[Key]) -> None:
        """Move the current versions of ``keys`` to the history, unchanged (same transaction)."""
        if not keys:
            return
        if self.postgres:
            wrote(self.session)  # straight through the driver: the audit log does not see it go by
            conn = await self._asyncpg()
            await conn.execute("SET LOCAL plan_cache_mode = force_custom_plan")
            await conn.execute(
                "WITH moved AS (DELETE FROM observation o "
                "USING unnest($1::text[], $2::text[], $3::text[], $4::text[]) AS k(st, sid, code, p) "
                "WHERE o.period = k.p AND o.indicator_code = k.code AND o.subject_type = k.st "
                f"AND o.subject_id = k.sid RETURNING {', '.join('o.' + c for c in VERSION_COLUMNS)}) "
                f"INSERT INTO revision ({_REVISION_SQL}) SELECT {_VERSION_SQL} FROM moved",
                *(list(column) for column in zip(*keys, strict=True)),
            )
            return
        o = Observation
        cols = (o.subject_type, o.subject_id, o.indicator_code, o.period)
        for i in range(0, len(keys), SQLITE_CHUNK):
            chunk = list(keys[i : i + SQLITE_CHUNK])
            await self.session.execute(
                insert(REVISION_TABLE).from_select(
                    list(REVISION_FIELDS),
                    select(*(OBSERVATION_TABLE.c[c] for c in VERSION_COLUMNS)).where(tuple_(*cols).in_(chunk)),
                )
            )
            await self.session.execute(delete(OBSERVATION_TABLE).where(tuple_(*cols).in_(chunk)))

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

    async def add_batch(self, values: dict[str, Any]) -> None:
        """Record a stored batch (``values`` of every column of :class:`Batch`)."""
        await self.session.execute(insert(BATCH_TABLE), values)


class ObservationReads:
    """Current values and the versions of one value, for the readers."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def search(
        self,
        *,
        subject: tuple[str, str] | None,
        indicator: str | None,
        period: str | None,
        start: Any | None,
        end: Any | None,
        after: ReadCursor | None,
        limit: int,
        among: tuple[str | None, Collection[str]] | None = None,
    ) -> list[tuple[Observation, Batch]]:
        """Current values matching the filters with their batches, in key order (period, indicator, subject).

        ``among`` (a division, zone ids) keeps that division's totals and those zones' values only.
        """
        o = Observation
        order = (o.period, o.indicator_code, o.subject_type, o.subject_id)
        stmt = select(o, Batch).join(Batch, Batch.id == o.batch).order_by(*order).limit(limit)
        if among is not None:
            division, zones = among
            stmt = stmt.where(
                or_(
                    and_(o.subject_type == "division", o.subject_id == (division or "")),
                    and_(o.subject_type == "zone", o.subject_id.in_(sorted(zones) or [""])),
                )
            )
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
        return [(r, b) for r, b in (await self.session.execute(stmt)).all()]

    async def zones(self, subject_id: str | None = None) -> list[str]:
        """The zones having current values (``subject_id`` alone, when given and it has some)."""
        o = Observation
        stmt = select(o.subject_id).where(o.subject_type == "zone").distinct()
        if subject_id is not None:
            stmt = stmt.where(o.subject_id == subject_id)
        return list((await self.session.execute(stmt)).scalars())

    async def history(self, key: Key, *, after_seq: int | None, limit: int) -> list[tuple[Revision, Batch]]:
        """Versions of one value with their batches, oldest first: the current one and the walk of
        its ``prev_seq`` links through the history. The current version is given as a (transient)
        :class:`Revision` too."""
        o = Observation
        subject_type, subject_id, code, period = key
        where = (
            o.subject_type == subject_type,
            o.subject_id == subject_id,
            o.indicator_code == code,
            o.period == period,
        )
        found = (await self.session.execute(select(o, Batch).join(Batch, Batch.id == o.batch).where(*where))).first()
        if found is None:
            return []
        current, current_batch = found
        out: list[tuple[Revision, Batch]] = []
        if current.prev_seq is not None and (after_seq is None or current.prev_seq > after_seq):
            start = select(o.prev_seq.label("seq")).where(*where).cte("chain", recursive=True)
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
            out = [(r, b) for r, b in (await self.session.execute(stmt)).all()]
        if len(out) < limit and (after_seq is None or current.seq > after_seq):
            fields = {
                name: getattr(current, column) for name, column in zip(REVISION_FIELDS, VERSION_COLUMNS, strict=True)
            }
            out.append((Revision(**fields), current_batch))
        return out
