"""The end of a case: the decision issued at the window, and the applicant's rating of the service."""

from __future__ import annotations

from libs.domain.kernel.errors import Conflict, Forbidden
from libs.domain.kernel.i18n import Text
from libs.domain.kernel.values import Role
from libs.domain.permits.contracts import ApplicationRead, RatingRead
from libs.domain.permits.docnum import document_number
from libs.domain.permits.states import CaseAction, CaseState, Outcome, next_case_state
from services.permits.calendar.service import RECTIFICATION_DAYS, calendar
from services.permits.cases.access import locked_case
from services.permits.cases.commands import DecideCase, RateCase
from services.permits.cases.context import CaseContext
from services.permits.cases.documents import read_one
from services.permits.cases.records import record
from services.permits.catalog.repository import CatalogRepository
from services.permits.shared import new_id, require_zone_role, utcnow
from services.permits.tables import Decision as DecisionRow
from services.permits.tables import Rating as RatingRow
from services.permits.tables import Rectification as RectRow

POOR_RATING = 2


async def decide(command: DecideCase, ctx: CaseContext) -> ApplicationRead:
    """Issue the decision at the window, numbered from the bureau's gap-free sequence, under its seal."""
    case, _tasks, _stops = await locked_case(ctx, command.case_id, command.if_match)
    actor, today, repo = ctx.actor, ctx.today, ctx.repo
    require_zone_role(actor, case.zone, Role.WINDOW_CLERK)
    target = next_case_state(CaseState(case.state), CaseAction.DECIDE)
    bureau = await CatalogRepository(ctx.session).bureau(case.zone)
    if bureau is None:
        raise Conflict(
            Text(
                f"开发区 {case.zone} 尚未设立审批局（PUT /v1/catalog/bureaus/{case.zone}）："
                "没有可据以作出决定的文号前缀和印章",
                f"zone {case.zone} has no bureau configured (PUT /v1/catalog/bureaus/{case.zone}): "
                "no document prefix or seal to issue the decision under",
            ),
            code="bureau_not_configured",
            state=case.state,
        )
    number = await repo.next_document_number(case.zone, today.year)
    now = utcnow()
    outcome = Outcome(case.proposed_outcome or Outcome.APPROVED)
    decision = DecisionRow(
        application_id=case.id,
        zone=case.zone,
        year=today.year,
        sequence=number,
        document_number=document_number(bureau.document_prefix, today.year, number),
        outcome=outcome.value,
        seal=bureau.seal,
        reasons=list(case.refusal_reasons),
        issued_on=today,
        issued_at=now,
        issued_by=actor.sub,
    )
    await repo.add(decision)
    before = case.state
    case.state, case.finished_on = target.value, today
    case.version += 1
    text = ("准予许可" if outcome == Outcome.APPROVED else "不予许可") + f"（{decision.document_number}）。"
    if command.body.note:
        text += command.body.note
    await record(
        repo,
        case,
        action="decide",
        from_state=before,
        actor=actor.sub,
        now=now,
        note=command.body.note,
        message=("decision", text, [{"reason": r} for r in case.refusal_reasons]),
        event_extra={"document_number": decision.document_number, "outcome": outcome.value},
    )
    return await read_one(repo, ctx.official, case, today, actor)


async def rate_case(command: RateCase, ctx: CaseContext) -> RatingRead:
    """The applicant rates the service once; 2 or lower opens a rectification due in 15 working days."""
    case, _tasks, _stops = await locked_case(ctx, command.case_id, None)
    body, actor, today, repo = command.body, ctx.actor, ctx.today, ctx.repo
    if case.applicant_sub != actor.sub:
        raise Forbidden(
            Text("只有申请人可以评价服务", "only the applicant rates the service"), code="not_the_applicant"
        )
    next_case_state(CaseState(case.state), CaseAction.RATE)
    if (await repo.ratings([case.id])).get(case.id) is not None:
        raise Conflict(
            Text(f"办件 {case.id} 已评价", f"application {case.id} has already been rated"),
            code="already_rated",
            state=case.state,
            allowed_actions=[],
        )
    now = utcnow()
    rating = RatingRow(application_id=case.id, score=body.score, comment=body.comment, rated_at=now, rated_by=actor.sub)
    await repo.add(rating)
    rect_id: str | None = None
    if body.score <= POOR_RATING:
        cal = await calendar(session=ctx.session, official=ctx.official)
        due = cal.add_working_days(today, RECTIFICATION_DAYS)
        rect_id = new_id()
        await repo.add(
            RectRow(
                id=rect_id,
                application_id=case.id,
                zone=case.zone,
                score=body.score,
                comment=body.comment,
                opened_on=today,
                due_on=due.deadline,
                provisional=due.provisional,
                state="open",
            )
        )
    case.version += 1
    await record(repo, case, action="rate", from_state=case.state, actor=actor.sub, now=now, note=body.comment)
    return RatingRead(score=body.score, comment=body.comment, rated_at=now, rectification=rect_id)
