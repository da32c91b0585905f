"""Storing a checked batch: one new version per row, and the batch record sealing them as the
next link of the ledger's hash chain (:mod:`libs.domain.metrics.ledger`)."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from libs.domain.kernel.contracts import Actor
from libs.domain.metrics.contracts import ImportCounts
from libs.domain.metrics.ledger import DIGEST_BYTES, NULL, batch_hash, canonical_line, copy_text
from libs.domain.metrics.units import SCALE
from services.metrics.observations.checks import Checked
from services.metrics.observations.repository import Current, Key, ObservationRepository
from services.metrics.tables import PeriodLock

STREAM_CHUNK = 1000
"""Rows per chunk of a streamed ``COPY``: PostgreSQL stores one chunk while the next is built (0: no streaming)."""


@dataclass(slots=True)
class LedgerWriter:
    """Storing a checked batch: its values, its revisions, and its batch record (the chain's next link)."""

    repo: ObservationRepository
    actor: Actor
    source: str
    filename: str | None
    rows: int
    restatement_reason: str | None

    async def __call__(
        self,
        to_write: Sequence[Checked],
        counts: ImportCounts,
        current: dict[Key, Current],
        row_locks: dict[int, PeriodLock],
    ) -> str:
        """Write; return the batch id."""
        batch_id = uuid.uuid4().hex
        first_seq, (prev_hash, digests) = await _store(
            self.repo, rows=to_write, current=current, row_locks=row_locks, batch_id=batch_id
        )
        return await self.seal(batch_id, counts, first_seq, prev_hash, digests, len(to_write))

    async def seal(
        self, batch_id: str, counts: ImportCounts, first_seq: int, prev_hash: str, digests: bytes, revisions: int
    ) -> str:
        """Record the batch of stored versions: the chain's next link; return its id."""
        now = datetime.now(UTC)
        actor = self.actor
        header = {
            "first_seq": first_seq,
            "id": batch_id,
            "recorded_at": now,
            "recorded_by": actor.sub,
            "recorded_by_division": actor.division,
            "recorded_by_issuer": actor.issuer,
            "recorded_by_client": actor.client_id,
            "restatement_reason": self.restatement_reason,
            "revisions": revisions,
        }
        await self.repo.add_batch(
            {
                "id": batch_id,
                "source": self.source,
                "filename": self.filename,
                "rows": self.rows,
                "created": counts.created,
                "updated": counts.updated,
                "unchanged": counts.unchanged,
                "restatement_reason": self.restatement_reason,
                "recorded_at": now,
                "recorded_by": actor.sub,
                "recorded_by_division": actor.division,
                "recorded_by_issuer": actor.issuer,
                "recorded_by_client": actor.client_id,
                "first_seq": first_seq,
                "revisions": revisions,
                "digests": digests,
                "prev_hash": prev_hash,
                "hash": batch_hash(prev_hash, header, digests),
            }
        )
        return batch_id


async def _store(
    repo: ObservationRepository,
    *,
    rows: Sequence[Checked],
    current: dict[Key, Current],
    row_locks: dict[int, PeriodLock],
    batch_id: str,
) -> tuple[int, tuple[str, bytes]]:
    """Write one new version per row: a value's first goes straight in; a later one first moves
    the value's current version to the history.

    Returns the batch's first seq, the previous batch's hash and the versions' digests. When
    every row is a first version (the common push), the lines are streamed to ``COPY`` a chunk at
    a time on PostgreSQL, so the database stores a chunk while the next one is built (the same
    lines as :meth:`ObservationRepository.insert_new` takes, in the same transaction).
    """
    last_seq, prev_hash = await repo.chain_head()
    digests: list[bytes] = []
    if not current and repo.postgres and STREAM_CHUNK:
        await repo.stream_new(_new_chunks(rows, row_locks, batch_id, last_seq, digests))
        return last_seq + 1, (prev_hash, b"".join(digests))
    new_lines: list[str] = []
    next_lines: list[str] = []
    superseded: list[Key] = []
    for line, old, key in _versions(rows, current, row_locks, batch_id, last_seq, digests):
        if old is None:
            new_lines.append(line)
        else:
            superseded.append(key)
            next_lines.append(f"{old.revision + 1}\t{old.first_recorded_at.isoformat()}\t{line}")
    await repo.supersede(superseded)
    await repo.insert_next(next_lines)
    await repo.insert_new(new_lines)
    return last_seq + 1, (prev_hash, b"".join(digests))


async def _new_chunks(
    rows: Sequence[Checked], row_locks: dict[int, PeriodLock], batch_id: str, last_seq: int, digests: list[bytes]
) -> AsyncIterator[bytes]:
    """The ``COPY`` data of first versions, :data:`STREAM_CHUNK` lines at a time."""
    parts: list[str] = []
    for line, _old, _key in _versions(rows, {}, row_locks, batch_id, last_seq, digests):
        parts.append(line)
        if len(parts) == STREAM_CHUNK:
            yield "".join(parts).encode()
            parts.clear()
    if parts:
        yield "".join(parts).encode()


def first_versions(rows: Sequence[Checked], batch_id: str, last_seq: int, digests: list[bytes]) -> bytes:
    """:func:`_versions` of first versions without a lock, as ``COPY`` data (the all-new push).

    Each line is put together from the texts between its varying fields that its combination
    (:class:`~services.metrics.observations.checks.Static`) holds ready: the ledger's canonical
    line with ``prev_seq``, ``old_value`` and ``lock_id`` null.
    """
    out: list[bytes] = []
    add = out.append
    sha = hashlib.sha256
    add_digest = digests.append
    batch = copy_text(batch_id)
    ids: dict[str, str] = {}
    seq = last_seq
    for r in rows:
        seq += 1
        s = r.static
        subject_id = r.subject_id
        sid = ids.get(subject_id)
        if sid is None:
            sid = ids[subject_id] = copy_text(subject_id)
        note = r.note
        line = (
            f"{seq}{s.after_seq}{r.subject_type}{s.between_subject}{sid}{s.after_subject}{r.value_text}"
            f"{s.after_value}{r.original_text}{s.after_original}{NULL if note is None else copy_text(note)}"
            f"{s.after_note}{batch}{s.end}"
        ).encode()
        add_digest(sha(line).digest()[:DIGEST_BYTES])
        add(s.period_end_bytes)
        add(line)
    return b"".join(out)


def _versions(
    rows: Sequence[Checked],
    current: dict[Key, Current],
    row_locks: dict[int, PeriodLock],
    batch_id: str,
    last_seq: int,
    digests: list[bytes],
) -> Iterator[tuple[str, Current | None, Key]]:
    """Per row: its version's line (period end, then the canonical line), its current version,
    its key; appends each canonical line's digest to ``digests``."""
    sha = hashlib.sha256
    add_digest = digests.append
    batch = copy_text(batch_id)
    ids: dict[str, str] = {}
    seq = last_seq
    for r in rows:
        seq += 1
        subject_id = r.subject_id
        sid = ids.get(subject_id)
        if sid is None:
            sid = ids[subject_id] = copy_text(subject_id)
        lock = row_locks.get(r.index) if row_locks else None
        key = r.key
        old = current.get(key) if current else None
        static = r.static
        assert static.indicator is not None
        note = r.note
        text = canonical_line(
            seq,
            NULL if old is None else old.seq,
            r.subject_type,
            sid,
            static.code_text,
            static.indicator.version,
            static.period_text,
            NULL if old is None else format(old.value.quantize(SCALE), "f"),
            r.value_text,
            static.unit_text,
            r.original_text,
            static.original_unit_text,
            NULL if note is None else copy_text(note),
            NULL if lock is None else lock.id,
            batch,
        )
        add_digest(sha(text.encode()).digest()[:DIGEST_BYTES])
        yield static.period_end + text, old, key
