"""A case as a use case starts from: found, visible to the caller (else 404), and for a change
locked and at the version the caller read (``If-Match``, else 412)."""

from __future__ import annotations

from typing import NamedTuple

from libs.domain.kernel.errors import NotFound
from libs.domain.kernel.i18n import Text
from services.permits.cases.context import CaseContext
from services.permits.shared import check_if_match, sees, staff_view
from services.permits.tables import Application, ClockStop
from services.permits.tables import Task as TaskRow


def case_not_found(case_id: str) -> NotFound:
    """The 404 for a case that does not exist or that the caller may not see (the same answer)."""
    return NotFound(
        Text(f"办件 {case_id} 不存在", f"application {case_id} does not exist"), code="application_not_found"
    )


class LockedCase(NamedTuple):
    """A case locked for a change, with its tasks and clock stops."""

    case: Application
    tasks: list[TaskRow]
    stops: list[ClockStop]


async def locked_case(
    ctx: CaseContext, case_id: str, if_match: str | None, *, before_acceptance: bool = False
) -> LockedCase:
    """Lock the case, check visibility (404) and ``If-Match`` (412); return it with tasks and stops.

    ``before_acceptance`` skips loading tasks and stops for a case not yet accepted (it has none),
    which keeps intake to the fewest round trips.
    """
    repo = ctx.repo
    case = await repo.lock(case_id)
    if case is None:
        raise case_not_found(case_id)
    empty = before_acceptance and case.accepted_on is None
    tasks = [] if empty else (await repo.tasks([case.id]))[case.id]
    if not sees(ctx.actor, case, tasks):
        raise case_not_found(case_id)
    check_if_match(if_match, case.version)
    stops = [] if empty else (await repo.stops([case.id]))[case.id]
    return LockedCase(case, tasks, stops)


async def readable_case(ctx: CaseContext, case_id: str, *, staff_only: bool) -> Application:
    """The case, unlocked, if the caller may see it (``staff_only``: as staff); else 404."""
    repo = ctx.repo
    case = await repo.get(case_id)
    tasks = (await repo.tasks([case_id]))[case_id] if case else []
    if case is None or not sees(ctx.actor, case, tasks) or (staff_only and not staff_view(ctx.actor, case)):
        raise case_not_found(case_id)
    return case
