"""Routes of the ledger and of period locks."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from libs.domain.kernel.contracts import Page
from libs.domain.metrics.contracts import LedgerVerification, LockCreate, LockRead
from services.common.db import SessionDep
from services.common.pagination import DEFAULT_LIMIT, CursorParam, LimitParam, decode_cursor, encode_cursor
from services.common.periods import PeriodParam
from services.common.problems import problems
from services.metrics.dependencies import Locker, Reader, Supervisor
from services.metrics.ledger import service as ledger_service

router = APIRouter(prefix="/v1")


@router.get(
    "/ledger/verify",
    operation_id="verifyLedger",
    response_model=LedgerVerification,
    status_code=200,
    tags=["ledger"],
    summary="Recompute the revision ledger's hash chain (电子台账) and check current values against it",
    responses=problems(401, 403),
)
async def verify_ledger(session: SessionDep, actor: Supervisor) -> LedgerVerification:
    return await ledger_service.verify(session=session)


@router.post(
    "/locks",
    operation_id="lockPeriod",
    response_model=LockRead,
    status_code=201,
    tags=["locks"],
    summary="Lock a period (optionally one kind of zone) once an assessment uses it",
    description="Later writes changing a value of a locked period get a 423 problem naming the lock, unless "
    "a city_admin restates with a `restatement_reason` (the history marks those revisions). Division "
    "totals are covered by every lock of the period, since shares of the city are computed from them. "
    "A city_admin locks any scope; the bureaus lock the kind whose assessment they publish: "
    "commerce_bureau `kind=economic`, science_bureau `kind=high_tech` (any other kind, or none, is a 403 "
    "problem with code `lock_kind_not_allowed`). The lock records the caller's `sub` as `created_by`.",
    responses=problems(401, 403, 409, 422),
)
async def create_lock(body: LockCreate, session: SessionDep, actor: Locker) -> LockRead:
    return await ledger_service.create_lock(session=session, actor=actor, body=body)


@router.get(
    "/locks",
    operation_id="listLocks",
    response_model=Page[LockRead],
    status_code=200,
    tags=["locks"],
    summary="Period locks",
    responses=problems(401, 403, 422),
)
async def list_locks(
    session: SessionDep,
    actor: Reader,
    period: Annotated[PeriodParam | None, Query()] = None,
    limit: LimitParam = DEFAULT_LIMIT,
    cursor: CursorParam = None,
) -> Page[LockRead]:
    after = decode_cursor(cursor)
    items, last = await ledger_service.list_locks(
        session=session,
        period=str(period) if period else None,
        after=int(after) if isinstance(after, int) else None,
        limit=limit,
    )
    return Page(items=items, next_cursor=encode_cursor(last) if last else None)
