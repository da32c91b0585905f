"""Queries of the supervision: overdue candidates, escalations, rectification items."""

from __future__ import annotations

from datetime import date

from sqlalchemy import exists, select
from sqlalchemy.ext.asyncio import AsyncSession

from libs.domain.permits.states import CLOCK_RUNNING_STATES, TaskState
from services.permits.sql import dialect_insert, is_sqlite
from services.permits.tables import (
    Application,
    Escalation,
    Rectification,
    Task,
)


class SupervisionRepository:
    """Overdue candidates, escalations and rectification items."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def flush(self) -> None:
        """Write pending changes."""
        await self.session.flush()

    async def rectification(self, rect_id: str) -> Rectification | None:
        """One rectification item."""
        return await self.session.get(Rectification, rect_id)

    async def rectifications(
        self, *, zone: str | None, state: str | None, after: str | None, limit: int
    ) -> list[Rectification]:
        """Rectification items, ordered by id."""
        q = select(Rectification)
        if zone is not None:
            q = q.where(Rectification.zone == zone)
        if state is not None:
            q = q.where(Rectification.state == state)
        if after is not None:
            q = q.where(Rectification.id > after)
        return list(await self.session.scalars(q.order_by(Rectification.id).limit(limit)))

    async def open_provisional_rectifications(self) -> list[Rectification]:
        """Open rectification items whose due date is provisional."""
        return list(
            await self.session.scalars(
                select(Rectification).where(Rectification.state == "open", Rectification.provisional.is_(True))
            )
        )

    async def overdue_cases(self, today: date, limit: int) -> list[Application]:
        """Running cases past their deadline with no escalation for it yet, locked (skipping locked rows)."""
        done = exists().where(
            Escalation.subject == "application",
            Escalation.subject_id == Application.id,
            Escalation.deadline == Application.deadline,
        )
        q = (
            select(Application)
            .where(
                Application.state.in_([s.value for s in CLOCK_RUNNING_STATES]),
                Application.deadline < today,
                ~done,
            )
            .order_by(Application.id)
            .limit(limit)
        )
        if not is_sqlite(self.session):
            q = q.with_for_update(skip_locked=True)
        return list(await self.session.scalars(q.execution_options(populate_existing=True)))

    async def overdue_tasks(self, today: date, limit: int) -> list[Task]:
        """Open tasks of running cases past their deadline with no escalation for it yet, locked."""
        done = exists().where(
            Escalation.subject == "task", Escalation.subject_id == Task.id, Escalation.deadline == Task.deadline
        )
        q = (
            select(Task)
            .join(Application, Application.id == Task.application_id)
            .where(
                Task.state == TaskState.OPEN.value,
                Application.state.in_([s.value for s in CLOCK_RUNNING_STATES]),
                Task.deadline < today,
                ~done,
            )
            .order_by(Task.id)
            .limit(limit)
        )
        if not is_sqlite(self.session):
            q = q.with_for_update(skip_locked=True, of=Task)
        return list(await self.session.scalars(q.execution_options(populate_existing=True)))

    async def record_escalation(self, values: dict[str, object]) -> bool:
        """Insert an escalation unless one exists for the same (subject, id, deadline); True if inserted."""
        ins = dialect_insert(self.session)(Escalation).values(**values)
        result = await self.session.execute(
            ins.on_conflict_do_nothing(index_elements=["subject", "subject_id", "deadline"])
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def escalations(self, *, zone: str | None, after: int | None, limit: int) -> list[Escalation]:
        """Escalations (of ``zone``), ordered by id."""
        q = select(Escalation)
        if zone is not None:
            q = q.where(Escalation.zone == zone)
        if after is not None:
            q = q.where(Escalation.id > after)
        return list(await self.session.scalars(q.order_by(Escalation.id).limit(limit)))
