"""Use cases of the ledger: verifying the hash chain, locking periods."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from libs.domain.contracts.common import Actor
from libs.domain.contracts.metrics import (
    LedgerBreak,
    LedgerVerification,
    LockCreate,
    LockRead,
    ProjectionMismatch,
)
from libs.domain.errors import Conflict, Unprocessable
from libs.domain.metrics_ledger import ChainVerifier, decimal_text
from libs.domain.values import Period, ZoneKind
from services.metrics.ledger.repository import LockRepository
from services.metrics.observations.repository import Key, ObservationRepository
from services.metrics.tables import PeriodLock, Revision

MAX_MISMATCHES = 100


def _record(r: Revision) -> dict[str, object]:
    return {
        "batch": r.batch,
        "indicator": r.indicator_code,
        "indicator_version": r.indicator_version,
        "lock": r.lock_id,
        "new_value": r.new_value,
        "note": r.note,
        "old_value": r.old_value,
        "original_unit": r.original_unit,
        "original_value": r.original_value,
        "period": r.period,
        "recorded_at": r.recorded_at,
        "recorded_by": r.recorded_by,
        "recorded_by_division": r.recorded_by_division,
        "restatement_reason": r.restatement_reason,
        "seq": r.seq,
        "subject_id": r.subject_id,
        "subject_type": r.subject_type,
        "unit": r.unit,
    }


async def verify(*, session: AsyncSession) -> LedgerVerification:
    """Recompute every revision's hash in order, and check each current value against the ledger."""
    repo = ObservationRepository(session)
    verifier = ChainVerifier()
    last_value: dict[Key, Decimal] = {}
    first_broken: LedgerBreak | None = None
    async for chunk in repo.stream_revisions():
        for r in chunk:
            verifier.feed(_record(r), prev_hash=r.prev_hash, stored_hash=r.hash)
            if first_broken is None and verifier.broken is not None:
                first_broken = LedgerBreak(
                    seq=verifier.broken.seq,
                    reason=verifier.broken.reason,
                    subject=f"{r.subject_type}:{r.subject_id}",
                    indicator=r.indicator_code,
                    period=r.period,
                )
            last_value[(r.subject_type, r.subject_id, r.indicator_code, r.period)] = r.new_value
    mismatches: list[ProjectionMismatch] = []
    checked = 0
    async for rows in repo.stream_observations():
        for key, value in rows:
            checked += 1
            ledger = last_value.pop(key, None)
            if ledger != value and len(mismatches) < MAX_MISMATCHES:
                mismatches.append(_mismatch(key, value, ledger))
    for key, ledger in list(last_value.items())[: max(0, MAX_MISMATCHES - len(mismatches))]:
        mismatches.append(_mismatch(key, None, ledger))
    return LedgerVerification(
        intact=verifier.intact and not mismatches,
        revisions=verifier.count,
        first_broken=first_broken,
        observations_checked=checked,
        observation_mismatches=mismatches,
    )


def _mismatch(key: Key, value: Decimal | None, ledger: Decimal | None) -> ProjectionMismatch:
    return ProjectionMismatch(
        subject=f"{key[0]}:{key[1]}",
        indicator=key[2],
        period=key[3],
        value=decimal_text(value),
        ledger_value=decimal_text(ledger),
    )


def lock_read(row: PeriodLock) -> LockRead:
    """Contract view of a lock."""
    return LockRead(
        id=row.id,
        period=row.period,
        kind=None if row.scope == "all" else ZoneKind(row.scope),
        reason=row.reason,
        created_at=row.created_at if row.created_at.tzinfo else row.created_at.replace(tzinfo=UTC),
        created_by=row.created_by,
    )


async def create_lock(*, session: AsyncSession, actor: Actor, body: LockCreate) -> LockRead:
    """Lock a period (for every zone, or one kind); 409 when that lock exists."""
    try:
        period = str(Period.parse(body.period))
    except ValueError as exc:
        raise Unprocessable(str(exc), errors=[{"loc": ["body", "period"], "msg": str(exc), "type": "period"}]) from exc
    scope = body.kind.value if body.kind else "all"
    repo = LockRepository(session)
    row = PeriodLock(period=period, scope=scope, reason=body.reason, created_at=datetime.now(UTC), created_by=actor.sub)
    if not await repo.add(row):
        existing = await repo.find(period, scope)
        raise Conflict(
            f"period {period} is already locked{'' if scope == 'all' else f' for {scope} zones'}",
            lock=existing.id if existing else None,
        )
    return lock_read(row)


async def list_locks(
    *, session: AsyncSession, period: str | None, after: int | None, limit: int
) -> tuple[list[LockRead], int | None]:
    """Locks, one page."""
    rows = await LockRepository(session).search(period=period, after_id=after, limit=limit + 1)
    more = len(rows) > limit
    rows = rows[:limit]
    return [lock_read(r) for r in rows], (rows[-1].id if more and rows else None)
