"""What a case use case is given besides its command: who asks, when, and with what.

The routes build it (:func:`services.permits.dependencies.case_context`), one per request; the
use cases of :mod:`services.permits.cases` and :mod:`services.permits.tasks` take it with their
command (:mod:`services.permits.cases.commands`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy.ext.asyncio import AsyncSession

from libs.domain.kernel.calendar import OfficialCalendar
from libs.domain.kernel.contracts import Actor
from services.permits.cache import ReadCache, SessionSource
from services.permits.cases.fast_paths.group_commit import IntakeWriter
from services.permits.cases.repository import CaseRepository
from services.permits.catalog.service import ZoneLookup


@dataclass(frozen=True, slots=True)
class CaseContext:
    """The request's session (and the case repository over it), the caller, today, and the
    app's official calendar and read cache."""

    session: AsyncSession
    repo: CaseRepository
    official: OfficialCalendar
    cache: ReadCache
    actor: Actor
    today: date

    def sessions(self) -> AsyncSession:
        """The session, as a :data:`~services.permits.cache.SessionSource` for the read cache."""
        return self.session


@dataclass(frozen=True, slots=True)
class IntakeContext:
    """What the intake is given: a session opened only if the intake needs one (``sessions``),
    the group-commit writer (``None``: SQLite, switched off, or an intake under an
    ``Idempotency-Key``, which writes in its request's transaction), the registry that confirms
    zones and the app's memory of confirmed zones, besides the caller, today and the caches."""

    sessions: SessionSource
    official: OfficialCalendar
    cache: ReadCache
    writer: IntakeWriter | None
    registry: ZoneLookup
    zone_cache: dict[str, float]
    actor: Actor
    today: date
    one_statement_writes: bool

    def repo(self) -> CaseRepository:
        """The case repository over the session (which this opens)."""
        return CaseRepository(self.sessions(), one_statement_writes=self.one_statement_writes)
