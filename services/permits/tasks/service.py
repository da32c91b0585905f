"""The review use cases (内部流转): departments approve, refuse or ask for supplements on their tasks."""

from __future__ import annotations

from typing import NamedTuple

from libs.domain.kernel.errors import (
    NotFound,
)
from libs.domain.kernel.i18n import Text
from libs.domain.kernel.values import Role
from libs.domain.permits.clock import Clock
from libs.domain.permits.contracts import TaskRead
from libs.domain.permits.states import (
    CaseAction,
    CaseState,
    Outcome,
    TaskAction,
    TaskState,
    case_targets,
    next_case_state,
    next_task_state,
)
from services.permits.calendar.service import calendar
from services.permits.cases.context import CaseContext
from services.permits.cases.deadlines import as_stop
from services.permits.cases.documents import task_read
from services.permits.cases.drafts import NewTask
from services.permits.cases.materials import check_notice
from services.permits.cases.records import open_stage, record, task_rows
from services.permits.shared import check_if_match, is_city, require_reviewer, sees_task, utcnow
from services.permits.tables import Application, ClockStop
from services.permits.tables import Task as TaskRow
from services.permits.tasks.commands import ApproveTask, ListTasks, RejectTask, TaskRequestsSupplements


class LockedTask(NamedTuple):
    """A task with its case locked for a change, the case's tasks and its clock stops."""

    case: Application
    task: TaskRow
    tasks: list[TaskRow]
    stops: list[ClockStop]


async def _task_and_case(ctx: CaseContext, task_id: str, if_match: str | None) -> LockedTask:
    repo = ctx.repo
    task = await repo.task(task_id)
    if task is None or not sees_task(ctx.actor, task):
        raise NotFound(Text(f"审查任务 {task_id} 不存在", f"task {task_id} does not exist"), code="task_not_found")
    case = await repo.lock(task.application_id)  # serialises every reviewer of the case
    assert case is not None
    tasks = (await repo.tasks([case.id]))[case.id]
    fresh = next(t for t in tasks if t.id == task_id)
    check_if_match(if_match, fresh.version)
    stops = (await repo.stops([case.id]))[case.id]
    return LockedTask(case, fresh, tasks, stops)


def _check_review(case: Application, task: TaskRow, action: TaskAction) -> None:
    case_targets(CaseState(case.state), CaseAction.REVIEW)
    next_task_state(TaskState(task.state), action)


async def _task_answer(ctx: CaseContext, case: Application, task: TaskRow) -> TaskRead:
    cal = await calendar(session=ctx.session, official=ctx.official)
    stops = (await ctx.repo.stops([case.id]))[case.id]
    return task_read(task, case, Clock(cal, [as_stop(s) for s in stops]), ctx.today, case_state=case.state)


async def approve_task(command: ApproveTask, ctx: CaseContext) -> TaskRead:
    """A department approves its part; the stage completes when all its departments have approved."""
    case, task, tasks, stops = await _task_and_case(ctx, command.task_id, command.if_match)
    actor, today, body = ctx.actor, ctx.today, command.body
    require_reviewer(actor, task)
    _check_review(case, task, TaskAction.APPROVE)
    now = utcnow()
    task.state = TaskState.APPROVED.value
    task.completed_on, task.completed_at, task.completed_by, task.note = today, now, actor.sub, body.note
    task.version += 1
    task.updated_at = now
    before = case.state
    stage_tasks = [t for t in tasks if t.stage == task.stage]
    note = body.note
    next_tasks: list[NewTask] = []
    if all(t.state == TaskState.APPROVED for t in stage_tasks):
        stages = len(case.item_snapshot["stages"])
        if task.stage < stages:
            cal = await calendar(session=ctx.session, official=ctx.official)
            case.stage = task.stage + 1
            next_tasks = open_stage(case, case.stage, stops, cal, today, now)
        else:
            case.state = next_case_state(CaseState(case.state), CaseAction.REVIEW, CaseState.AWAITING_DECISION).value
            case.proposed_outcome = Outcome.APPROVED.value
    case.version += 1
    await record(
        ctx.repo,
        case,
        new_rows=[task_rows(next_tasks)],
        action="approve",
        from_state=before,
        actor=actor.sub,
        now=now,
        note=note,
        task=task.id,
    )
    return await _task_answer(ctx, case, task)


async def reject_task(command: RejectTask, ctx: CaseContext) -> TaskRead:
    """A department refuses: that decides the case; the other open tasks are cancelled."""
    case, task, tasks, _stops = await _task_and_case(ctx, command.task_id, command.if_match)
    actor, today, body = ctx.actor, ctx.today, command.body
    require_reviewer(actor, task)
    _check_review(case, task, TaskAction.REJECT)
    now = utcnow()
    task.state = TaskState.REJECTED.value
    task.completed_on, task.completed_at, task.completed_by = today, now, actor.sub
    task.note, task.reasons = body.note, list(body.reasons)
    task.version += 1
    task.updated_at = now
    for other in tasks:
        if other.id != task.id and other.state == TaskState.OPEN:
            other.state = TaskState.CANCELLED.value
            other.completed_on, other.completed_at, other.version = today, now, other.version + 1
            other.updated_at = now
    before = case.state
    case.state = next_case_state(CaseState(case.state), CaseAction.REVIEW, CaseState.AWAITING_DECISION).value
    case.proposed_outcome = Outcome.REFUSED.value
    case.refusal_reasons = list(body.reasons)
    case.version += 1
    await record(
        ctx.repo, case, action="reject", from_state=before, actor=actor.sub, now=now, note=body.note, task=task.id
    )
    return await _task_answer(ctx, case, task)


async def task_requests_supplements(command: TaskRequestsSupplements, ctx: CaseContext) -> TaskRead:
    """A reviewer asks for supplements during review: one notice, and the case's clock stops."""
    case, task, _tasks, _stops = await _task_and_case(ctx, command.task_id, command.if_match)
    actor, today, body, repo = ctx.actor, ctx.today, command.body, ctx.repo
    require_reviewer(actor, task)
    _check_review(case, task, TaskAction.REQUEST_SUPPLEMENTS)
    check_notice(case, body, "items")
    now = utcnow()
    await repo.add(
        ClockStop(
            application_id=case.id,
            kind="supplements",
            reason=body.note,
            task_id=task.id,
            started_on=today,
            started_by=actor.sub,
        )
    )
    task.version += 1
    task.updated_at = now
    before = case.state
    case.state = next_case_state(CaseState(case.state), CaseAction.REVIEW, CaseState.REVIEW_SUPPLEMENTS).value
    case.version += 1
    await record(
        repo,
        case,
        action="request_supplements",
        from_state=before,
        actor=actor.sub,
        now=now,
        note=body.note,
        task=task.id,
        message=(
            "supplements_requested",
            body.note or "审查中需补正以下材料，补正期间不计入办理时限。",
            [i.model_dump(mode="json") for i in body.items],
        ),
    )
    return await _task_answer(ctx, case, task)


async def get_task(task_id: str, ctx: CaseContext) -> TaskRead:
    """One task (404 unless the caller may see it)."""
    task = await ctx.repo.task(task_id)
    if task is None or not sees_task(ctx.actor, task):
        raise NotFound(Text(f"审查任务 {task_id} 不存在", f"task {task_id} does not exist"), code="task_not_found")
    case = await ctx.repo.get(task.application_id)
    assert case is not None
    return await _task_answer(ctx, case, task)


async def list_tasks(query: ListTasks, ctx: CaseContext) -> tuple[list[TaskRead], str | None]:
    """Tasks the caller may see: a reviewer only their department's in their zone."""
    actor, zone, department, limit = ctx.actor, query.zone, query.department, query.limit
    if not is_city(actor):
        if zone is not None and zone != actor.zone:
            return [], None
        zone = actor.zone
        if not actor.has(Role.WINDOW_CLERK, Role.BUREAU_ADMIN):
            if department is not None and department != actor.department:
                return [], None
            department = actor.department
    repo = ctx.repo
    rows = await repo.list_tasks(
        zone=zone, department=department, state=query.state, after=query.after, limit=limit + 1
    )
    more = len(rows) > limit
    rows = rows[:limit]
    ids = sorted({t.application_id for t in rows})
    cases = {c: await repo.get(c) for c in ids}
    stops = await repo.stops(ids)
    cal = await calendar(session=ctx.session, official=ctx.official)
    out = []
    for t in rows:
        case = cases[t.application_id]
        assert case is not None
        clock = Clock(cal, [as_stop(s) for s in stops[case.id]])
        out.append(task_read(t, case, clock, ctx.today, case_state=case.state))
    return out, (rows[-1].id if more else None)
