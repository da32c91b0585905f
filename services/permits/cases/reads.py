"""Reading cases: one, a page of them, a case's history and its messages to the applicant."""

from __future__ import annotations

from libs.domain.permits.contracts import ApplicationRead, MessageRead, TransitionRead
from services.permits.cases.access import case_not_found, readable_case
from services.permits.cases.commands import ListCases
from services.permits.cases.context import CaseContext
from services.permits.cases.documents import bundle, calendar_for, case_read
from services.permits.shared import sees, visibility


async def get_application(case_id: str, ctx: CaseContext) -> ApplicationRead:
    """One case, as the caller may see it (404 if they may not)."""
    repo = ctx.repo
    case = await repo.get(case_id)
    if case is None:
        raise case_not_found(case_id)
    b = await bundle(repo, [case])
    if not sees(ctx.actor, case, b.tasks.get(case.id, [])):
        raise case_not_found(case_id)
    cal = await calendar_for(ctx.session, ctx.official, [case])
    return case_read(case, b, cal, ctx.today, ctx.actor)


async def list_applications(query: ListCases, ctx: CaseContext) -> tuple[list[ApplicationRead], tuple[str, str] | None]:
    """The cases the caller may see, oldest first; the second value is the next cursor."""
    repo, limit = ctx.repo, query.limit
    rows = await repo.list_cases(
        visibility=visibility(ctx.actor), filters=query.filters, after=query.after, limit=limit + 1
    )
    more = len(rows) > limit
    rows = rows[:limit]
    b = await bundle(repo, rows)
    cal = await calendar_for(ctx.session, ctx.official, rows)
    items = [case_read(r, b, cal, ctx.today, ctx.actor) for r in rows]
    cursor = (rows[-1].submitted_at.isoformat(), rows[-1].id) if more else None
    return items, cursor


async def history(
    case_id: str, ctx: CaseContext, *, after: int | None = None, limit: int
) -> tuple[list[TransitionRead], int | None]:
    """A page of a case's transitions, oldest first, after the one numbered ``after`` (staff only:
    notes are internal); the second value is the next cursor."""
    await readable_case(ctx, case_id, staff_only=True)
    rows = [t for t in await ctx.repo.transitions(case_id) if after is None or t.id > after]
    more = len(rows) > limit
    rows = rows[:limit]
    return [
        TransitionRead(
            at=t.at,
            actor=t.actor,
            action=t.action,
            from_state=t.from_state,
            to_state=t.to_state,
            task=t.task_id,
            note=t.note,
        )
        for t in rows
    ], (rows[-1].id if more else None)


async def messages(
    case_id: str, ctx: CaseContext, *, after: int | None = None, limit: int
) -> tuple[list[MessageRead], int | None]:
    """A page of the messages addressed to the applicant (the applicant's view of the case's
    conversation), oldest first, after the one numbered ``after``; the second value is the next cursor."""
    await readable_case(ctx, case_id, staff_only=False)
    rows = [m for m in await ctx.repo.messages(case_id) if after is None or m.id > after]
    more = len(rows) > limit
    rows = rows[:limit]
    return [MessageRead(at=m.at, kind=m.kind, body=m.body, items=m.items) for m in rows], (
        rows[-1].id if more else None
    )
