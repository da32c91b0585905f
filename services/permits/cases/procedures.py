"""Special procedures (hearing, expert review, inspection, public notice) that stop the clock, and
the one extension a case may get."""

from __future__ import annotations

from libs.domain.kernel.errors import Conflict, NotFound, Unprocessable
from libs.domain.kernel.i18n import Text
from libs.domain.kernel.values import Role
from libs.domain.permits.contracts import ApplicationRead, ClockStopRead
from libs.domain.permits.states import CaseAction, CaseState, allowed_actions, case_action_names, next_case_state
from services.permits.calendar.service import calendar
from services.permits.cases.access import locked_case, readable_case
from services.permits.cases.commands import EndSpecialProcedure, ExtendCase, StartSpecialProcedure
from services.permits.cases.context import CaseContext
from services.permits.cases.deadlines import refresh_deadlines
from services.permits.cases.documents import bundle, case_read
from services.permits.cases.records import record
from services.permits.shared import require_zone_role, utcnow
from services.permits.tables import ClockStop

PROCEDURE_NAMES = {
    "hearing": "听证",
    "expert_review": "专家评审",
    "on_site_inspection": "现场勘验",
    "public_notice": "公示",
}


async def start_special_procedure(command: StartSpecialProcedure, ctx: CaseContext) -> ClockStopRead:
    """Start a special procedure (hearing, expert review, inspection, public notice): the clock stops."""
    case, _tasks, _stops = await locked_case(ctx, command.case_id, command.if_match)
    body, actor = command.body, ctx.actor
    require_zone_role(actor, case.zone, Role.BUREAU_ADMIN)
    target = next_case_state(CaseState(case.state), CaseAction.START_SPECIAL_PROCEDURE)
    stop = ClockStop(
        application_id=case.id,
        kind="special_procedure",
        procedure=body.kind,
        reason=body.reason,
        started_on=ctx.today,
        started_by=actor.sub,
    )
    await ctx.repo.add(stop)
    before = case.state
    case.state = target.value
    case.version += 1
    await record(
        ctx.repo,
        case,
        action=f"start_{body.kind}",
        from_state=before,
        actor=actor.sub,
        now=utcnow(),
        note=body.reason,
        message=(
            "special_procedure",
            f"您的申请进入特别程序（{PROCEDURE_NAMES[body.kind]}），所需时间不计入办理时限。",
            [{"procedure": body.kind, "reason": body.reason}],
        ),
    )
    return _stop_read(stop)


def _stop_read(s: ClockStop) -> ClockStopRead:
    return ClockStopRead(
        id=s.id,
        kind=s.kind,
        procedure=s.procedure,
        reason=s.reason,
        started_on=s.started_on,
        ended_on=s.ended_on,
    )


async def end_special_procedure(command: EndSpecialProcedure, ctx: CaseContext) -> ApplicationRead:
    """End a special procedure: the clock runs again from where it stopped."""
    case, tasks, stops = await locked_case(ctx, command.case_id, command.if_match)
    actor, today, procedure_id = ctx.actor, ctx.today, command.procedure_id
    require_zone_role(actor, case.zone, Role.BUREAU_ADMIN)
    stop = next((s for s in stops if s.id == procedure_id and s.kind == "special_procedure"), None)
    if stop is None:
        raise NotFound(
            Text(
                f"办件 {command.case_id} 没有编号为 {procedure_id} 的特别程序",
                f"application {command.case_id} has no special procedure {procedure_id}",
            ),
            code="procedure_not_found",
        )
    if stop.ended_on is not None:
        raise Conflict(
            Text(
                f"特别程序 {procedure_id} 已于 {stop.ended_on} 结束",
                f"special procedure {procedure_id} ended on {stop.ended_on}",
            ),
            code="procedure_already_ended",
            state=case.state,
        )
    target = next_case_state(CaseState(case.state), CaseAction.END_SPECIAL_PROCEDURE)
    stop.ended_on, stop.ended_by = today, actor.sub
    before = case.state
    case.state = target.value
    cal = await calendar(session=ctx.session, official=ctx.official)
    refresh_deadlines(case, tasks, stops, cal, today)
    case.version += 1
    await record(
        ctx.repo,
        case,
        action=f"end_{stop.procedure}",
        from_state=before,
        actor=actor.sub,
        now=utcnow(),
        note=command.body.note,
        message=("special_procedure_ended", "特别程序已结束，办理时限继续计算。", []),
    )
    return case_read(case, await bundle(ctx.repo, [case]), cal, today, actor)


async def list_procedures(
    case_id: str, ctx: CaseContext, *, after: int | None = None, limit: int
) -> tuple[list[ClockStopRead], int | None]:
    """A page of a case's clock stops, oldest first, after the stop numbered ``after`` (staff
    only); the second value is the next cursor."""
    await readable_case(ctx, case_id, staff_only=True)
    rows = [s for s in (await ctx.repo.stops([case_id]))[case_id] if after is None or s.id > after]
    more = len(rows) > limit
    rows = rows[:limit]
    return [_stop_read(s) for s in rows], (rows[-1].id if more else None)


async def extend(command: ExtendCase, ctx: CaseContext) -> ApplicationRead:
    """Grant the one extension a case may get (up to the item's statutory maximum), with a reason."""
    case, tasks, stops = await locked_case(ctx, command.case_id, command.if_match)
    body, actor, today = command.body, ctx.actor, ctx.today
    require_zone_role(actor, case.zone, Role.BUREAU_ADMIN)
    next_case_state(CaseState(case.state), CaseAction.EXTEND)
    if case.extension_days:
        raise Conflict(
            Text(
                f"办件 {case.id} 已延期 {case.extension_days} 个工作日；每件只能延期一次",
                f"application {case.id} was already extended by {case.extension_days} working days; one extension only",
            ),
            code="already_extended",
            state=case.state,
            allowed_actions=case_action_names(
                a for a in allowed_actions(CaseState(case.state)) if a != CaseAction.EXTEND
            ),
        )
    maximum = int(case.item_snapshot.get("max_extension_days", 0))
    if body.days > maximum:
        raise Unprocessable(
            Text(f"延期最多 {maximum} 个工作日", f"the extension may be at most {maximum} working days"),
            errors=[
                {
                    "loc": ["body", "days"],
                    "msg": Text(f"至多 {maximum}", f"at most {maximum}"),
                    "type": "range",
                    "code": "extension_too_long",
                }
            ],
            code="extension_too_long",
        )
    case.extension_days = body.days
    case.limit_days += body.days
    cal = await calendar(session=ctx.session, official=ctx.official)
    refresh_deadlines(case, tasks, stops, cal, today)
    case.version += 1
    await record(
        ctx.repo,
        case,
        action="extend",
        from_state=case.state,
        actor=actor.sub,
        now=utcnow(),
        note=body.reason,
        message=(
            "extended",
            f"办理时限延长{body.days}个工作日，新的办结期限 {case.deadline}。",
            [{"days": body.days, "reason": body.reason}],
        ),
    )
    return case_read(case, await bundle(ctx.repo, [case]), cal, today, actor)
