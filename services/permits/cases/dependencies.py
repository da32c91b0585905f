"""The contexts of the case use cases (:class:`~services.permits.cases.context.CaseContext`) as
route dependencies, one per group of callers."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import Depends
from sqlalchemy.ext.asyncio import AsyncSession

from libs.domain.kernel.contracts import Actor
from libs.domain.kernel.values import Role
from services.common.auth import require
from services.common.db import SessionDep
from services.permits.cases.context import CaseContext
from services.permits.cases.repository import CaseRepository
from services.permits.dependencies import FILERS, READERS, STAFF
from services.permits.runtime import PermitsRuntime, RuntimeDep


def case_context(runtime: PermitsRuntime, session: AsyncSession, actor: Actor) -> CaseContext:
    """The context of a case use case for this request (see :func:`context_of`)."""
    return CaseContext(
        session=session,
        repo=CaseRepository(session, one_statement_writes=runtime.settings.one_statement_writes),
        official=runtime.official_calendar,
        cache=runtime.read_cache,
        actor=actor,
        today=runtime.today(),
    )


def context_of(*roles: Role) -> Callable[..., Any]:
    """A dependency giving the :class:`CaseContext` of a caller holding one of ``roles``: the
    request's session is opened first, then the caller checked, as each would be on its own."""
    check = require(*roles)

    async def context(runtime: RuntimeDep, session: SessionDep, actor: Actor = Depends(check)) -> CaseContext:
        return case_context(runtime, session, actor)

    return context


ClerkContext = Annotated[CaseContext, Depends(context_of(Role.WINDOW_CLERK, Role.CITY_ADMIN))]
BureauAdminContext = Annotated[CaseContext, Depends(context_of(Role.CITY_ADMIN, Role.BUREAU_ADMIN))]
FilerContext = Annotated[CaseContext, Depends(context_of(*FILERS))]
ReviewerContext = Annotated[CaseContext, Depends(context_of(Role.REVIEWER, Role.CITY_ADMIN))]
ApplicantContext = Annotated[CaseContext, Depends(context_of(Role.APPLICANT))]
ReaderContext = Annotated[CaseContext, Depends(context_of(*READERS))]
StaffContext = Annotated[CaseContext, Depends(context_of(*STAFF))]
