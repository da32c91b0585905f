"""Use cases of pushing and reading values: checks, scope, locks, the ledger, idempotency.

A push (JSON batch or imported file) is checked as a whole: every bad row is reported, a row
outside the caller's scope makes it a 403, a locked period a 423, and only a batch without
any fault is stored, in one transaction: the current values, one revision per changed value
appended to the hash chain, and a batch record.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from fractions import Fraction
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from libs.domain.contracts.common import Actor
from libs.domain.contracts.metrics import (
    MAX_BATCH_ROWS,
    ConflictCode,
    ImportConflict,
    ImportCounts,
    ImportSummary,
    IndicatorRead,
    ObservationRead,
    RevisionRead,
    Subject,
)
from libs.domain.contracts.registry import ZoneRead
from libs.domain.errors import Conflict, Forbidden, Locked, PayloadTooLarge, Unprocessable
from libs.domain.metrics_ledger import GENESIS_HASH, BatchEncoder, chain_hash
from libs.domain.metrics_scope import existence_fault, managing_divisions, state_on
from libs.domain.metrics_units import MAX_ABS, UnitError, apply_factor, conversion_factor, parse_decimal
from libs.domain.values import Period, Role, today_in_china
from services.common.db import Database
from services.metrics.indicators.service import Catalog, load_catalog
from services.metrics.jurisdiction import Jurisdiction, Registry
from services.metrics.ledger.repository import LockRepository
from services.metrics.observations.repository import (
    IdempotencyRepository,
    Key,
    ObservationRepository,
)
from services.metrics.tables import Batch, IdempotencyKey, Observation, PeriodLock, Revision

DIVISION_RE = re.compile(r"^[1-9]\d{5}$")
MAX_DIGITS = 25  # values of 10^25 or more are refused before any arithmetic
IDEMPOTENCY_RETENTION = timedelta(hours=48)
"""Keys are kept at least this long (the contract promises 24 hours)."""
RUNNING_TIMEOUT = timedelta(minutes=10)
"""A key still 'running' after this long belonged to a request that died; a retry may take it over."""


@dataclass(slots=True)
class RowIn:
    """A row to push, from a JSON batch or a file line; ``subject`` is ``None`` when unreadable."""

    index: int
    subject: tuple[str, str] | None
    indicator: str
    period: str
    value: Decimal | str | None
    unit: str
    note: str | None
    line: int | None = None


@dataclass(slots=True)
class _Row:
    src: RowIn
    subject_type: str
    subject_id: str
    indicator: IndicatorRead
    period: Period
    value: Decimal
    original_value: str
    key: Key
    ok: bool = True
    zone_kind: str | None = None
    old: tuple[int, Decimal, int] | None = None
    lock: PeriodLock | None = None


@dataclass
class _Faults:
    items: list[ImportConflict] = field(default_factory=list)

    def add(self, row: RowIn, field_: str, code: ConflictCode, message: str) -> None:
        self.items.append(ImportConflict(index=row.index, field=field_, code=code, message=message, line=row.line))

    @property
    def rows(self) -> set[int]:
        return {c.index for c in self.items}


def _summary(
    *,
    faults: _Faults,
    rows: Sequence[_Row],
    dry_run: bool,
    skipped: int,
    batch: str | None = None,
    restatement: bool = False,
) -> ImportSummary:
    bad = faults.rows
    created = updated = unchanged = 0
    for r in rows:
        if not r.ok or r.src.index in bad:
            continue
        if r.old is None:
            created += 1
        elif r.old[1] != r.value:
            updated += 1
        else:
            unchanged += 1
    counts = ImportCounts(created=created, updated=updated, unchanged=unchanged, rejected=len(bad), skipped=skipped)
    items = sorted(faults.items, key=lambda c: (c.index, c.field))
    return ImportSummary(
        status="conflict" if items else "ok",
        dry_run=dry_run,
        counts=counts,
        conflicts=items,
        batch=batch,
        restatement=restatement,
    )


@dataclass(slots=True)
class _Static:
    """What the checks make of one (indicator, period, unit) text combination, whatever the row.

    ``faults`` are reported for every row of the combination; when ``fatal``, its rows are not
    checked further. ``unit_fault`` is reported only for rows whose value reads (the checks'
    order: value, then unit). ``ok`` is false when its rows may not be stored.
    """

    indicator: IndicatorRead | None
    period: Period | None
    period_text: str
    faults: list[tuple[str, ConflictCode, str]]
    fatal: bool
    ok: bool
    factor: Fraction | None
    unit_fault: tuple[ConflictCode, str] | None


def _static(indicator: IndicatorRead | None, code: str, period_text: str, unit: str, today: date) -> _Static:
    """The checks of a row that depend only on its indicator, period and unit texts."""
    faults: list[tuple[str, ConflictCode, str]] = []
    if indicator is None:
        faults.append(("indicator", "unknown_indicator", f"no indicator {code!r} in the catalog"))
        return _Static(None, None, "", faults, fatal=True, ok=False, factor=None, unit_fault=None)
    ok = True
    if indicator.kind == "derived":
        msg = f"{indicator.code} is derived ({indicator.formula}); push its components instead"
        faults.append(("indicator", "derived_indicator", msg))
        ok = False
    try:
        period = Period.parse(period_text)
    except ValueError as exc:
        faults.append(("period", "bad_period", str(exc)))
        return _Static(indicator, None, "", faults, fatal=True, ok=False, factor=None, unit_fault=None)
    if period.type not in indicator.period_types:
        msg = f"{indicator.code} is reported per {', '.join(indicator.period_types)}, not per {period.type}"
        faults.append(("period", "period_type_not_allowed", msg))
        ok = False
    if period.start > today:
        faults.append(("period", "future_period", f"period {period} has not started yet"))
        ok = False
    factor: Fraction | None = None
    unit_fault: tuple[ConflictCode, str] | None = None
    try:
        factor = conversion_factor(unit, indicator.unit)
    except UnitError as exc:
        unit_code: ConflictCode = "unknown_unit" if exc.code == "unknown_unit" else "incompatible_unit"
        unit_fault = (unit_code, f"{exc} (the indicator's unit is {indicator.unit})")
    return _Static(indicator, period, str(period), faults, fatal=False, ok=ok, factor=factor, unit_fault=unit_fault)


def _check_rows(rows: Sequence[RowIn], catalog: Catalog, faults: _Faults, today: date) -> list[_Row]:
    """The static checks of every row (nothing asked of the registry or the database).

    The checks that depend only on the indicator, period and unit run once per distinct
    combination (:class:`_Static`): a batch repeats a few dozen of them thousands of times.
    """
    out: list[_Row] = []
    seen: dict[Key, int] = {}
    statics: dict[tuple[str, str, str], _Static] = {}
    for src in rows:
        ok = True
        if src.subject is None:
            ok = False
            subject_type, subject_id = "", ""
        else:
            subject_type, subject_id = src.subject
            if subject_type == "division" and not DIVISION_RE.match(subject_id):
                faults.add(src, "subject", "bad_subject", f"{subject_id!r} is not a 6-digit division code")
                ok = False
        combo = (src.indicator, src.period, src.unit)
        static = statics.get(combo)
        if static is None:
            static = statics[combo] = _static(catalog.get(src.indicator), src.indicator, src.period, src.unit, today)
        for field_, code, message in static.faults:
            faults.add(src, field_, code, message)
        if static.fatal:
            continue
        indicator, period = static.indicator, static.period
        assert indicator is not None and period is not None
        ok = ok and static.ok
        try:
            if src.value is None:
                raise ValueError("no value")
            original = src.value if isinstance(src.value, Decimal) else parse_decimal(src.value)
            if not original.is_finite():
                raise ValueError(f"not a finite number: {original}")
        except ValueError as exc:
            faults.add(src, "value", "bad_value", str(exc))
            continue
        if static.unit_fault is not None:
            faults.add(src, "unit", *static.unit_fault)
            continue
        assert static.factor is not None
        if original.adjusted() >= MAX_DIGITS or abs(value := apply_factor(original, static.factor)) >= MAX_ABS:
            faults.add(src, "value", "bad_value", f"{original} {src.unit} is too large to store")
            continue
        if (indicator.min is not None and value < indicator.min) or (
            indicator.max is not None and value > indicator.max
        ):
            low = indicator.min if indicator.min is not None else "-∞"
            high = indicator.max if indicator.max is not None else "∞"
            faults.add(src, "value", "out_of_range", f"{value} {indicator.unit} is outside [{low}, {high}]")
            ok = False
        key = (subject_type, subject_id, indicator.code, static.period_text)
        row = _Row(src, subject_type, subject_id, indicator, period, value, format(original, "f"), key, ok=ok)
        if ok:
            first = seen.get(key)
            if first is not None:
                faults.add(
                    src, "subject", "duplicate_row", f"the same value as row {first} (subject, indicator, period)"
                )
                row.ok = False
            else:
                seen[key] = src.index
        out.append(row)
    return out


async def _check_zones(
    rows: Sequence[_Row],
    *,
    actor: Actor,
    registry: Registry,
    jurisdiction: Jurisdiction,
    faults: _Faults,
) -> list[int]:
    """Existence of each zone in its period and the caller's scope; the indices out of scope."""
    zone_rows = [r for r in rows if r.subject_type == "zone"]
    division_rows = [r for r in rows if r.subject_type == "division"]
    outside: list[int] = []
    unrestricted = actor.has(Role.CITY_ADMIN, Role.STATISTICS_BUREAU)
    for r in division_rows:
        if not unrestricted and not (actor.has(Role.COUNTY) and r.subject_id == actor.division):
            outside.append(r.src.index)
    if not zone_rows:
        return outside
    await jurisdiction.refresh(registry)
    periods = {r.period for r in zone_rows}
    active: dict[Period, dict[str, ZoneRead]] = {}
    for p in periods:
        active[p] = {z.id: z for z in await jurisdiction.active_zones(registry, p.end)}
    county_scope = not unrestricted and actor.has(Role.COUNTY)
    need = {r.subject_id for r in zone_rows if county_scope or r.subject_id not in active[r.period]}
    histories = await jurisdiction.histories_of(registry, need)
    for r in zone_rows:
        zone = active[r.period].get(r.subject_id)
        states = histories.get(r.subject_id)
        if zone is None:
            states = states or []
            if not states:
                faults.add(r.src, "subject", "unknown_zone", f"the registry has no zone {r.subject_id!r}")
                r.ok = False
                continue
            fault = existence_fault(states, r.period)
            if fault is not None:
                msg = (
                    f"zone {r.subject_id} did not exist yet at the end of {r.period}"
                    if fault == "zone_not_existing"
                    else f"zone {r.subject_id} had ended by the end of {r.period}; its successor reports it"
                )
                faults.add(r.src, "subject", fault, msg)
                r.ok = False
            else:
                at_end = state_on(states, r.period.end)
                r.zone_kind = at_end.kind.value if at_end else None
        else:
            r.zone_kind = zone.kind.value
        if unrestricted:
            continue
        allowed = False
        if actor.has(Role.ZONE_COMMITTEE) and r.subject_id == actor.zone:
            allowed = True
        if not allowed and county_scope and actor.division in managing_divisions(states or [], r.period):
            allowed = True
        if not allowed:
            outside.append(r.src.index)
    return outside


def _lock_for(row: _Row, locks: Sequence[PeriodLock]) -> PeriodLock | None:
    for lock in locks:
        if lock.period != str(row.period):
            continue
        if lock.scope == "all" or row.subject_type == "division" or lock.scope == row.zone_kind:
            return lock
    return None


def _lock_view(lock: PeriodLock) -> dict[str, Any]:
    return {
        "id": lock.id,
        "period": lock.period,
        "kind": None if lock.scope == "all" else lock.scope,
        "reason": lock.reason,
    }


async def push(
    *,
    session: AsyncSession,
    registry: Registry,
    jurisdiction: Jurisdiction,
    actor: Actor,
    rows: Sequence[RowIn],
    dry_run: bool,
    restatement_reason: str | None,
    source: str,
    filename: str | None = None,
    prior_conflicts: Sequence[ImportConflict] = (),
    skipped: int = 0,
) -> ImportSummary:
    """Check and (unless ``dry_run``) store a batch; raise on any fault, storing nothing."""
    if len(rows) > MAX_BATCH_ROWS:
        raise PayloadTooLarge(
            f"{len(rows)} rows exceed the limit of {MAX_BATCH_ROWS} per batch; split it", limit_rows=MAX_BATCH_ROWS
        )
    if restatement_reason is not None and not actor.has(Role.CITY_ADMIN):
        raise Forbidden("only a city_admin may restate values (restatement_reason)")
    catalog = await load_catalog(session=session)
    faults = _Faults(list(prior_conflicts))
    checked = _check_rows(rows, catalog, faults, today_in_china())
    outside = await _check_zones(
        [r for r in checked if r.ok], actor=actor, registry=registry, jurisdiction=jurisdiction, faults=faults
    )
    if outside:
        raise Forbidden(
            f"{len(outside)} row(s) are outside the caller's scope: {_first(outside)}",
            rows=sorted(outside),
        )
    repo = ObservationRepository(session)
    rejected = faults.rows
    good = [r for r in checked if r.ok and r.src.index not in rejected]
    if not dry_run and not faults.items:
        await repo.lock_writes()
    current = await repo.current([r.key for r in good])
    for r in good:
        r.old = current.get(r.key)
    if faults.items:
        summary = _summary(faults=faults, rows=checked, dry_run=dry_run, skipped=skipped)
        raise Unprocessable(
            f"{summary.counts.rejected} row(s) conflict; nothing was stored",
            errors=[
                {"loc": ["observations", c.index, c.field], "msg": c.message, "type": c.code} for c in summary.conflicts
            ],
            summary=summary.model_dump(mode="json"),
        )
    to_write = [r for r in good if r.old is None or r.old[1] != r.value]
    locks = await LockRepository(session).for_periods({str(r.period) for r in to_write})
    locked: list[_Row] = []
    for r in to_write:
        r.lock = _lock_for(r, locks)
        if r.lock is not None:
            locked.append(r)
    if locked and restatement_reason is None:
        first = locked[0].lock
        assert first is not None
        kinds = f" for {first.scope} zones" if first.scope != "all" else ""
        used = {r.lock.id: r.lock for r in locked if r.lock is not None}
        raise Locked(
            f"period {first.period}{kinds} is locked (lock {first.id}: {first.reason}); "
            "only a city_admin restatement with a restatement_reason may change it",
            lock=_lock_view(first),
            locks=[_lock_view(v) for v in used.values()],
            rows=[r.src.index for r in locked],
        )
    if dry_run or not to_write:
        return _summary(faults=faults, rows=checked, dry_run=dry_run, skipped=skipped)
    batch_id = uuid.uuid4().hex
    now = datetime.now(UTC)
    await _store(repo, actor=actor, rows=to_write, batch_id=batch_id, now=now, restatement_reason=restatement_reason)
    summary = _summary(
        faults=faults,
        rows=checked,
        dry_run=False,
        skipped=skipped,
        batch=batch_id,
        restatement=restatement_reason is not None,
    )
    await repo.add_batch(
        Batch(
            id=batch_id,
            source=source,
            filename=filename,
            rows=len(rows),
            created=summary.counts.created,
            updated=summary.counts.updated,
            unchanged=summary.counts.unchanged,
            restatement_reason=restatement_reason,
            recorded_at=now,
            recorded_by=actor.sub,
            recorded_by_division=actor.division,
        )
    )
    return summary


def _first(indices: Sequence[int], n: int = 10) -> str:
    shown = ", ".join(str(i) for i in sorted(indices)[:n])
    return f"rows {shown}{' …' if len(indices) > n else ''}"


async def _store(
    repo: ObservationRepository,
    *,
    actor: Actor,
    rows: Sequence[_Row],
    batch_id: str,
    now: datetime,
    restatement_reason: str | None,
) -> None:
    """Write the current values and append one chained revision per changed value."""
    seq, prev = await repo.chain_head()
    prev_hash = prev or GENESIS_HASH
    new_obs: list[tuple[Any, ...]] = []
    changed: list[dict[str, Any]] = []
    revisions: list[tuple[Any, ...]] = []
    division = actor.division
    encoder = BatchEncoder(
        batch=batch_id,
        recorded_at=now,
        recorded_by=actor.sub,
        recorded_by_division=division,
        restatement_reason=restatement_reason,
    )
    for r in rows:
        seq += 1
        old_value = r.old[1] if r.old else None
        revision_no = (r.old[2] + 1) if r.old else 1
        period = r.key[3]
        lock_id = r.lock.id if r.lock is not None else None
        canonical = encoder.encode(
            seq=seq,
            subject_type=r.subject_type,
            subject_id=r.subject_id,
            indicator=r.indicator.code,
            indicator_version=r.indicator.version,
            period=period,
            old_value=old_value,
            new_value=r.value,
            unit=r.indicator.unit,
            original_value=r.original_value,
            original_unit=r.src.unit,
            note=r.src.note,
            lock=lock_id,
        )
        digest = chain_hash(prev_hash, canonical)
        revisions.append(
            (
                seq,
                r.subject_type,
                r.subject_id,
                r.indicator.code,
                r.indicator.version,
                period,
                old_value,
                r.value,
                r.indicator.unit,
                r.original_value,
                r.src.unit,
                r.src.note,
                now,
                actor.sub,
                division,
                batch_id,
                restatement_reason,
                lock_id,
                prev_hash,
                digest,
            )
        )
        prev_hash = digest
        if r.old is None:
            new_obs.append(
                (
                    r.subject_type,
                    r.subject_id,
                    r.indicator.code,
                    period,
                    r.period.end,
                    r.value,
                    r.indicator.unit,
                    1,
                    r.src.note,
                    division,
                    now,
                    now,
                    actor.sub,
                )
            )
        else:
            changed.append(
                {
                    "oid": r.old[0],
                    "value": r.value,
                    "unit": r.indicator.unit,
                    "revision": revision_no,
                    "note": r.src.note,
                    "pushed_by_division": division,
                    "recorded_at": now,
                    "recorded_by": actor.sub,
                }
            )
    await repo.insert_observations(new_obs)
    await repo.update_observations(changed)
    await repo.insert_revisions(revisions)


# --- idempotency ----------------------------------------------------------------------------


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
    still running: 409 (a key left running by a dead request is taken over after a while).
    """
    now = datetime.now(UTC)
    async with db.sessions() as session:
        repo = IdempotencyRepository(session)
        await repo.purge(before=now - IDEMPOTENCY_RETENTION)
        row = IdempotencyKey(subject=subject, key=key, request_hash=request_hash, status="running", created_at=now)
        if await repo.try_insert(row):
            await session.commit()
            return Claim()
        existing = await repo.get(subject, key)
        if existing is None:  # released between our insert and our read: a plain retry is fine
            await session.rollback()
            raise Conflict("a request with this Idempotency-Key is finishing; retry", idempotency_key=key)
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


# --- reads ----------------------------------------------------------------------------------


def parse_subject(text: str) -> tuple[str, str]:
    """``zone:<id>`` or ``division:<code>``; 422 otherwise."""
    kind, _, ident = text.partition(":")
    if kind not in ("zone", "division") or not ident:
        raise Unprocessable(
            "subject must be zone:<id> or division:<code>",
            errors=[{"loc": ["query", "subject"], "msg": "expected zone:<id> or division:<code>", "type": "subject"}],
        )
    return kind, ident


def _period_or_422(text: str, name: str) -> Period:
    try:
        return Period.parse(text)
    except ValueError as exc:
        raise Unprocessable(str(exc), errors=[{"loc": ["query", name], "msg": str(exc), "type": "period"}]) from exc


def _subject_model(kind: str, ident: str) -> Subject:
    return Subject(zone=ident) if kind == "zone" else Subject(division=ident)


def observation_read(row: Observation) -> ObservationRead:
    """Contract view of a current value."""
    return ObservationRead(
        subject=_subject_model(row.subject_type, row.subject_id),
        indicator=row.indicator_code,
        period=row.period,
        value=row.value,
        unit=row.unit,
        revision=row.revision,
        note=row.note,
        first_recorded_at=_aware(row.first_recorded_at),
        recorded_at=_aware(row.recorded_at),
        recorded_by=row.recorded_by,
    )


def revision_read(row: Revision) -> RevisionRead:
    """Contract view of a revision."""
    return RevisionRead(
        seq=row.seq,
        subject=_subject_model(row.subject_type, row.subject_id),
        indicator=row.indicator_code,
        indicator_version=row.indicator_version,
        period=row.period,
        old_value=row.old_value,
        new_value=row.new_value,
        unit=row.unit,
        original_value=row.original_value,
        original_unit=row.original_unit,
        note=row.note,
        recorded_at=_aware(row.recorded_at),
        recorded_by=row.recorded_by,
        recorded_by_division=row.recorded_by_division,
        batch=row.batch,
        restatement_reason=row.restatement_reason,
        lock=row.lock_id,
        prev_hash=row.prev_hash,
        hash=row.hash,
    )


def _reader_subject(actor: Actor, subject: tuple[str, str] | None) -> tuple[str, str] | None:
    """A zone committee reads its own zone only."""
    if actor.has(
        Role.CITY_ADMIN, Role.STATISTICS_BUREAU, Role.COMMERCE_BUREAU, Role.SCIENCE_BUREAU, Role.COUNTY
    ) or not actor.has(Role.ZONE_COMMITTEE):
        return subject
    own = ("zone", actor.zone or "")
    if subject is not None and subject != own:
        raise Forbidden("a zone committee reads its own zone's values only")
    return own


async def list_observations(
    *,
    session: AsyncSession,
    actor: Actor,
    subject: str | None,
    indicator: str | None,
    period: str | None,
    from_: str | None,
    to: str | None,
    after: int | None,
    limit: int,
) -> tuple[list[ObservationRead], int | None]:
    """Current values, one page (keyset on id)."""
    subj = _reader_subject(actor, parse_subject(subject) if subject else None)
    p = str(_period_or_422(period, "period")) if period else None
    start = _period_or_422(from_, "from").end if from_ else None
    end = _period_or_422(to, "to").end if to else None
    rows = await ObservationRepository(session).search(
        subject=subj, indicator=indicator, period=p, start=start, end=end, after_id=after, limit=limit + 1
    )
    more = len(rows) > limit
    rows = rows[:limit]
    return [observation_read(r) for r in rows], (rows[-1].id if more and rows else None)


async def history(
    *,
    session: AsyncSession,
    actor: Actor,
    subject: str,
    indicator: str,
    period: str,
    after: int | None,
    limit: int,
) -> tuple[list[RevisionRead], int | None]:
    """Every revision of one value, oldest first (one page)."""
    subj = _reader_subject(actor, parse_subject(subject))
    assert subj is not None
    p = str(_period_or_422(period, "period"))
    rows = await ObservationRepository(session).history(
        (subj[0], subj[1], indicator, p), after_seq=after, limit=limit + 1
    )
    more = len(rows) > limit
    rows = rows[:limit]
    return [revision_read(r) for r in rows], (rows[-1].seq if more and rows else None)


# --- JSON batches and files -------------------------------------------------------------------


def rows_from_batch(observations: Sequence[Any]) -> tuple[list[RowIn], list[ImportConflict]]:
    """Rows of a JSON batch; a subject naming both or neither of zone and division is a conflict."""
    rows: list[RowIn] = []
    conflicts: list[ImportConflict] = []
    for i, o in enumerate(observations):
        subject: tuple[str, str] | None
        if (o.subject.zone is None) == (o.subject.division is None):
            subject = None
            conflicts.append(
                ImportConflict(
                    index=i, field="subject", code="bad_subject", message="give exactly one of zone and division"
                )
            )
        else:
            subject = o.subject.key()
        rows.append(RowIn(i, subject, o.indicator, o.period, o.value, o.unit, o.note))
    return rows, conflicts


async def rows_from_file(
    *, content: bytes, registry: Registry, jurisdiction: Jurisdiction
) -> tuple[list[RowIn], list[ImportConflict], int]:
    """Rows of an imported file, zones given by name resolved through the registry as of the period."""
    from services.metrics.observations.files import read_table

    file_rows, missing, skipped = read_table(content)
    if missing:
        conflict = ImportConflict(
            index=0,
            field=missing[0],
            code="missing_column",
            message=f"the header lacks the column(s): {', '.join(missing)} "
            "(expected zone,indicator,period,value,unit,note)",
            line=1,
        )
        summary = ImportSummary(status="conflict", dry_run=False, counts=ImportCounts(rejected=0), conflicts=[conflict])
        raise Unprocessable(
            conflict.message,
            errors=[{"loc": ["file", "header"], "msg": conflict.message, "type": "missing_column"}],
            summary=summary.model_dump(mode="json"),
        )
    rows: list[RowIn] = []
    conflicts: list[ImportConflict] = []
    names = [r for r in file_rows if r.zone and not DIVISION_RE.match(r.zone)]
    if names:
        await jurisdiction.refresh(registry)
    for i, fr in enumerate(file_rows):
        subject: tuple[str, str] | None = None
        if not fr.zone:
            conflicts.append(
                ImportConflict(
                    index=i, field="subject", code="bad_subject", message="the zone cell is empty", line=fr.line
                )
            )
        elif DIVISION_RE.match(fr.zone):
            subject = ("division", fr.zone)
        else:
            try:
                day = Period.parse(fr.period).end
            except ValueError:
                day = today_in_china()
            subject, fault = await _resolve_zone(fr.zone, day, registry, jurisdiction)
            if fault is not None:
                conflicts.append(
                    ImportConflict(index=i, field="subject", code=fault[0], message=fault[1], line=fr.line)
                )
        rows.append(RowIn(i, subject, fr.indicator, fr.period, fr.value, fr.unit, fr.note, line=fr.line))
    return rows, conflicts, skipped


async def _resolve_zone(
    text: str, day: date, registry: Registry, jurisdiction: Jurisdiction
) -> tuple[tuple[str, str] | None, tuple[ConflictCode, str] | None]:
    """A zone cell as a subject: a zone id active on ``day``, else a name, else an id to check."""
    active = await jurisdiction.active_zones(registry, day)
    if any(z.id == text for z in active):
        return ("zone", text), None
    found = await jurisdiction.resolve(registry, text, day)
    ids = sorted({m.zone.id for m in found.matches})
    if len(ids) == 1:
        return ("zone", ids[0]), None
    if len(ids) > 1:
        names = ", ".join(f"{m.zone.name} ({m.zone.id}, {m.match})" for m in found.matches)
        return None, ("ambiguous_zone", f"{text!r} names several zones on {day}: {names}; use the zone id")
    return ("zone", text), None  # not a name on that day: checked as an id (unknown, ended…)


async def template(
    *,
    session: AsyncSession,
    registry: Registry,
    jurisdiction: Jurisdiction,
    actor: Actor,
    division: str | None,
    period: str,
) -> bytes:
    """An xlsx template pre-filled with the division's zones (active at the period's end), its own
    totals, and every required indicator reported per that kind of period."""
    from services.metrics.observations.files import build_template

    p = _period_or_422(period, "period")
    if division is not None and not DIVISION_RE.match(division):
        raise Unprocessable(
            "division must be a 6-digit code",
            errors=[{"loc": ["query", "division"], "msg": "not a division code", "type": "division"}],
        )
    if not actor.has(Role.CITY_ADMIN, Role.STATISTICS_BUREAU):
        if division is None:
            division = actor.division
        if division != actor.division:
            raise Forbidden("a county gets the template of its own division only")
    await jurisdiction.refresh(registry)
    zones = await jurisdiction.active_zones(registry, p.end)
    if division is not None:
        zones = [z for z in zones if division in (z.authority, z.entrusted_to)]
    catalog = await load_catalog(session=session)
    indicators = [
        i for i in catalog.indicators.values() if i.kind != "derived" and i.required and p.type in i.period_types
    ]
    return build_template(
        period=str(p),
        zones=sorted(zones, key=lambda z: z.name),
        divisions=[division] if division else [],
        indicators=indicators,
    )
