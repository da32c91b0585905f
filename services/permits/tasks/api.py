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
from services.common.pagination import DEFAULT_LIMIT, CursorParam, LimitParam, encode_cursor, str_cursor
from services.common.problems import problems
from services.permits.cases.dependencies import ReviewerContext, StaffContext
from services.permits.dependencies import CASE_ERRORS, IfMatch, task_answer
from services.permits.tasks import service as tasks_service
from services.permits.tasks.commands import ApproveTask, ListTasks, RejectTask, TaskRequestsSupplements

router = APIRouter(prefix="/v1")


TaskId = Annotated[str, Path(max_length=64)]


@router.get(
    "/tasks",
    operation_id="listTasks",
    response_model=Page[TaskRead],
    tags=["review"],
    summary="Tasks the caller may see (a reviewer: their department's in their zone)",
    responses=problems(401, 403),
)
async def list_tasks(
    ctx: StaffContext,
    department: Annotated[str | None, Query(max_length=64)] = None,
    zone_id: Annotated[str | None, Query(max_length=64)] = None,
    state: TaskState | None = None,
    limit: LimitParam = DEFAULT_LIMIT,
    cursor: CursorParam = None,
) -> Page[TaskRead]:
    query = ListTasks(
        zone=zone_id,
        department=department,
        state=state.value if state else None,
        after=str_cursor(cursor),
        limit=limit,
    )
    items, nxt = await tasks_service.list_tasks(query, ctx)
    return Page(items=items, next_cursor=encode_cursor(nxt) if nxt else None)


@router.get(
    "/tasks/{task_id}",
    operation_id="getTask",
    response_model=TaskRead,
    tags=["review"],
    summary="One task",
    responses=problems(401, 403, 404),
)
async def get_task(ctx: StaffContext, task_id: TaskId, response: Response) -> TaskRead:
    return task_answer(response, await tasks_service.get_task(task_id, ctx))


@router.post(
    "/tasks/{task_id}/approve",
    operation_id="approveTask",
    response_model=TaskRead,
    tags=["review"],
    summary="Approve a department's part; the next stage opens when its stage is complete",
    responses=CASE_ERRORS,
)
async def approve_task(
    ctx: ReviewerContext, task_id: TaskId, body: TaskApprove, response: Response, if_match: IfMatch = None
) -> TaskRead:
    return task_answer(response, await tasks_service.approve_task(ApproveTask(task_id, body, if_match), ctx))


@router.post(
    "/tasks/{task_id}/reject",
    operation_id="rejectTask",
    response_model=TaskRead,
    tags=["review"],
    summary="Refuse: the case goes to the window for a refusal decision",
    responses=CASE_ERRORS,
)
async def reject_task(
    ctx: ReviewerContext, task_id: TaskId, body: TaskReject, response: Response, if_match: IfMatch = None
) -> TaskRead:
    return task_answer(response, await tasks_service.reject_task(RejectTask(task_id, body, if_match), ctx))


@router.post(
    "/tasks/{task_id}/request-supplements",
    operation_id="requestTaskSupplements",
    response_model=TaskRead,
    tags=["review"],
    summary="Ask the applicant for supplements during review: the case's clock stops",
    responses=CASE_ERRORS,
)
async def task_request_supplements(
    ctx: ReviewerContext, task_id: TaskId, body: SupplementNotice, response: Response, if_match: IfMatch = None
) -> TaskRead:
    command = TaskRequestsSupplements(task_id, body, if_match)
    return task_answer(response, await tasks_service.task_requests_supplements(command, ctx))
