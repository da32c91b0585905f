"""Use cases of pushing and reading values: checks, scope, locks, the ledger, idempotency.

A push (JSON batch or imported file) is checked as a whole: every bad row is reported, a row
outside the caller's scope makes it a 403, a locked period a 423, and only a batch without
any fault is stored, in one transaction: the current values, one revision per changed value,
and a batch record sealing those revisions as the next link of the ledger's hash chain.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import uuid
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Context, Decimal
from fractions import Fraction
from operator import attrgetter
from typing import Annotated, Any, NamedTuple, cast

import msgspec
from asyncpg.exceptions import UniqueViolationError
from sqlalchemy.ext.asyncio import AsyncSession

from libs.domain.kernel.contracts import Actor
from libs.domain.kernel.errors import Conflict, Forbidden, Locked, PayloadTooLarge, Unprocessable
from libs.domain.kernel.values import Period, Role, today_in_china
from libs.domain.metrics.contracts import (
    MAX_BATCH_ROWS,
    ConflictCode,
    ImportConflict,
    ImportCounts,
    ImportSummary,
    IndicatorRead,
    ObservationBatch,
    ObservationRead,
    RevisionRead,
    Subject,
)
from libs.domain.metrics.ledger import DIGEST_BYTES, NULL, BatchEncoder, batch_hash, copy_text
from libs.domain.metrics.scope import existence_fault, managing_divisions, state_on
from libs.domain.metrics.units import MAX_ABS, SCALE, UnitError, apply_factor, conversion_factor, parse_decimal
from libs.domain.registry.contracts import ZoneRead
from services.common.db import Database
from services.metrics.indicators.service import Catalog, CatalogCache, load_catalog
from services.metrics.jurisdiction import Jurisdiction, Registry
from services.metrics.ledger.repository import LockRepository
from services.metrics.observations.repository import (
    Current,
    IdempotencyRepository,
    Key,
    ObservationRepository,
)
from services.metrics.tables import Batch, IdempotencyKey, Observation, PeriodLock, Revision

DIVISION_RE = re.compile(r"\A[1-9][0-9]{5}\Z")  # ASCII digits only, nothing after (not even a newline)
MAX_DIGITS = 25  # values of 10^25 or more are refused before any arithmetic
_EXACT = Context(prec=40)  # as wide as metrics_units' conversions: exact for any value below MAX_ABS
IDEMPOTENCY_RETENTION = timedelta(hours=48)
"""Keys are kept at least this long (the contract promises 24 hours)."""
RUNNING_TIMEOUT = timedelta(minutes=10)
"""A key still 'running' after this long belonged to a request that died; a retry may take it over."""
PURGE_EVERY = timedelta(minutes=1)
"""How often (at most, per database) a claim deletes the finished keys past their retention."""
_PURGED: dict[str, datetime] = {}  # database URL -> when a claim last deleted the expired keys
_NEVER = datetime.min.replace(tzinfo=UTC)


class RowIn(NamedTuple):
    """A row to push, from a JSON batch or a file line; ``subject`` is ``None`` when unreadable.

    The JSON path builds plain tuples of the same shape (cheaper at 10,000 rows a batch).
    """

    position: int
    subject: tuple[str, str] | None
    indicator: str
    period: str
    value: Decimal | str | None
    unit: str
    note: str | None
    line: int | None = None


class _Faults:
    """Every fault of a batch, and the row indices they name."""

    def __init__(self, items: Sequence[ImportConflict] = (), lines: dict[int, int | None] | None = None) -> None:
        self.items: list[ImportConflict] = list(items)
        self.lines = lines if lines is not None else {}
        self.rows: set[int] = {c.index for c in self.items}

    def add(self, index: int, field_: str, code: ConflictCode, message: str) -> None:
        self.items.append(
            ImportConflict(index=index, field=field_, code=code, message=message, line=self.lines.get(index))
        )
        self.rows.add(index)


@dataclass(slots=True)
class _Static:
    """What the checks make of one (indicator, period, unit) text combination, whatever the row.

    ``faults`` are reported for every row of the combination; when ``fatal``, its rows are not
    checked further. ``unit_fault`` is reported only for rows whose value reads (the checks'
    order: value, then unit). ``ok`` is false when its rows may not be stored. The rest is what
    storing a row needs, computed once: the factor, the range, and the texts of the lines.
    """

    indicator: IndicatorRead | None
    period: Period | None
    period_text: str
    faults: list[tuple[str, ConflictCode, str]]
    fatal: bool
    ok: bool
    factor: Fraction | None
    unit_fault: tuple[ConflictCode, str] | None
    identity: bool = False
    low: Decimal | None = None
    high: Decimal | None = None
    code: str = ""
    code_text: str = ""
    period_end: str = ""  # with the tab that follows it on a line
    unit_text: str = ""
    original_unit_text: str = ""
    new_head: str = ""  # a first version's line from the indicator to the old value (null), tabs around
    new_unit: str = ""  # the canonical unit, tabs around
    new_original_unit: str = ""  # the unit as pushed, tabs around
    period_end_bytes: bytes = b""


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
    code_text, period_text = copy_text(indicator.code), str(period)
    try:
        factor = conversion_factor(unit, indicator.unit)
    except UnitError as exc:
        unit_code: ConflictCode = "unknown_unit" if exc.code == "unknown_unit" else "incompatible_unit"
        unit_fault = (unit_code, f"{exc} (the indicator's unit is {indicator.unit})")
    return _Static(
        indicator,
        period,
        str(period),
        faults,
        fatal=False,
        ok=ok,
        factor=factor,
        unit_fault=unit_fault,
        identity=factor == 1,
        low=None if indicator.min is None else Decimal(indicator.min),
        high=None if indicator.max is None else Decimal(indicator.max),
        code=indicator.code,
        code_text=copy_text(indicator.code),
        period_end=period.end.isoformat() + "\t",
        unit_text=copy_text(indicator.unit),
        original_unit_text=copy_text(unit),
        new_head=f"\t{code_text}\t{indicator.version}\t{period_text}\t{NULL}\t",
        new_unit=f"\t{copy_text(indicator.unit)}\t",
        new_original_unit=f"\t{copy_text(unit)}\t",
        period_end_bytes=(period.end.isoformat() + "\t").encode(),
    )


def _in_unit(original: Decimal, static: _Static) -> Decimal:
    """A value read (``original``, in the unit pushed) in its indicator's unit, with six decimals.

    A zero is always positive zero: PostgreSQL's ``numeric`` has no negative zero, so a stored
    ``-0.000000`` reads back as ``0.000000``, and the ledger must hash what is stored.
    """
    if static.identity:
        value = original.quantize(SCALE, context=_EXACT)
    else:
        assert static.factor is not None
        value = apply_factor(original, static.factor)
    return value if value else value.copy_abs()


_Checked = tuple[int, str, str, _Static, Decimal, str, str, str | None, Key]
"""A row that passed the static checks: index, subject type, subject id, its combination, value
in the canonical unit, that value's six-decimal text, the value as pushed (plain text), note, key."""


def _check_rows(
    rows: Sequence[tuple[Any, ...]],
    catalog: Catalog,
    faults: _Faults,
    today: date,
    seen: dict[Key, int] | None = None,
    statics: dict[tuple[str, str, str], _Static] | None = None,
) -> list[_Checked]:
    """The static checks of every row (nothing asked of the registry or the database).

    Returns the rows without any fault. The checks that depend only on the indicator, period
    and unit run once per distinct combination (:class:`_Static`): a batch repeats a few dozen
    of them thousands of times, so the loop per row is kept tight. A batch checked a part at a
    time passes the same ``seen`` (keys already met, for duplicates) and ``statics`` to each part.
    """
    out: list[_Checked] = []
    if seen is None:
        seen = {}
    if statics is None:
        statics = {}
    add = faults.add
    divisions_ok: dict[str, bool] = {}
    for index, subject, code, period_text, raw_value, unit, note, _line in rows:
        ok = True
        if note is not None and "\x00" in note:  # no database text type holds NUL; refuse it everywhere
            add(index, "note", "bad_text", "the note contains a NUL character (U+0000)")
            ok = False
        if subject is None:
            ok = False
            subject_type = subject_id = ""
        else:
            subject_type, subject_id = subject
            if subject_type == "division":
                good = divisions_ok.get(subject_id)
                if good is None:
                    good = divisions_ok[subject_id] = DIVISION_RE.match(subject_id) is not None
                if not good:
                    add(index, "subject", "bad_subject", f"{subject_id!r} is not a 6-digit division code")
                    ok = False
        combo = (code, period_text, unit)
        static = statics.get(combo)
        if static is None:
            static = statics[combo] = _static(catalog.get(code), code, period_text, unit, today)
        if static.faults:
            for field_, fault_code, message in static.faults:
                add(index, field_, fault_code, message)
            if static.fatal:
                continue
            ok = False
        if type(raw_value) is Decimal:
            original = raw_value
            if not original.is_finite():
                add(index, "value", "bad_value", f"not a finite number: {original}")
                continue
        else:
            try:
                if raw_value is None:
                    raise ValueError("no value")
                original = parse_decimal(raw_value)
            except ValueError as exc:
                add(index, "value", "bad_value", str(exc))
                continue
        if static.unit_fault is not None:
            add(index, "unit", *static.unit_fault)
            continue
        if original.adjusted() >= MAX_DIGITS:
            add(index, "value", "bad_value", f"{original} {unit} is too large to store")
            continue
        value = _in_unit(original, static)
        if abs(value) >= MAX_ABS:
            add(index, "value", "bad_value", f"{original} {unit} is too large to store")
            continue
        if (static.low is not None and value < static.low) or (static.high is not None and value > static.high):
            low = static.low if static.low is not None else "-∞"
            high = static.high if static.high is not None else "∞"
            assert static.indicator is not None
            add(index, "value", "out_of_range", f"{value} {static.indicator.unit} is outside [{low}, {high}]")
            continue
        if not ok:
            continue
        key = (subject_type, subject_id, static.code, static.period_text)
        first = seen.setdefault(key, index)
        if first != index:
            add(index, "subject", "duplicate_row", f"the same value as row {first} (subject, indicator, period)")
            continue
        out.append(
            (index, subject_type, subject_id, static, value, format(value, "f"), format(original, "f"), note, key)
        )
    return out


def _zones_by_period(rows: Sequence[_Checked], into: dict[Period, set[str]]) -> None:
    """Add the zones of checked ``rows`` to ``into``, per period.

    A batch names a period or two: the rows are gathered per period's text, without a tuple
    per row (hashing a Period object, or a pair, per row costs more).
    """
    texts = {r[3].period_text for r in rows}
    for text in texts:
        period = cast(Period, next(r[3].period for r in rows if r[3].period_text == text))
        zones = into.setdefault(period, set())
        if len(texts) == 1:
            zones.update({r[2] for r in rows if r[1] == "zone"})
        else:
            zones.update({r[2] for r in rows if r[1] == "zone" and r[3].period_text == text})


_ZoneVerdict = tuple[ConflictCode | None, str, str | None, bool]
"""What the registry says of a (zone, period): fault code and message, zone kind, in the caller's scope."""


async def _check_zones(
    rows: Sequence[_Checked],
    *,
    actor: Actor,
    registry: Registry,
    jurisdiction: Jurisdiction,
    faults: _Faults,
) -> tuple[list[int], dict[tuple[str, Period], str | None]]:
    """Existence of each zone in its period and the caller's scope.

    Returns the indices out of scope and the kind of each (zone, period) pushed (for locks).
    The registry is asked once per distinct zone and period, not once per row; its change feed
    is polled first.
    """
    outside: list[int] = []
    zone_rows = [r for r in rows if r[1] == "zone"]
    if not actor.has(Role.CITY_ADMIN, Role.STATISTICS_BUREAU):
        own = actor.division if actor.has(Role.COUNTY) else None
        outside.extend(r[0] for r in rows if r[1] == "division" and r[2] != own)
    if not zone_rows:
        return outside, {}
    zones_of: dict[Period, set[str]] = {}
    _zones_by_period(zone_rows, zones_of)
    refused, kinds = await _zone_verdicts(
        zones_of, actor=actor, registry=registry, jurisdiction=jurisdiction, refreshed=False
    )
    if refused:  # only then a second look at the rows: which ones are refused, and why
        for r in zone_rows:
            pair = (r[2], cast(Period, r[3].period))
            if pair not in refused:
                continue
            verdict = refused[pair]
            if verdict is None:
                outside.append(r[0])
            else:
                faults.add(r[0], "subject", verdict[0], verdict[1])
    return outside, kinds


async def _in_scope(
    zones_of: dict[Period, set[str]],
    divisions: set[str],
    *,
    actor: Actor,
    registry: Registry,
    jurisdiction: Jurisdiction,
) -> bool:
    """Whether every zone existed in its period and every subject is the caller's, as
    :func:`_check_zones` decides (the registry's change feed was just polled)."""
    if not actor.has(Role.CITY_ADMIN, Role.STATISTICS_BUREAU):
        own = actor.division if actor.has(Role.COUNTY) else None
        if any(d != own for d in divisions):
            return False
    if not any(zones_of.values()):
        return True
    refused, _kinds = await _zone_verdicts(
        zones_of, actor=actor, registry=registry, jurisdiction=jurisdiction, refreshed=True
    )
    return not refused


async def _zone_verdicts(
    zones_of: dict[Period, set[str]],
    *,
    actor: Actor,
    registry: Registry,
    jurisdiction: Jurisdiction,
    refreshed: bool,
) -> tuple[dict[tuple[str, Period], tuple[ConflictCode, str] | None], dict[tuple[str, Period], str | None]]:
    """Per (zone, period) pushed: the refused ones (with their fault, or ``None`` when outside the
    caller's scope) and the zone kind of the others. The registry's change feed is polled first,
    unless the caller has just done so (``refreshed``)."""
    unrestricted = actor.has(Role.CITY_ADMIN, Role.STATISTICS_BUREAU)
    county_scope = not unrestricted and actor.has(Role.COUNTY)
    kinds: dict[tuple[str, Period], str | None] = {}
    pairs = {(zone, period) for period, zones in zones_of.items() for zone in zones}
    if not refreshed:
        await jurisdiction.refresh(registry)
    active: dict[Period, dict[str, ZoneRead]] = {}
    for _, p in pairs:
        if p not in active:
            active[p] = {z.id: z for z in await jurisdiction.active_zones(registry, p.end)}
    need = {zone for zone, p in pairs if county_scope or zone not in active[p]}
    histories = await jurisdiction.histories_of(registry, need)
    refused: dict[tuple[str, Period], tuple[ConflictCode, str] | None] = {}  # None: outside the scope
    for zone_id, period in pairs:
        fault, message, kind, allowed = _zone_verdict(
            zone_id, period, active[period].get(zone_id), histories.get(zone_id), actor, county_scope
        )
        if fault is not None:
            refused[(zone_id, period)] = (fault, message)
            continue
        kinds[(zone_id, period)] = kind
        if not (unrestricted or allowed):
            refused[(zone_id, period)] = None
    return refused, kinds


def _zone_verdict(
    zone_id: str,
    period: Period,
    zone: ZoneRead | None,
    states: list[ZoneRead] | None,
    actor: Actor,
    county_scope: bool,
) -> _ZoneVerdict:
    kind: str | None
    if zone is None:
        if not states:
            return "unknown_zone", f"the registry has no zone {zone_id!r}", None, False
        fault = existence_fault(states, period)
        if fault is not None:
            msg = (
                f"zone {zone_id} did not exist yet at the end of {period}"
                if fault == "zone_not_existing"
                else f"zone {zone_id} had ended by the end of {period}; its successor reports it"
            )
            return fault, msg, None, False
        at_end = state_on(states, period.end)
        kind = at_end.kind.value if at_end else None
    else:
        kind = zone.kind.value
    allowed = bool(actor.has(Role.ZONE_COMMITTEE) and zone_id == actor.zone) or bool(
        county_scope and actor.division in managing_divisions(states or [], period)
    )
    return None, "", kind, allowed


def _lock_for(subject_type: str, kind: str | None, period: str, locks: Sequence[PeriodLock]) -> PeriodLock | None:
    for lock in locks:
        if lock.period != period:
            continue
        if lock.scope == "all" or subject_type == "division" or lock.scope == kind:
            return lock
    return None


def _lock_view(lock: PeriodLock) -> dict[str, Any]:
    return {
        "id": lock.id,
        "period": lock.period,
        "kind": None if lock.scope == "all" else lock.scope,
        "reason": lock.reason,
    }


def _counts(good: Sequence[_Checked], current: dict[Key, Current], rejected: int, skipped: int) -> ImportCounts:
    created = updated = unchanged = 0
    for r in good:
        old = current.get(r[8])
        if old is None:
            created += 1
        elif old[0] != r[4]:
            updated += 1
        else:
            unchanged += 1
    return ImportCounts(created=created, updated=updated, unchanged=unchanged, rejected=rejected, skipped=skipped)


def _summary(
    faults: _Faults, counts: ImportCounts, *, dry_run: bool, batch: str | None = None, restatement: bool = False
) -> ImportSummary:
    items = sorted(faults.items, key=lambda c: (c.index, c.field))
    return ImportSummary(
        status="conflict" if items else "ok",
        dry_run=dry_run,
        counts=counts,
        conflicts=items,
        batch=batch,
        restatement=restatement,
    )


async def push(
    *,
    session: AsyncSession,
    registry: Registry,
    jurisdiction: Jurisdiction,
    actor: Actor,
    rows: Sequence[tuple[Any, ...]],
    dry_run: bool,
    restatement_reason: str | None,
    source: str,
    filename: str | None = None,
    prior_conflicts: Sequence[ImportConflict] = (),
    skipped: int = 0,
    decoded: Sequence[DecodedRow] | None = None,
    catalogs: CatalogCache | None = None,
) -> ImportSummary:
    """Check and (unless ``dry_run``) store a batch; raise on any fault, storing nothing.

    ``rows`` are :class:`RowIn` or plain tuples of the same shape; or, for a JSON batch in the
    common shape, ``decoded`` holds its rows as decoded (and ``rows`` is empty). ``catalogs``:
    the app's catalog cache (else the catalog is read).
    """
    count = len(decoded) if decoded is not None else len(rows)
    if count > MAX_BATCH_ROWS:
        raise PayloadTooLarge(
            f"{count} rows exceed the limit of {MAX_BATCH_ROWS} per batch; split it", limit_rows=MAX_BATCH_ROWS
        )
    if restatement_reason is not None and not actor.has(Role.CITY_ADMIN):
        raise Forbidden("only a city_admin may restate values (restatement_reason)")
    catalog = await (catalogs.get(session=session) if catalogs is not None else load_catalog(session=session))
    today = today_in_china()
    repo = ObservationRepository(session)
    write = _Write(repo, actor, source, filename, count, restatement_reason)
    if not dry_run and not prior_conflicts and count and repo.postgres and STREAM_CHUNK:
        new = _AllNew(write, catalog, today, registry, jurisdiction, rows=rows, decoded=decoded)
        if (batch_id := await new.store()) is not None:
            counts = ImportCounts(created=count, skipped=skipped)
            restated = restatement_reason is not None
            return _summary(_Faults(), counts, dry_run=False, batch=batch_id, restatement=restated)
    if decoded is not None:
        rows, conflicts = decoded_rows(decoded)
        prior_conflicts = [*prior_conflicts, *conflicts]
    lines = {r[0]: r[7] for r in rows if len(r) > 7 and r[7] is not None}
    faults = _Faults(prior_conflicts, lines)
    checked = _check_rows(rows, catalog, faults, today)
    if faults.rows:
        checked = [r for r in checked if r[0] not in faults.rows]
    outside, kinds = await _check_zones(
        checked, actor=actor, registry=registry, jurisdiction=jurisdiction, faults=faults
    )
    if outside:
        raise Forbidden(
            f"{len(outside)} row(s) are outside the caller's scope: {_first(outside)}",
            rows=sorted(outside),
        )
    rejected = faults.rows
    good = [r for r in checked if r[0] not in rejected] if rejected else checked
    if not dry_run and not faults.items:
        await repo.lock_writes()
    current = await repo.current(
        [r[1] for r in good], [r[2] for r in good], [r[8][2] for r in good], [r[8][3] for r in good]
    )
    if faults.items:
        summary = _summary(faults, _counts(good, current, len(rejected), skipped), dry_run=dry_run)
        raise Unprocessable(
            f"{summary.counts.rejected} row(s) conflict; nothing was stored",
            errors=[
                {"loc": ["observations", c.index, c.field], "msg": c.message, "type": c.code} for c in summary.conflicts
            ],
            summary=summary.model_dump(mode="json"),
        )
    counts = _counts(good, current, 0, skipped)
    if current:
        to_write = [r for r in good if (old := current.get(r[8])) is None or old[0] != r[4]]
    else:
        to_write = good
    locks = await LockRepository(session).for_periods({r[3].period_text for r in to_write})
    row_locks: dict[int, PeriodLock] = {}
    if locks:
        for r in to_write:
            lock = _lock_for(r[1], kinds.get((r[2], r[3].period)), r[3].period_text, locks)  # type: ignore[arg-type]
            if lock is not None:
                row_locks[r[0]] = lock
    if row_locks and restatement_reason is None:
        first = next(iter(row_locks.values()))
        kind_text = f" for {first.scope} zones" if first.scope != "all" else ""
        used = {lock.id: lock for lock in row_locks.values()}
        raise Locked(
            f"period {first.period}{kind_text} is locked (lock {first.id}: {first.reason}); "
            "only a city_admin restatement with a restatement_reason may change it",
            lock=_lock_view(first),
            locks=[_lock_view(v) for v in used.values()],
            rows=list(row_locks),
        )
    if dry_run or not to_write:
        return _summary(faults, counts, dry_run=dry_run)
    batch_id = await write(to_write, counts, current, row_locks)
    return _summary(faults, counts, dry_run=False, batch=batch_id, restatement=restatement_reason is not None)


@dataclass(slots=True)
class _Write:
    """Storing a checked batch: its values, its revisions, and its batch record (the chain's next link)."""

    repo: ObservationRepository
    actor: Actor
    source: str
    filename: str | None
    rows: int
    restatement_reason: str | None

    async def __call__(
        self,
        to_write: Sequence[_Checked],
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
                "first_seq": first_seq,
                "revisions": revisions,
                "digests": digests,
                "prev_hash": prev_hash,
                "hash": batch_hash(prev_hash, header, digests),
            }
        )
        return batch_id


class _Abandon(Exception):
    """The all-new attempt cannot store the batch as it is: the general path takes over."""


@dataclass(slots=True)
class _Combo:
    """What the all-new path keeps of one (indicator, period, unit) text combination: its checks,
    whether its values may be written from their text alone (:meth:`_AllNew._encode_decoded`),
    and the zones and divisions already given a value of its indicator and period (sets shared
    by every combination naming the same indicator and period: a second value is a duplicate)."""

    static: _Static
    plain: bool
    zones: set[str]
    divisions: set[str]


_PAD = ("000000", "00000", "0000", "000", "00", "0", "")
"""The zeros completing a fraction of 0 … 6 digits to six decimals."""


class _AllNew:
    """Storing a batch as all new values, checked while it is stored; ``None`` when it cannot be.

    The common push is of values not stored yet, without any fault, out of any lock. So, on
    PostgreSQL, the batch is checked a chunk of (up to) :data:`STREAM_CHUNK` rows at a time while
    it is streamed to ``COPY``: the database stores a chunk while the next one is checked and
    encoded. Anything unusual abandons the attempt and the general path runs from the start,
    giving every answer exactly as before: a fault in a row (the stream stops early), a key
    already stored (the primary key refuses it; the first row's key is probed first, so a
    re-push of stored values skips the attempt), a zone the registry refuses or outside the
    caller's scope, a lock on one of the periods (the first row's is looked up with the probe).
    Nothing is written in the request's transaction before the attempt, so it needs no
    savepoint: an abandoned attempt rolls the transaction back.

    A JSON batch is read as ``msgspec`` decoded it (``decoded``): each row is checked and
    written in one pass (:meth:`_encode_decoded`), its faults only detected, never described
    (the general path describes them). Rows of a file (``rows``) go through :func:`_check_rows`
    and :func:`_first_versions`.
    """

    def __init__(
        self,
        write: _Write,
        catalog: Catalog,
        today: date,
        registry: Registry,
        jurisdiction: Jurisdiction,
        *,
        rows: Sequence[tuple[Any, ...]] = (),
        decoded: Sequence[DecodedRow] | None = None,
    ) -> None:
        self.write = write
        self.rows = rows
        self.decoded = decoded
        self.count = len(decoded) if decoded is not None else len(rows)
        self.catalog = catalog
        self.today = today
        self.registry = registry
        self.jurisdiction = jurisdiction
        self.faults = _Faults()
        self.seen: dict[Key, int] = {}
        self.statics: dict[tuple[str, str, str], _Static] = {}
        self.combos: dict[tuple[str, str, str], _Combo] = {}
        self.subjects: dict[tuple[str, str], tuple[set[str], set[str]]] = {}
        self.subject_texts: dict[str, str] = {}  # zone id -> "zone\t<id>" as COPY writes it
        self.division_texts: dict[str, str] = {}  # division code -> "division\t<code>"
        self.digests: list[bytes] = []
        self.zones_of: dict[Period, set[str]] = {}
        self.divisions: set[str] = set()
        self.stored = 0
        self.abandoned = False
        self.batch_id = ""
        self.tail = ""
        self.prefetch: asyncio.Task[None] | None = None
        self.verdict: tuple[bool, BaseException | None] | None = None  # all in scope, registry error

    def _probe(self) -> tuple[Key, Period | None] | None:
        """The first row's key and, for a zone, its period; ``None`` when it cannot be stored."""
        if self.decoded is not None:
            o = self.decoded[0]
            zone, division = o.subject.zone, o.subject.division
            if (zone is None) == (division is None):
                return None
            combo = self._combo(o.indicator, o.period, o.unit)
            if combo is None:
                return None
            static = combo.static
            subject_type, subject_id = ("zone", zone) if zone is not None else ("division", division)
        else:
            first = _check_rows(self.rows[:1], self.catalog, _Faults(), self.today)
            if not first:
                return None
            subject_type, subject_id, static = first[0][1], first[0][2], first[0][3]
        assert subject_id is not None
        period = static.period if subject_type == "zone" else None
        return (subject_type, subject_id, static.code, static.period_text), period

    def _combo(self, code: str, period_text: str, unit: str) -> _Combo | None:
        """The :class:`_Combo` of a combination met for the first time; ``None`` if it has any fault."""
        combo_key = (code, period_text, unit)
        static = self.statics.get(combo_key)
        if static is None:
            static = self.statics[combo_key] = _static(self.catalog.get(code), code, period_text, unit, self.today)
        if static.faults or static.unit_fault is not None or not static.ok:
            return None
        canonical = (static.code, static.period_text)
        subjects = self.subjects.get(canonical)
        if subjects is None:
            subjects = self.subjects[canonical] = (set(), set())
        plain = static.identity and static.high is None and (static.low is None or static.low <= 0)
        combo = self.combos[combo_key] = _Combo(static, plain, subjects[0], subjects[1])
        return combo

    async def store(self) -> str | None:
        """Store the batch; its id, or ``None`` (nothing stored) for the general path to take over."""
        write, repo = self.write, self.write.repo
        probe = self._probe()
        if probe is None:
            return None
        key, period = probe
        await repo.lock_writes()
        last_seq, prev_hash, taken, locked = await repo.before_new(key)
        if taken or locked:
            return None
        session = repo.session
        batch_id = self.batch_id = uuid.uuid4().hex
        self.tail = f"\t{NULL}\t{copy_text(batch_id)}\n"
        # The registry's change feed (and the zones active in the first row's period) is read
        # while the database stores the rows.
        prefetch = self.prefetch = asyncio.create_task(self._prefetch({period} if period is not None else set()))
        try:
            await repo.stream_new(self._chunks(last_seq))
            if self.abandoned or self.stored != self.count or self.verdict is None:
                raise _Abandon
            in_scope, error = self.verdict
            if error is not None:
                raise error
            if not in_scope:
                raise _Abandon
            # Every combination met is one of a stored row (any fault abandons the attempt); the
            # first row's period was found unlocked already.
            periods = {st.period_text for st in self.statics.values()} - {key[3]}
            if periods and await LockRepository(session).any_on(periods):
                raise _Abandon
            counts = ImportCounts(created=self.count)
            digests = b"".join(self.digests)
            return await write.seal(batch_id, counts, last_seq + 1, prev_hash, digests, self.count)
        except (_Abandon, UniqueViolationError):
            # Nothing else was written in this transaction: rolling it back undoes the attempt
            # (and frees the writers' lock, which the general path takes again).
            await session.rollback()
            return None
        finally:
            if not prefetch.done():
                await asyncio.wait([prefetch])
            if not prefetch.cancelled():
                prefetch.exception()  # retrieved (the general path asks the registry again)

    async def _zones(self) -> None:
        """The zones and divisions of the batch checked against the registry and the caller's
        scope, kept in :attr:`verdict` (run inside the stream: it must not raise there, or
        ``COPY`` is cancelled rather than ended)."""
        assert self.prefetch is not None
        try:
            await self.prefetch
            for combo in self.combos.values():
                if combo.zones:
                    self.zones_of.setdefault(cast(Period, combo.static.period), set()).update(combo.zones)
                self.divisions.update(combo.divisions)
            in_scope = await _in_scope(
                self.zones_of,
                self.divisions,
                actor=self.write.actor,
                registry=self.registry,
                jurisdiction=self.jurisdiction,
            )
        except Exception as exc:  # noqa: BLE001 - re-raised once the stream has ended
            self.verdict = (False, exc)
        else:
            self.verdict = (in_scope, None)

    async def _prefetch(self, periods: set[Period]) -> None:
        await self.jurisdiction.refresh(self.registry)
        for period in periods:
            await self.jurisdiction.active_zones(self.registry, period.end)

    async def _chunks(self, last_seq: int) -> AsyncIterator[bytes]:
        """The ``COPY`` data, a chunk at a time (small ones first: the database starts sooner),
        each checked and encoded after the previous one was handed over; stops at a fault.

        After the last chunk, the zones are checked while the database stores it."""
        encode = self._encode_decoded if self.decoded is not None else self._encode_rows
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
        part = _check_rows(
            self.rows[start : start + size], self.catalog, self.faults, self.today, self.seen, self.statics
        )
        if self.faults.items:
            return None
        _zones_by_period(part, self.zones_of)
        self.divisions.update(r[2] for r in part if r[1] == "division")
        return _first_versions(part, self.batch_id, seq, self.digests)

    def _encode_decoded(self, start: int, size: int, seq: int) -> bytes | None:
        """Decoded rows ``start`` … ``start + size - 1`` checked and written as ``COPY`` data in
        one pass; ``None`` at the first row the general path would find a fault in.

        The lines are :func:`_first_versions`' (and so :meth:`BatchEncoder.line`'s). A value
        given as an integer or a plain decimal with at most six decimals, no leading zero, not
        negative and below 10^17, for an indicator in its own unit with no upper bound and no
        positive lower one, is written from its text (the canonical six decimals are the text
        padded with zeros, and the text is already the plain notation of the value as given);
        any other value goes through the :class:`Decimal` arithmetic of :func:`_check_rows`.
        """
        assert self.decoded is not None
        out: list[bytes] = []
        add = out.append
        add_digest = self.digests.append
        sha = hashlib.sha256
        combos = self.combos
        zone_texts = self.subject_texts
        division_texts = self.division_texts
        tail = self.tail
        for o in self.decoded[start : start + size]:
            combo = combos.get((o.indicator, o.period, o.unit))
            if combo is None:
                combo = self._combo(o.indicator, o.period, o.unit)
                if combo is None:
                    return None
            s = o.subject
            zone = s.zone
            if zone is not None:
                if s.division is not None or zone in combo.zones:
                    return None
                combo.zones.add(zone)
                subject = zone_texts.get(zone)
                if subject is None:
                    subject = zone_texts[zone] = "zone\t" + copy_text(zone)
            else:
                division = s.division
                if division is None or division in combo.divisions:
                    return None
                combo.divisions.add(division)
                subject = division_texts.get(division)
                if subject is None:
                    if DIVISION_RE.match(division) is None:
                        return None
                    subject = division_texts[division] = "division\t" + copy_text(division)
            note = o.note
            if note is None:
                note_text = NULL
            elif "\x00" in note:
                return None
            else:
                note_text = copy_text(note)
            value = o.value
            text = value if type(value) is str else str(value)
            static = combo.static
            value_text = ""
            if combo.plain and text[0] != "-":
                dot = text.find(".")
                if dot < 0:
                    if len(text) <= 17 and (text[0] != "0" or len(text) == 1):
                        value_text = text + ".000000"
                elif dot <= 17 and len(text) - dot <= 7 and (text[0] != "0" or dot == 1):
                    value_text = text + _PAD[len(text) - dot - 1]
            if not value_text:
                texts = _value_texts(Decimal(text), static)
                if texts is None:
                    return None
                value_text, text = texts
            seq += 1
            line = (
                f"{seq}\t{NULL}\t{subject}{static.new_head}{value_text}{static.new_unit}{text}"
                f"{static.new_original_unit}{note_text}{tail}"
            ).encode()
            add_digest(sha(line).digest()[:DIGEST_BYTES])
            add(static.period_end_bytes)
            add(line)
        return b"".join(out)


def _value_texts(original: Decimal, static: _Static) -> tuple[str, str] | None:
    """A value as :func:`_check_rows` stores it: its six-decimal text in the canonical unit and
    its plain text as given; ``None`` where :func:`_check_rows` finds a fault."""
    if original.adjusted() >= MAX_DIGITS:
        return None
    value = _in_unit(original, static)
    if abs(value) >= MAX_ABS:
        return None
    if (static.low is not None and value < static.low) or (static.high is not None and value > static.high):
        return None
    return format(value, "f"), format(original, "f")


def _first(indices: Sequence[int], n: int = 10) -> str:
    shown = ", ".join(str(i) for i in sorted(indices)[:n])
    return f"rows {shown}{' …' if len(indices) > n else ''}"


STREAM_CHUNK = 1000
"""Rows per chunk of a streamed ``COPY``: PostgreSQL stores one chunk while the next is built (0: no streaming)."""
FIRST_CHUNK = 100
"""Rows of the all-new ``COPY``'s first chunk: a small one, so the database starts sooner; the
chunks then grow threefold up to :data:`STREAM_CHUNK`, each ready before the database is done
with the previous one."""


async def _store(
    repo: ObservationRepository,
    *,
    rows: Sequence[_Checked],
    current: dict[Key, Current],
    row_locks: dict[int, PeriodLock],
    batch_id: str,
) -> tuple[int, tuple[str, bytes]]:
    """Write one new version per row: a value's first goes straight in; a later one first moves
    the value's current version to the history.

    Returns the batch's first seq, the previous batch's hash and the versions' digests. When
    every row is a first version (the common push), the lines are streamed to ``COPY`` a chunk at
    a time, so the database stores a chunk while the next one is built.
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
            next_lines.append(f"{old[1] + 1}\t{old[3].isoformat()}\t{line}")
    await repo.supersede(superseded)
    await repo.insert_next(next_lines)
    await repo.insert_new(new_lines)
    return last_seq + 1, (prev_hash, b"".join(digests))


async def _new_chunks(
    rows: Sequence[_Checked], row_locks: dict[int, PeriodLock], batch_id: str, last_seq: int, digests: list[bytes]
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


def _first_versions(rows: Sequence[_Checked], batch_id: str, last_seq: int, digests: list[bytes]) -> bytes:
    """:func:`_versions` of first versions without a lock, as ``COPY`` data (the all-new push).

    Each line is :meth:`BatchEncoder.line` with ``prev_seq``, ``old_value`` and ``lock_id`` null,
    put together from the texts its combination (:class:`_Static`) holds ready.
    """
    out: list[bytes] = []
    add = out.append
    sha = hashlib.sha256
    add_digest = digests.append
    tail = f"\t{NULL}\t{copy_text(batch_id)}\n"
    first = f"\t{NULL}\t"
    ids: dict[str, str] = {}
    seq = last_seq
    for _index, subject_type, subject_id, static, _value, value_text, original_text, note, _key in rows:
        seq += 1
        sid = ids.get(subject_id)
        if sid is None:
            sid = ids[subject_id] = copy_text(subject_id)
        line = (
            f"{seq}{first}{subject_type}\t{sid}{static.new_head}{value_text}{static.new_unit}{original_text}"
            f"{static.new_original_unit}{NULL if note is None else copy_text(note)}{tail}"
        ).encode()
        add_digest(sha(line).digest()[:DIGEST_BYTES])
        add(static.period_end_bytes)
        add(line)
    return b"".join(out)


def _versions(
    rows: Sequence[_Checked],
    current: dict[Key, Current],
    row_locks: dict[int, PeriodLock],
    batch_id: str,
    last_seq: int,
    digests: list[bytes],
) -> Iterator[tuple[str, Current | None, Key]]:
    """Per row: its version's line (period end, then the canonical line), its current version,
    its key; appends each canonical line's digest to ``digests``."""
    line = BatchEncoder(batch=batch_id).line
    sha = hashlib.sha256
    add_digest = digests.append
    ids: dict[str, str] = {}
    seq = last_seq
    for index, subject_type, subject_id, static, _value, value_text, original_text, note, key in rows:
        seq += 1
        sid = ids.get(subject_id)
        if sid is None:
            sid = ids[subject_id] = copy_text(subject_id)
        lock = row_locks.get(index) if row_locks else None
        old = current.get(key) if current else None
        assert static.indicator is not None
        text = line(
            seq,
            None if old is None else old[2],
            subject_type,
            sid,
            static.code_text,
            static.indicator.version,
            static.period_text,
            None if old is None else format(old[0].quantize(SCALE), "f"),
            value_text,
            static.unit_text,
            original_text,
            static.original_unit_text,
            NULL if note is None else copy_text(note),
            None if lock is None else lock.id,
        )
        add_digest(sha(text.encode()).digest()[:DIGEST_BYTES])
        yield static.period_end + text, old, key


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


def observation_read(row: Observation, batch: Batch) -> ObservationRead:
    """Contract view of a current value (who and when are its batch's)."""
    return ObservationRead(
        subject=_subject_model(row.subject_type, row.subject_id),
        indicator=row.indicator_code,
        period=row.period,
        value=row.value,
        unit=row.unit,
        revision=row.revision,
        note=row.note,
        first_recorded_at=_aware(row.first_recorded_at or batch.recorded_at),
        recorded_at=_aware(batch.recorded_at),
        recorded_by=batch.recorded_by,
    )


def revision_read(row: Revision, batch: Batch) -> RevisionRead:
    """Contract view of a revision (who, when and its link of the chain are its batch's)."""
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
        recorded_at=_aware(batch.recorded_at),
        recorded_by=batch.recorded_by,
        recorded_by_division=batch.recorded_by_division,
        batch=row.batch,
        restatement_reason=batch.restatement_reason,
        lock=row.lock_id,
        prev_hash=batch.prev_hash,
        hash=batch.hash,
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
    after: Key | None,
    limit: int,
) -> tuple[list[ObservationRead], Key | None]:
    """Current values, one page (keyset on the key: period, indicator, subject type, subject id)."""
    subj = _reader_subject(actor, parse_subject(subject) if subject else None)
    p = str(_period_or_422(period, "period")) if period else None
    start = _period_or_422(from_, "from").end if from_ else None
    end = _period_or_422(to, "to").end if to else None
    rows = await ObservationRepository(session).search(
        subject=subj, indicator=indicator, period=p, start=start, end=end, after=after, limit=limit + 1
    )
    more = len(rows) > limit
    rows = rows[:limit]
    last = rows[-1][0] if more and rows else None
    return [observation_read(r, b) for r, b in rows], (
        (last.period, last.indicator_code, last.subject_type, last.subject_id) if last is not None else None
    )


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
    return [revision_read(r, b) for r, b in rows], (rows[-1][0].seq if more and rows else None)


# --- JSON batches and files -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ParsedBatch:
    """A JSON batch as the push needs it, the options, and the hash identifying the request for
    idempotency. Its rows are either ``decoded`` (the common shape, as ``msgspec`` read it; see
    :func:`decoded_rows`) or ``rows`` (tuples shaped like :class:`RowIn`) with the conflicts found
    while reading them."""

    rows: list[tuple[Any, ...]]
    conflicts: list[ImportConflict]
    dry_run: bool
    restatement_reason: str | None
    request_hash: str
    decoded: list[DecodedRow] | None = None


class _FastSubject(msgspec.Struct, forbid_unknown_fields=True, gc=False):
    zone: Annotated[str, msgspec.Meta(min_length=1, max_length=64)] | None = None
    division: Annotated[str, msgspec.Meta(min_length=1, max_length=12)] | None = None


class DecodedRow(msgspec.Struct, forbid_unknown_fields=True, gc=False):
    """One row of a JSON batch in the common shape: every constraint of ``ObservationIn`` holds
    (and values are integers or plain decimal strings), so the model would accept it too."""

    subject: _FastSubject
    indicator: Annotated[str, msgspec.Meta(max_length=64)]
    period: Annotated[str, msgspec.Meta(max_length=16)]
    value: str | int  # a string only in plain decimal notation (:func:`_plain_values`)
    unit: Annotated[str, msgspec.Meta(max_length=32)]
    note: Annotated[str, msgspec.Meta(max_length=2000)] | None = None


class _FastBatch(msgspec.Struct, forbid_unknown_fields=True):
    observations: list[DecodedRow]
    dry_run: bool = False
    restatement_reason: Annotated[str, msgspec.Meta(min_length=1, max_length=2000)] | None = None


_FAST_DECODER = msgspec.json.Decoder(_FastBatch)
_PLAIN_LIST = re.compile(r"(?:-?[0-9]++(?:\.[0-9]++)?+,)*+").fullmatch  # possessive: nothing to backtrack
_VALUE = attrgetter("value")
_SUBJECT_BOTH_OR_NEITHER = "give exactly one of zone and division"


def _plain_values(rows: Sequence[DecodedRow]) -> bool:
    """Whether every value given as a string is in plain decimal notation (``-?digits[.digits]``).

    One regular expression over the strings joined by commas (a comma in a string shows as one
    comma too many), several times cheaper than one match per value."""
    texts: list[Any] = list(map(_VALUE, rows))
    try:
        joined = ",".join(texts)  # every value a string (the common case)
    except TypeError:
        texts = [v for v in texts if type(v) is str]
        joined = ",".join(texts)
    if not texts:
        return True
    joined += ","
    return joined.count(",") == len(texts) and _PLAIN_LIST(joined) is not None


def parse_batch(body: bytes) -> ParsedBatch:
    """Read a JSON batch; raise :class:`pydantic.ValidationError` as ``ObservationBatch`` would.

    The common shape (integers or plain decimal strings as values) is decoded by ``msgspec``
    straight into typed structs carrying every constraint of the model (lengths, no unknown
    keys), many times cheaper than building 10,000 pydantic models; the rows stay as decoded
    (:attr:`ParsedBatch.decoded`) for the push to read in one pass. Anything else (floats,
    nulls, other number notations, unknown keys, wrong types, malformed JSON) is handed to
    ``ObservationBatch`` itself, so what is accepted, and every error, stays exactly the model's.

    The request's identity (for ``Idempotency-Key``) is the sha256 of the body's bytes: a replay
    is the same request sent again, byte for byte.
    """
    request_hash = hashlib.sha256(b"json:" + body).hexdigest()
    try:
        raw = _FAST_DECODER.decode(body)
    except (msgspec.DecodeError, msgspec.ValidationError):
        raw = None
    if raw is not None:
        if len(raw.observations) > MAX_BATCH_ROWS:
            raise _too_many(len(raw.observations))
        if _plain_values(raw.observations):
            return ParsedBatch([], [], raw.dry_run, raw.restatement_reason, request_hash, raw.observations)
    model = ObservationBatch.model_validate_json(body)
    if len(model.observations) > MAX_BATCH_ROWS:
        raise _too_many(len(model.observations))
    rows, conflicts = rows_from_batch(model.observations)
    return ParsedBatch(list(rows), conflicts, model.dry_run, model.restatement_reason, request_hash)


def _too_many(n: int) -> PayloadTooLarge:
    return PayloadTooLarge(
        f"{n} rows exceed the limit of {MAX_BATCH_ROWS} per batch; split it", limit_rows=MAX_BATCH_ROWS
    )


def decoded_rows(decoded: Sequence[DecodedRow]) -> tuple[list[tuple[Any, ...]], list[ImportConflict]]:
    """The rows of a decoded batch as :func:`rows_from_batch` reads the model's (tuples shaped like
    :class:`RowIn`): a subject naming both or neither of zone and division is a conflict."""
    rows: list[tuple[Any, ...]] = []
    conflicts: list[ImportConflict] = []
    append = rows.append
    zones: dict[str, tuple[str, str]] = {}  # the subject of each zone id met (one tuple per zone, not per row)
    for i, o in enumerate(decoded):
        s = o.subject
        zone, division = s.zone, s.division
        pair: tuple[str, str] | None
        if zone is not None and division is None:
            pair = zones.get(zone)
            if pair is None:
                pair = zones[zone] = ("zone", zone)
        elif division is not None and zone is None:
            pair = ("division", division)
        else:
            pair = None
            conflicts.append(
                ImportConflict(index=i, field="subject", code="bad_subject", message=_SUBJECT_BOTH_OR_NEITHER)
            )
        append((i, pair, o.indicator, o.period, Decimal(o.value), o.unit, o.note, None))
    return rows, conflicts


def rows_from_batch(observations: Sequence[Any]) -> tuple[list[RowIn], list[ImportConflict]]:
    """Rows of a validated JSON batch; a subject naming both or neither of zone and division is a conflict."""
    rows: list[RowIn] = []
    conflicts: list[ImportConflict] = []
    for i, o in enumerate(observations):
        subject: tuple[str, str] | None
        if (o.subject.zone is None) == (o.subject.division is None):
            subject = None
            conflicts.append(
                ImportConflict(index=i, field="subject", code="bad_subject", message=_SUBJECT_BOTH_OR_NEITHER)
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
