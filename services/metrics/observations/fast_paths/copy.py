"""The speculative ``COPY`` of a batch of new values: one entry point, :func:`try_push`.

The common push is of values not stored yet, without any fault, out of any lock. So, on
PostgreSQL, the batch is checked a chunk of (up to) :data:`STREAM_CHUNK` rows at a time while
it is streamed to ``COPY``: the database stores a chunk while the next one is checked and
encoded. Anything unusual abandons the attempt and the plain path runs from the start, giving
every answer exactly as it would have: a fault in a row (the stream stops early), a key already
stored (the primary key refuses it; the first row's key is probed first, so a re-push of stored
values skips the attempt), a zone the registry refuses or outside the caller's scope, a lock on
one of the periods or on a period holding one (a year holds its halves and quarters; those of
the first row are looked up with the probe). Nothing is written in the request's transaction
before the attempt, so it needs no savepoint: an abandoned attempt rolls the transaction back.

A JSON batch is read as ``msgspec`` decoded it: each row is checked and written in one pass
(:meth:`_Attempt._encode_decoded`), its faults only detected, never described (the plain path
describes them). Rows of a file go through :func:`check_rows` and :func:`first_versions`.

Switched off by ``METRICS_FAST_COPY=false``; ``tests/metrics/test_fast_copy.py`` holds it to
the plain path through the HTTP API.
"""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import cast

from asyncpg.exceptions import UniqueViolationError

from libs.domain.kernel.values import Period
from libs.domain.metrics.contracts import ImportCounts, ImportSummary
from libs.domain.metrics.ledger import DIGEST_BYTES, NULL, copy_text
from services.metrics.indicators.service import Catalog
from services.metrics.ledger.repository import LockRepository
from services.metrics.observations.checks import DIVISION_RE, Faults, Static, canonical_value, check_rows, static_checks
from services.metrics.observations.commands import PushContext, PushValues
from services.metrics.observations.decoding import DecodedRows, RowsRead
from services.metrics.observations.ledger_writer import STREAM_CHUNK, LedgerWriter, first_versions
from services.metrics.observations.locks import covering
from services.metrics.observations.repository import Key, ObservationRepository
from services.metrics.observations.scope import in_scope, zones_by_period
from services.metrics.observations.summaries import summary

FIRST_CHUNK = 100
"""Rows of the first chunk: a small one, so the database starts sooner; the chunks then grow
threefold up to :data:`STREAM_CHUNK`, each ready before the database is done with the previous one."""

_PAD = ("000000", "00000", "0000", "000", "00", "0", "")
"""The zeros completing a fraction of 0 … 6 digits to six decimals."""


async def try_push(command: PushValues, context: PushContext, catalog: Catalog, today: date) -> ImportSummary | None:
    """Store ``command``'s batch as all new values, checked while it is stored; its summary, or
    ``None`` (nothing stored, the transaction rolled back) for the plain path to take over.

    Declines at once a dry run, an empty batch, rows read with conflicts, and SQLite.
    """
    rows = command.rows
    if command.dry_run or not len(rows) or (isinstance(rows, RowsRead) and rows.conflicts):
        return None
    repo = ObservationRepository(context.session)
    if not repo.postgres or not STREAM_CHUNK:
        return None
    writer = LedgerWriter(repo, context.actor, command.source, command.filename, len(rows), command.restatement_reason)
    batch_id = await _Attempt(writer, context, catalog, today, rows).store()
    if batch_id is None:
        return None
    counts = ImportCounts(created=len(rows), skipped=command.skipped)
    restated = command.restatement_reason is not None
    return summary(Faults(), counts, dry_run=False, batch=batch_id, restatement=restated)


class _Abandon(Exception):
    """The attempt cannot store the batch as it is: the plain path takes over."""


@dataclass(slots=True)
class _Combo:
    """What the attempt keeps of one (indicator, period, unit) text combination: its checks,
    whether its values may be written from their text alone (:meth:`_Attempt._encode_decoded`),
    the end of its lines (from the note on), and the zones and divisions already given a value of
    its indicator and period (sets shared by every combination naming the same indicator and
    period: a second value is a duplicate)."""

    static: Static
    plain: bool
    tail: str
    zones: set[str]
    divisions: set[str]


class _Attempt:
    """One attempt at storing a batch as all new values (see the module)."""

    def __init__(
        self, writer: LedgerWriter, context: PushContext, catalog: Catalog, today: date, rows: DecodedRows | RowsRead
    ) -> None:
        self.writer = writer
        self.context = context
        self.rows = rows
        self.count = len(rows)
        self.catalog = catalog
        self.today = today
        self.faults = Faults()
        self.seen: dict[Key, int] = {}
        self.statics: dict[tuple[str, str, str], Static] = {}
        self.combos: dict[tuple[str, str, str], _Combo] = {}
        self.subjects: dict[tuple[str, str], tuple[set[str], set[str]]] = {}
        self.subject_texts: dict[str, str] = {}  # zone id -> "zone<tab><id>" as COPY writes it
        self.division_texts: dict[str, str] = {}  # division code -> "division<tab><code>"
        self.digests: list[bytes] = []
        self.zones_of: dict[Period, set[str]] = {}
        self.divisions: set[str] = set()
        self.stored = 0
        self.abandoned = False
        self.batch_id = ""
        self.prefetch: asyncio.Task[None] | None = None
        self.verdict: tuple[bool, BaseException | None] | None = None  # all in scope, registry error

    def _probe(self) -> tuple[Key, Period | None] | None:
        """The first row's key and, for a zone, its period; ``None`` when it cannot be stored."""
        rows = self.rows
        if isinstance(rows, DecodedRows):
            o = rows.decoded[0]
            zone, division = o.zone_id, o.division
            if (zone is None) == (division is None):
                return None
            combo = self._combo(o.indicator, o.period, o.unit)
            if combo is None:
                return None
            static = combo.static
            subject_type, subject_id = ("zone", zone) if zone is not None else ("division", division)
        else:
            first = check_rows(rows.rows[:1], self.catalog, Faults(), self.today)
            if not first:
                return None
            subject_type, subject_id, static = first[0].subject_type, first[0].subject_id, first[0].static
        assert subject_id is not None
        period = static.period if subject_type == "zone" else None
        return (subject_type, subject_id, static.code, static.period_text), period

    def _combo(self, code: str, period_text: str, unit: str) -> _Combo | None:
        """The :class:`_Combo` of a combination met for the first time; ``None`` if it has any fault."""
        combo_key = (code, period_text, unit)
        static = self.statics.get(combo_key)
        if static is None:
            static = self.statics[combo_key] = static_checks(
                self.catalog.get(code), code, period_text, unit, self.today
            )
        if static.faults or static.unit_fault is not None or not static.ok:
            return None
        canonical = (static.code, static.period_text)
        subjects = self.subjects.get(canonical)
        if subjects is None:
            subjects = self.subjects[canonical] = (set(), set())
        plain = static.identity and static.high is None and (static.low is None or static.low <= 0)
        tail = f"{static.after_note}{copy_text(self.batch_id)}{static.end}"
        combo = self.combos[combo_key] = _Combo(static, plain, tail, subjects[0], subjects[1])
        return combo

    async def store(self) -> str | None:
        """Store the batch; its id, or ``None`` (nothing stored) for the plain path to take over."""
        writer, repo = self.writer, self.writer.repo
        # The batch id comes first: the lines of every combination end with it.
        batch_id = self.batch_id = uuid.uuid4().hex
        probe = self._probe()
        if probe is None:
            return None
        key, period = probe
        await repo.lock_writes()
        last_seq, prev_hash, taken, locked = await repo.before_new(key, covering(key[3]))
        if taken or locked:
            return None
        session = repo.session
        # The registry's change feed (and the zones active in the first row's period) is read
        # while the database stores the rows.
        prefetch = self.prefetch = asyncio.create_task(self._prefetch({period} if period is not None else set()))
        try:
            await repo.stream_new(self._chunks(last_seq))
            await self._settled(key)
            counts = ImportCounts(created=self.count)
            digests = b"".join(self.digests)
            return await writer.seal(batch_id, counts, last_seq + 1, prev_hash, digests, self.count)
        except (_Abandon, UniqueViolationError):
            # Nothing else was written in this transaction: rolling it back undoes the attempt
            # (and frees the writers' lock, which the plain path takes again).
            await session.rollback()
            return None
        finally:
            if not prefetch.done():
                await asyncio.wait([prefetch])
            if not prefetch.cancelled():
                prefetch.exception()  # retrieved (the plain path asks the registry again)

    async def _settled(self, key: Key) -> None:
        """Raise :class:`_Abandon` unless every row was stored, in scope, out of any lock."""
        if self.abandoned or self.stored != self.count or self.verdict is None:
            raise _Abandon
        scoped, error = self.verdict
        if error is not None:
            raise error
        if not scoped:
            raise _Abandon
        # Every combination met is one of a stored row (any fault abandons the attempt); the
        # periods holding the first row's were found unlocked already.
        met = {st.period for st in self.statics.values() if st.period is not None}
        periods = {str(p) for period in met for p in period.enclosing()} - set(covering(key[3]))
        if periods and await LockRepository(self.writer.repo.session).any_on(periods):
            raise _Abandon

    async def _zones(self) -> None:
        """The zones and divisions of the batch checked against the registry and the caller's
        scope, kept in :attr:`verdict` (run inside the stream: it must not raise there, or
        ``COPY`` is cancelled rather than ended)."""
        assert self.prefetch is not None
        context = self.context
        try:
            await self.prefetch
            for combo in self.combos.values():
                if combo.zones:
                    self.zones_of.setdefault(cast(Period, combo.static.period), set()).update(combo.zones)
                self.divisions.update(combo.divisions)
            scoped = await in_scope(
                self.zones_of,
                self.divisions,
                actor=context.actor,
                registry=context.registry,
                jurisdiction=context.jurisdiction,
            )
        except Exception as exc:  # noqa: BLE001 - re-raised once the stream has ended
            self.verdict = (False, exc)
        else:
            self.verdict = (scoped, None)

    async def _prefetch(self, periods: set[Period]) -> None:
        context = self.context
        await context.jurisdiction.refresh(context.registry)
        for period in periods:
            await context.jurisdiction.active_zones(context.registry, period.end)

    async def _chunks(self, last_seq: int) -> AsyncIterator[bytes]:
        """The ``COPY`` data, a chunk at a time (small ones first: the database starts sooner),
        each checked and encoded after the previous one was handed over; stops at a fault.

        After the last chunk, the zones are checked while the database stores it."""
        encode = self._encode_decoded if isinstance(self.rows, DecodedRows) else self._encode_rows
        start, size, seq = 0, FIRST_CHUNK, last_seq
        while start < self.count:
            data = encode(start, size, seq)
            if data is None:
                self.abandoned = True
                return
            yield data
            done = min(size, self.count - start)
            start += done
            seq += done
            self.stored += done
            size = min(size * 3, STREAM_CHUNK)
        await self._zones()

    def _encode_rows(self, start: int, size: int, seq: int) -> bytes | None:
        """Rows (of a file) ``start`` … ``start + size - 1`` checked and written as ``COPY`` data."""
        assert isinstance(self.rows, RowsRead)
        part = check_rows(
            self.rows.rows[start : start + size], self.catalog, self.faults, self.today, self.seen, self.statics
        )
        if self.faults.items:
            return None
        zones_by_period(part, self.zones_of)
        self.divisions.update(r.subject_id for r in part if r.subject_type == "division")
        return first_versions(part, self.batch_id, seq, self.digests)

    def _encode_decoded(self, start: int, size: int, seq: int) -> bytes | None:
        """Decoded rows ``start`` … ``start + size - 1`` checked and written as ``COPY`` data in
        one pass; ``None`` at the first row the plain path would find a fault in.

        The lines are :func:`first_versions`' (put together from the same texts). A value given
        as an integer or a plain decimal with at most six decimals, no leading zero, not negative
        and below 10^17, for an indicator in its own unit with no upper bound and no positive
        lower one, is written from its text (the canonical six decimals are the text padded with
        zeros, and the text is already the plain notation of the value as given); any other value
        goes through :func:`canonical_value`, as :func:`check_rows` does.
        """
        assert isinstance(self.rows, DecodedRows)
        out: list[bytes] = []
        add = out.append
        add_digest = self.digests.append
        sha = hashlib.sha256
        combos = self.combos
        zone_texts = self.subject_texts
        division_texts = self.division_texts
        for o in self.rows.decoded[start : start + size]:
            combo = combos.get((o.indicator, o.period, o.unit))
            if combo is None:
                combo = self._combo(o.indicator, o.period, o.unit)
                if combo is None:
                    return None
            static = combo.static
            zone = o.zone_id
            if zone is not None:
                if o.division is not None or zone in combo.zones:
                    return None
                combo.zones.add(zone)
                subject = zone_texts.get(zone)
                if subject is None:
                    subject = zone_texts[zone] = f"zone{static.between_subject}{copy_text(zone)}"
            else:
                division = o.division
                if division is None or division in combo.divisions:
                    return None
                combo.divisions.add(division)
                subject = division_texts.get(division)
                if subject is None:
                    if DIVISION_RE.match(division) is None:
                        return None
                    subject = division_texts[division] = f"division{static.between_subject}{copy_text(division)}"
            note = o.note
            if note is None:
                note_text = NULL
            elif "\x00" in note:
                return None
            else:
                note_text = copy_text(note)
            value = o.value
            text = value if type(value) is str else str(value)
            value_text = ""
            if combo.plain and text[0] != "-":
                dot = text.find(".")
                if dot < 0:
                    if len(text) <= 17 and (text[0] != "0" or len(text) == 1):
                        value_text = text + ".000000"
                elif dot <= 17 and len(text) - dot <= 7 and (text[0] != "0" or dot == 1):
                    value_text = text + _PAD[len(text) - dot - 1]
            if not value_text:
                original = Decimal(text)
                canonical = canonical_value(original, static, o.unit)
                if isinstance(canonical, tuple):
                    return None
                value_text, text = format(canonical, "f"), format(original, "f")
            seq += 1
            line = (
                f"{seq}{static.after_seq}{subject}{static.after_subject}{value_text}{static.after_value}{text}"
                f"{static.after_original}{note_text}{combo.tail}"
            ).encode()
            add_digest(sha(line).digest()[:DIGEST_BYTES])
            add(static.period_end_bytes)
            add(line)
        return b"".join(out)
