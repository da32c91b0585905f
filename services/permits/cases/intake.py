"""The window's intake of a handed-in case (受理): accept it, ask for supplements at once
(一次性告知), decline it (不予受理); and the applicant's supplements."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime

from libs.domain.kernel.calendar import OfficialCalendar
from libs.domain.kernel.errors import Forbidden, Unprocessable
from libs.domain.kernel.i18n import Text
from libs.domain.kernel.values import Role
from libs.domain.permits.contracts import AcceptCreate, ApplicationRead
from libs.domain.permits.states import CaseAction, CaseState, next_case_state
from services.permits.calendar.service import calendar
from services.permits.cases.access import locked_case
from services.permits.cases.commands import AcceptCase, DeclineCase, HandInSupplements, RequestIntakeSupplements
from services.permits.cases.context import CaseContext
from services.permits.cases.deadlines import refresh_deadlines
from services.permits.cases.documents import Bundle, bundle, case_read, material_names, read_one
from services.permits.cases.drafts import AnyCase, NewMaterial, NewTask
from services.permits.cases.materials import (
    acceptance_faults,
    check_notice,
    fault,
    files_for,
    material_rows,
    missing_mandatory,
    not_acceptable,
)
from services.permits.cases.records import Records, open_stage, record, task_rows
from services.permits.shared import require_zone_role, utcnow, zone_role
from services.permits.tables import ClockStop


def accept_case(
    case: AnyCase,
    body: AcceptCreate,
    stops: Sequence[ClockStop],
    cal: OfficialCalendar,
    *,
    today: date,
    now: datetime,
    actor: str,
    records: Records,
) -> list[NewTask]:
    """Accept a submitted case in memory: the clock starts today, the first stage's tasks open,
    the deadlines are computed; the transition, event and message go to ``records``."""
    target = next_case_state(CaseState(case.state), CaseAction.ACCEPT)
    before = case.state
    case.state, case.accepted_on, case.stage = target.value, today, 1
    case.pending_materials = [p.model_dump(mode="json") for p in body.pending]
    new_tasks = open_stage(case, 1, stops, cal, today, now)  # their deadlines are fresh
    refresh_deadlines(case, [], stops, cal, today)  # the case's deadline
    case.version += 1
    text = f"您的申请已受理，承诺办结时限为{case.limit_days}个工作日，办结期限 {case.deadline}。"
    if case.provisional:
        text += "（期限跨越官方日历尚未公布的年份，为暂定期限。）"
    records.add(
        case,
        action="accept",
        from_state=before,
        actor=actor,
        now=now,
        note=body.note,
        message=("accepted", text, [p.model_dump(mode="json") for p in body.pending]),
    )
    return new_tasks


async def accept(command: AcceptCase, ctx: CaseContext) -> ApplicationRead:
    """Accept (受理): the clock starts; the first stage's departments get their tasks."""
    case, _tasks, stops = await locked_case(ctx, command.case_id, command.if_match, before_acceptance=True)
    require_zone_role(ctx.actor, case.zone, Role.WINDOW_CLERK)
    next_case_state(CaseState(case.state), CaseAction.ACCEPT)
    repo = ctx.repo
    materials = (await repo.materials([case.id]))[case.id]
    faults = acceptance_faults(case, materials, command.body)
    if faults:
        raise not_acceptable(faults)
    now = utcnow()
    cal = await ctx.cache.calendar(ctx.sessions, ctx.official)
    records = Records()
    new_tasks = accept_case(
        case, command.body, stops, cal, today=ctx.today, now=now, actor=ctx.actor.sub, records=records
    )
    await repo.flush()  # the case's new state, in one UPDATE
    await repo.insert_rows([task_rows(new_tasks), *records.tables()])
    b = Bundle({case.id: new_tasks}, {case.id: stops}, {case.id: materials}, {}, {}, {})
    return case_read(case, b, cal, ctx.today, ctx.actor)


async def request_intake_supplements(command: RequestIntakeSupplements, ctx: CaseContext) -> ApplicationRead:
    """One notice listing everything missing or defective at once (一次性告知); the clock has not started."""
    case, _tasks, _stops = await locked_case(ctx, command.case_id, command.if_match)
    body, actor = command.body, ctx.actor
    require_zone_role(actor, case.zone, Role.WINDOW_CLERK)
    target = next_case_state(CaseState(case.state), CaseAction.REQUEST_SUPPLEMENTS)
    materials = (await ctx.repo.materials([case.id]))[case.id]
    check_notice(case, body, "items")
    listed = {i.code for i in body.items}
    unlisted = [c for c in missing_mandatory(case, materials) if c not in listed]
    if unlisted:
        raise Unprocessable(
            Text(
                "补正告知应一次性列明全部缺少的材料（一次性告知）",
                "the notice must list everything missing at once (一次性告知)",
            ),
            errors=[
                fault(
                    ["body", "items"],
                    "incomplete_notice",
                    Text(f"缺少的材料 {c} 未列入告知", f"missing material {c} is not listed"),
                )
                for c in unlisted
            ],
            code="incomplete_notice",
        )
    before = case.state
    case.state = target.value
    case.version += 1
    await record(
        ctx.repo,
        case,
        action="request_supplements",
        from_state=before,
        actor=actor.sub,
        now=utcnow(),
        note=body.note,
        message=(
            "supplements_requested",
            body.note or "请一次性补正以下材料。",
            [i.model_dump(mode="json") for i in body.items],
        ),
    )
    return await read_one(ctx.repo, ctx.official, case, ctx.today, actor)


async def decline(command: DeclineCase, ctx: CaseContext) -> ApplicationRead:
    """Decline as out of scope (不予受理), with reasons the applicant sees."""
    case, _tasks, _stops = await locked_case(ctx, command.case_id, command.if_match)
    require_zone_role(ctx.actor, case.zone, Role.WINDOW_CLERK)
    target = next_case_state(CaseState(case.state), CaseAction.DECLINE)
    before = case.state
    case.state, case.finished_on = target.value, ctx.today
    case.version += 1
    reasons = command.body.reasons
    await record(
        ctx.repo,
        case,
        action="decline",
        from_state=before,
        actor=ctx.actor.sub,
        now=utcnow(),
        note="; ".join(reasons),
        message=("declined", "您的申请不予受理。", [{"reason": r} for r in reasons]),
    )
    return await read_one(ctx.repo, ctx.official, case, ctx.today, ctx.actor)


async def supplement(command: HandInSupplements, ctx: CaseContext) -> ApplicationRead:
    """The applicant answers a supplement notice; during review the clock restarts where it stopped."""
    case, tasks, stops = await locked_case(ctx, command.case_id, command.if_match)
    body, actor, repo, today = command.body, ctx.actor, ctx.repo, ctx.today
    is_owner = case.applicant_sub is not None and case.applicant_sub == actor.sub
    if not is_owner and not zone_role(actor, case.zone, Role.WINDOW_CLERK):
        raise Forbidden(
            Text(
                "补正材料只能由申请人本人提交（或由窗口代为提交）",
                "only the applicant (or the window on their behalf) hands in supplements",
            ),
            code="not_the_applicant",
        )
    target = next_case_state(CaseState(case.state), CaseAction.SUPPLEMENT)
    files = await files_for(ctx.session, actor, body.materials, material_names(case), "materials")
    now = utcnow()
    materials = (await repo.materials([case.id]))[case.id]
    rnd = max((m.round for m in materials), default=0) + 1
    handed_in = material_rows(case.id, body.materials, files, rnd, now)
    await repo.insert_rows([(NewMaterial.table, [m.values() for m in handed_in])])
    before = case.state
    case.state = target.value
    cal = await calendar(session=ctx.session, official=ctx.official)
    if target == CaseState.IN_REVIEW:
        for s in stops:
            if s.kind == "supplements" and s.ended_on is None:
                s.ended_on, s.ended_by = today, actor.sub
        refresh_deadlines(case, tasks, stops, cal, today)
    case.version += 1
    await record(
        repo,
        case,
        action="supplement",
        from_state=before,
        actor=actor.sub,
        now=now,
        note=body.note,
        message=("supplements_received", "补正材料已收到。", []),
    )
    return case_read(case, await bundle(repo, [case]), cal, today, actor)
