"""Use cases of the ledger: verifying the hash chain, locking periods."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from libs.domain.kernel.contracts import Actor
from libs.domain.kernel.errors import Conflict, Forbidden, Unprocessable
from libs.domain.kernel.i18n import Text
from libs.domain.kernel.values import Period, Role, ZoneKind
from libs.domain.metrics import messages
from libs.domain.metrics.contracts import (
    LedgerBreak,
    LedgerVerification,
    LockCreate,
    LockRead,
    ProjectionMismatch,
)
from libs.domain.metrics.ledger import LedgerVerifier
from services.metrics.ledger.repository import LedgerRepository, LockRepository
from services.metrics.observations.repository import Key
from services.metrics.tables import Batch, PeriodLock

MAX_MISMATCHES = 100

BUREAU_LOCKS = {Role.COMMERCE_BUREAU: ZoneKind.ECONOMIC, Role.SCIENCE_BUREAU: ZoneKind.HIGH_TECH}
"""The kind each bureau may lock: the kind whose assessment it publishes (docs/domain.md#assessment-and-sanctions)."""
_KIND_ZH = {ZoneKind.ECONOMIC: "经济开发区", ZoneKind.HIGH_TECH: "高新技术产业开发区"}


def _header(b: Batch) -> dict[str, object]:
    return {
        "first_seq": b.first_seq,
        "id": b.id,
        "recorded_at": b.recorded_at,
        "recorded_by": b.recorded_by,
        "recorded_by_division": b.recorded_by_division,
        "recorded_by_issuer": b.recorded_by_issuer,
        "recorded_by_client": b.recorded_by_client,
        "restatement_reason": b.restatement_reason,
        "revisions": b.revisions,
    }


async def verify(*, session: AsyncSession) -> LedgerVerification:
    """Recompute the chain batch by batch (every version's digest, current or in the history, and
    every batch's link), and check that each value's latest version is its current one."""
    repo = LedgerRepository(session)
    verifier = LedgerVerifier()
    latest: dict[Key, tuple[bool, Decimal]] = {}  # per value: its last version is current?, its value
    current_values: dict[Key, Decimal] = {}
    batches = await repo.batches()  # in chain order
    headers = {b.id: b for b in batches}
    done: set[str] = set()
    position = 0
    pending: list[dict[str, Any]] = []
    current: Batch | None = None
    checked = 0

    def feed(batch: Batch, revisions: list[dict[str, Any]]) -> None:
        verifier.feed(
            _header(batch),
            prev_hash=batch.prev_hash,
            stored_hash=batch.hash,
            digests=batch.digests,
            revisions=revisions,
        )
        done.add(batch.id)

    def feed_until(first_seq: int | None) -> None:
        """Feed, in chain order, the batches before ``first_seq`` none of whose revisions was seen."""
        nonlocal position
        while position < len(batches) and (first_seq is None or batches[position].first_seq < first_seq):
            if batches[position].id not in done:
                feed(batches[position], [])
            position += 1

    async for chunk in repo.stream_versions():
        for record in chunk:
            key = (record["subject_type"], record["subject_id"], record["indicator_code"], record["period"])
            is_current = bool(record["current"])
            latest[key] = (is_current, record["new_value"])
            if is_current:
                checked += 1
                current_values[key] = record["new_value"]
            if current is not None and record["batch"] == current.id:
                pending.append(record)
                continue
            if current is not None:
                feed(current, pending)
            pending, current = [], None
            batch = headers.get(str(record["batch"]))
            if batch is not None and batch.id not in done:
                feed_until(batch.first_seq)
                current = batch
                pending.append(record)
            else:
                verifier.orphan(record)
    if current is not None:
        feed(current, pending)
    feed_until(None)
    first_broken: LedgerBreak | None = None
    if verifier.broken is not None:
        rev = verifier.broken.revision
        if rev is None:  # versions removed: the break shows at the next version still stored
            rev = await repo.version_after(verifier.broken.seq - 1) or {"seq": verifier.broken.seq}
        first_broken = LedgerBreak(
            seq=int(str(rev["seq"])),
            reason=verifier.broken.reason,
            zone_id=str(rev["subject_id"]) if rev.get("subject_type") == "zone" else None,
            division=str(rev["subject_id"]) if rev.get("subject_type") == "division" else None,
            indicator=str(rev["indicator_code"]) if "indicator_code" in rev else None,
            period=str(rev["period"]) if "period" in rev else None,
        )
    mismatches: list[ProjectionMismatch] = []
    for key, (is_current, ledger) in latest.items():
        if not is_current and len(mismatches) < MAX_MISMATCHES:
            mismatches.append(_mismatch(key, current_values.get(key), ledger))
    return LedgerVerification(
        intact=verifier.intact and not mismatches,
        revisions=verifier.count,
        first_broken=first_broken,
        observations_checked=checked,
        observation_mismatches=mismatches,
    )


def _mismatch(key: Key, value: Decimal | None, ledger: Decimal | None) -> ProjectionMismatch:
    subject_type, subject_id, code, period = key
    return ProjectionMismatch(
        zone_id=subject_id if subject_type == "zone" else None,
        division=subject_id if subject_type == "division" else None,
        indicator=code,
        period=period,
        value=value,
        ledger_value=ledger,
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


def _authorise_scope(actor: Actor, kind: ZoneKind | None) -> None:
    """403 ``lock_kind_not_allowed`` unless ``actor`` may lock ``kind`` (None: every zone).

    A city_admin locks any scope. A bureau locks only its own kind, never every zone: publishing
    an economic-zone assessment must not freeze the high-tech zones' values.
    """
    if actor.has(Role.CITY_ADMIN):
        return
    allowed = sorted(BUREAU_LOCKS[r].value for r in actor.roles if r in BUREAU_LOCKS)
    if kind is not None and kind.value in allowed:
        return
    asked = "所有开发区" if kind is None else _KIND_ZH[kind]
    asked_en = "every zone (no kind)" if kind is None else f"{kind.value} zones"
    raise Forbidden(
        Text(
            f"商务局只能锁定经济开发区、科技局只能锁定高新技术产业开发区的报告期，本令牌不能锁定{asked}",
            "the commerce bureau locks economic zones and the science bureau high-tech zones only: "
            f"this token may not lock {asked_en}",
        ),
        code="lock_kind_not_allowed",
        allowed_kinds=allowed,
    )


async def create_lock(*, session: AsyncSession, actor: Actor, body: LockCreate) -> LockRead:
    """Lock a period (for every zone, or one kind) in the name of ``actor``; 403 when a bureau asks for
    another kind or for every zone, 409 when that lock exists."""
    _authorise_scope(actor, body.kind)
    try:
        period = str(Period.parse(body.period))
    except ValueError as exc:
        text = messages.period_unreadable(body.period, str(exc))
        raise Unprocessable(
            text,
            errors=[{"loc": ["body", "period"], "msg": text, "type": "period", "code": "period"}],
            code="bad_period",
        ) from exc
    scope = body.kind.value if body.kind else "all"
    repo = LockRepository(session)
    row = PeriodLock(period=period, scope=scope, reason=body.reason, created_at=datetime.now(UTC), created_by=actor.sub)
    if not await repo.add(row):
        existing = await repo.find(period, scope)
        raise Conflict(
            messages.period_already_locked(period, None if scope == "all" else scope),
            code="period_already_locked",
            lock=str(existing.id) if existing else None,
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
