"""The review routes: department tasks (内部流转)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response

from libs.domain.kernel.contracts import Page
from libs.domain.permits.contracts import (
    SupplementNotice,
    TaskApprove,
    TaskRead,
    TaskReject,
)
from libs.domain.permits.states import TaskState
from services.common.db import SessionDep
from services.common.pagination import DEFAULT_LIMIT, CursorParam, LimitParam, encode_cursor
from services.common.problems import problems
from services.permits.dependencies import (
    CASE_ERRORS,
    IfMatch,
    OfficialDep,
    Reviewer,
    TaskReader,
    TodayDep,
    str_cursor,
    task_answer,
)
from services.permits.tasks import service as tasks_service

router = APIRouter(prefix="/v1")


TaskId = Annotated[str, Path(max_length=64)]


@router.get(
    "/tasks",
    response_model=Page[TaskRead],
    tags=["review"],
    summary="Tasks the caller may see (a reviewer: their department's in their zone)",
    responses=problems(401, 403),
)
async def list_tasks(
    session: SessionDep,
    cal: OfficialDep,
    actor: TaskReader,
    now: TodayDep,
    department: Annotated[str | None, Query(max_length=64)] = None,
    zone: Annotated[str | None, Query(max_length=64)] = None,
    state: TaskState | None = None,
    limit: LimitParam = DEFAULT_LIMIT,
    cursor: CursorParam = None,
) -> Page[TaskRead]:
    items, nxt = await tasks_service.list_tasks(
        session=session,
        official=cal,
        actor=actor,
        zone=zone,
        department=department,
        state=state.value if state else None,
        after=str_cursor(cursor),
        limit=limit,
        today=now,
    )
    return Page(items=items, next_cursor=encode_cursor(nxt) if nxt else None)


@router.get(
    "/tasks/{task_id}",
    response_model=TaskRead,
    tags=["review"],
    summary="One task",
    responses=problems(401, 403, 404),
)
async def get_task(
    session: SessionDep, cal: OfficialDep, actor: TaskReader, now: TodayDep, task_id: TaskId, response: Response
) -> TaskRead:
    task = await tasks_service.get_task(session=session, official=cal, actor=actor, task_id=task_id, today=now)
    return task_answer(response, task)


@router.post(
    "/tasks/{task_id}/approve",
    response_model=TaskRead,
    tags=["review"],
    summary="Approve a department's part; the next stage opens when its stage is complete",
    responses=CASE_ERRORS,
)
async def approve_task(
    session: SessionDep,
    cal: OfficialDep,
    actor: Reviewer,
    now: TodayDep,
    task_id: TaskId,
    body: TaskApprove,
    response: Response,
    if_match: IfMatch = None,
) -> TaskRead:
    task = await tasks_service.approve_task(
        session=session, official=cal, actor=actor, task_id=task_id, body=body, if_match=if_match, today=now
    )
    return task_answer(response, task)


@router.post(
    "/tasks/{task_id}/reject",
    response_model=TaskRead,
    tags=["review"],
    summary="Refuse: the case goes to the window for a refusal decision",
    responses=CASE_ERRORS,
)
async def reject_task(
    session: SessionDep,
    cal: OfficialDep,
    actor: Reviewer,
    now: TodayDep,
    task_id: TaskId,
    body: TaskReject,
    response: Response,
    if_match: IfMatch = None,
) -> TaskRead:
    task = await tasks_service.reject_task(
        session=session, official=cal, actor=actor, task_id=task_id, body=body, if_match=if_match, today=now
    )
    return task_answer(response, task)


@router.post(
    "/tasks/{task_id}/request-supplements",
    response_model=TaskRead,
    tags=["review"],
    summary="Ask the applicant for supplements during review: the case's clock stops",
    responses=CASE_ERRORS,
)
async def task_request_supplements(
    session: SessionDep,
    cal: OfficialDep,
    actor: Reviewer,
    now: TodayDep,
    task_id: TaskId,
    body: SupplementNotice,
    response: Response,
    if_match: IfMatch = None,
) -> TaskRead:
    task = await tasks_service.task_requests_supplements(
        session=session, official=cal, actor=actor, task_id=task_id, body=body, if_match=if_match, today=now
    )
    return task_answer(response, task)
