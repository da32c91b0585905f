"""Period locks met by a push: which rows they hold, and the 423 unless it is a restatement.

A lock on a year holds its halves and quarters too, and a lock on a half its quarters.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from libs.domain.kernel.errors import Locked
from libs.domain.kernel.i18n import Text
from libs.domain.kernel.values import Period
from libs.domain.metrics.messages import ZONE_KIND_ZH
from services.metrics.ledger.repository import LockRepository
from services.metrics.observations.checks import Checked
from services.metrics.observations.scope import ZonePeriod
from services.metrics.tables import PeriodLock


def covering(period_text: str) -> tuple[str, ...]:
    """The periods whose lock holds a value of ``period_text``: itself, its half, its year
    (narrowest first), since a lock on a year covers its halves and quarters."""
    return tuple(str(p) for p in Period.parse(period_text).enclosing())


def lock_for(
    subject_type: str, kind: str | None, periods: Sequence[str], locks: Sequence[PeriodLock]
) -> PeriodLock | None:
    """The lock holding a value of ``subject_type`` (a zone of ``kind``) whose period's
    :func:`covering` is ``periods``, if any: the lock on the narrowest period, then the first made."""
    for period in periods:
        for lock in locks:
            if lock.period != period:
                continue
            if lock.scope == "all" or subject_type == "division" or lock.scope == kind:
                return lock
    return None


def lock_view(lock: PeriodLock) -> dict[str, Any]:
    """A lock as a problem names it."""
    return {
        "id": str(lock.id),
        "period": lock.period,
        "kind": None if lock.scope == "all" else lock.scope,
        "reason": lock.reason,
    }


async def row_locks(
    session: AsyncSession,
    to_write: Sequence[Checked],
    kinds: dict[ZonePeriod, str | None],
    *,
    restatement_reason: str | None,
) -> dict[int, PeriodLock]:
    """The lock holding each row to write (by index); a 423 if any, unless it is a restatement."""
    periods = {text: covering(text) for text in {r.static.period_text for r in to_write}}
    locks = await LockRepository(session).for_periods({p for around in periods.values() for p in around})
    held: dict[int, PeriodLock] = {}
    if locks:
        for r in to_write:
            kind = kinds.get((r.subject_id, r.static.period))  # type: ignore[arg-type]
            lock = lock_for(r.subject_type, kind, periods[r.static.period_text], locks)
            if lock is not None:
                held[r.index] = lock
    if held and restatement_reason is None:
        index, first = next(iter(held.items()))
        kind_text = f" for {first.scope} zones" if first.scope != "all" else ""
        kind_zh = ZONE_KIND_ZH.get(first.scope, "")
        row_period = next(r.static.period_text for r in to_write if r.index == index)
        within = f" (which holds {row_period})" if row_period != first.period else ""
        within_zh = f"（{row_period} 属于该报告期）" if row_period != first.period else ""
        used = {lock.id: lock for lock in held.values()}
        raise Locked(
            Text(
                f"报告期 {first.period}{within_zh}的{kind_zh}数据已锁定（锁 {first.id}：{first.reason}）；"
                "只有市级管理员（city_admin）填写更正原因（restatement_reason）后方可更正",
                f"period {first.period}{kind_text} is locked{within} (lock {first.id}: {first.reason}); "
                "only a city_admin restatement with a restatement_reason may change it",
            ),
            code="period_locked",
            lock=lock_view(first),
            locks=[lock_view(v) for v in used.values()],
            rows=list(held),
        )
    return held
