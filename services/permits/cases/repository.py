"""Queries of cases and everything recorded about them (tasks, stops, materials, history, decisions).

Locking: every change to a case first takes the case's row lock (:meth:`CaseRepository.lock`):
``SELECT ... FOR UPDATE`` on PostgreSQL; on SQLite, which has no row locks, a no-op ``UPDATE``
that takes the database's single write lock. Concurrent changes to one case are therefore
serialised, and the second writer re-reads the state the first one left.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, cast

from sqlalchemy import Table, and_, exists, false, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from libs.domain.permits.states import ACTIVE_STATES
from services.permits.cases.fast_paths import one_statement
from services.permits.shared import Visibility
from services.permits.sql import dialect_insert, lock_row
from services.permits.tables import (
    Application,
    ApplicationMaterial,
    ClockStop,
    Decision,
    DocumentCounter,
    Message,
    Rating,
    Rectification,
    Task,
    Transition,
)


def case_clause(visibility: Visibility) -> ColumnElement[bool] | None:
    """A WHERE clause on ``application`` for ``visibility`` (``None``: every case)."""
    if visibility.everything:
        return None
    parts: list[ColumnElement[bool]] = []
    if visibility.zones:
        parts.append(Application.zone.in_(visibility.zones))
    if visibility.applicant is not None:
        parts.append(Application.applicant_sub == visibility.applicant)
    if visibility.reviewer is not None:
        zone, dept = visibility.reviewer
        parts.append(exists().where(Task.application_id == Application.id, Task.zone == zone, Task.department == dept))
    return or_(*parts) if parts else false()


@dataclass
class CaseFilter:
    """Filters of the case list."""

    zone: str | None = None
    state: str | None = None
    item: str | None = None
    applicant: str | None = None


class CaseRepository:
    """Cases and everything recorded about them."""

    def __init__(self, session: AsyncSession, *, one_statement_writes: bool = False) -> None:
        self.session = session
        self.one_statement_writes = one_statement_writes  # PERMITS_ONE_STATEMENT_WRITES, for insert_rows

    async def insert_case(self, case: dict[str, Any], rows: Sequence[tuple[Any, list[dict[str, Any]]]]) -> None:
        """Insert a new case and its first rows (one statement per table, no read-back)."""
        await self.session.execute(insert(cast(Table, Application.__table__)), [case])
        await self.insert_rows(rows)

    async def insert_rows(self, rows: Sequence[tuple[Any, list[dict[str, Any]]]]) -> None:
        """Insert each table's rows (in the order given), in the session's transaction.

        With ``one_statement_writes``, rows of a case's tables go in ONE statement on PostgreSQL
        (:func:`~services.permits.cases.fast_paths.one_statement.insert_rows`, which declines
        elsewhere): a change of a case writes its tasks, transition, outbox event and message in
        one round trip. Otherwise one statement per table (executemany: the driver batches the rows)."""
        present = [(table, values) for table, values in rows if values]
        if not present:
            return
        if self.one_statement_writes and await one_statement.insert_rows(self.session, present):
            return
        for table, values in present:
            await self.session.execute(insert(table), values)

    async def add(self, *rows: object) -> None:
        """Insert rows (case, tasks, materials, transitions, messages, events, ...)."""
        self.session.add_all(rows)
        await self.session.flush()

    async def flush(self) -> None:
        """Write pending changes."""
        await self.session.flush()

    async def get(self, case_id: str) -> Application | None:
        """The case ``case_id`` without a lock."""
        return await self.session.get(Application, case_id)

    async def lock(self, case_id: str) -> Application | None:
        """The case with its row lock held until the transaction ends (see the module docstring)."""
        return await lock_row(self.session, Application, Application.id, case_id, Application.version)

    async def list_cases(
        self, *, visibility: Visibility, filters: CaseFilter, after: tuple[str, str] | None, limit: int
    ) -> list[Application]:
        """Cases the caller may see, oldest first, after the cursor ``(submitted_at, id)``."""
        q = select(Application)
        clause = case_clause(visibility)
        if clause is not None:
            q = q.where(clause)
        if filters.zone is not None:
            q = q.where(Application.zone == filters.zone)
        if filters.state is not None:
            q = q.where(Application.state == filters.state)
        if filters.item is not None:
            q = q.where(Application.item_id == filters.item)
        if filters.applicant is not None:
            q = q.where(Application.applicant_sub == filters.applicant)
        if after is not None:
            at = datetime.fromisoformat(after[0])
            q = q.where(
                or_(Application.submitted_at > at, and_(Application.submitted_at == at, Application.id > after[1]))
            )
        q = q.order_by(Application.submitted_at, Application.id).limit(limit)
        return list(await self.session.scalars(q))

    async def in_zone_submitted(self, zone: str, start: date, end: date) -> list[Application]:
        """Cases of ``zone`` submitted in ``[start, end]``."""
        q = select(Application).where(
            Application.zone == zone, Application.submitted_on >= start, Application.submitted_on <= end
        )
        return list(await self.session.scalars(q))

    async def active(self, *, provisional_only: bool = False, accepted_before: date | None = None) -> list[Application]:
        """Accepted, undecided cases (optionally only provisional ones, or accepted before a day)."""
        q = select(Application).where(Application.state.in_([s.value for s in ACTIVE_STATES]))
        if provisional_only:
            provisional_task = exists().where(Task.application_id == Application.id, Task.provisional.is_(True))
            q = q.where(or_(Application.provisional.is_(True), provisional_task))
        if accepted_before is not None:
            q = q.where(Application.accepted_on < accepted_before)
        return list(await self.session.scalars(q.order_by(Application.id)))

    async def task(self, task_id: str) -> Task | None:
        """The task ``task_id`` (fresh from the database)."""
        row: Task | None = await self.session.scalar(
            select(Task).where(Task.id == task_id).execution_options(populate_existing=True)
        )
        return row

    async def tasks(self, case_ids: Sequence[str]) -> dict[str, list[Task]]:
        """The tasks of each case, by stage and department."""
        out: dict[str, list[Task]] = {c: [] for c in case_ids}
        if not case_ids:
            return out
        rows = await self.session.scalars(
            select(Task)
            .where(Task.application_id.in_(set(case_ids)))
            .order_by(Task.stage, Task.department)
            .execution_options(populate_existing=True)
        )
        for t in rows:
            out[t.application_id].append(t)
        return out

    async def list_tasks(
        self,
        *,
        zone: str | None,
        department: str | None,
        state: str | None,
        after: str | None,
        limit: int,
    ) -> list[Task]:
        """Tasks matching the filters, ordered by id, after the cursor."""
        q = select(Task)
        if zone is not None:
            q = q.where(Task.zone == zone)
        if department is not None:
            q = q.where(Task.department == department)
        if state is not None:
            q = q.where(Task.state == state)
        if after is not None:
            q = q.where(Task.id > after)
        return list(await self.session.scalars(q.order_by(Task.id).limit(limit)))

    async def stops(self, case_ids: Sequence[str]) -> dict[str, list[ClockStop]]:
        """The clock stops of each case, oldest first."""
        out: dict[str, list[ClockStop]] = {c: [] for c in case_ids}
        if not case_ids:
            return out
        rows = await self.session.scalars(
            select(ClockStop).where(ClockStop.application_id.in_(set(case_ids))).order_by(ClockStop.id)
        )
        for s in rows:
            out[s.application_id].append(s)
        return out

    async def materials(self, case_ids: Sequence[str]) -> dict[str, list[ApplicationMaterial]]:
        """The materials on file of each case."""
        out: dict[str, list[ApplicationMaterial]] = {c: [] for c in case_ids}
        if not case_ids:
            return out
        rows = await self.session.scalars(
            select(ApplicationMaterial)
            .where(ApplicationMaterial.application_id.in_(set(case_ids)))
            .order_by(ApplicationMaterial.id)
        )
        for m in rows:
            out[m.application_id].append(m)
        return out

    async def transitions(self, case_id: str) -> list[Transition]:
        """The history of a case, oldest first."""
        return list(
            await self.session.scalars(
                select(Transition).where(Transition.application_id == case_id).order_by(Transition.id)
            )
        )

    async def messages(self, case_id: str) -> list[Message]:
        """Messages addressed to the applicant, oldest first."""
        return list(
            await self.session.scalars(select(Message).where(Message.application_id == case_id).order_by(Message.id))
        )

    async def decisions(self, case_ids: Sequence[str]) -> dict[str, Decision]:
        """The decisions of the cases that have one."""
        if not case_ids:
            return {}
        rows = await self.session.scalars(select(Decision).where(Decision.application_id.in_(set(case_ids))))
        return {d.application_id: d for d in rows}

    async def ratings(self, case_ids: Sequence[str]) -> dict[str, Rating]:
        """The ratings of the cases that have one."""
        if not case_ids:
            return {}
        rows = await self.session.scalars(select(Rating).where(Rating.application_id.in_(set(case_ids))))
        return {r.application_id: r for r in rows}

    async def rectifications_of(self, case_ids: Sequence[str]) -> dict[str, Rectification]:
        """The rectification items of the cases that have one."""
        if not case_ids:
            return {}
        rows = await self.session.scalars(select(Rectification).where(Rectification.application_id.in_(set(case_ids))))
        return {r.application_id: r for r in rows}

    async def next_document_number(self, zone: str, year: int) -> int:
        """Take the bureau's next number for ``year``; the counter row stays locked until commit.

        The ``UPDATE`` comes first so the row (PostgreSQL) or the database (SQLite) is locked
        before the new value is read: two decisions can never take the same number, and a
        rolled-back decision gives its number back (no gaps).
        """
        ins = dialect_insert(self.session)(DocumentCounter).values(zone=zone, year=year, last_number=0)
        await self.session.execute(ins.on_conflict_do_nothing(index_elements=["zone", "year"]))
        await self.session.execute(
            update(DocumentCounter)
            .where(DocumentCounter.zone == zone, DocumentCounter.year == year)
            .values(last_number=DocumentCounter.last_number + 1)
        )
        value = await self.session.scalar(
            select(DocumentCounter.last_number).where(DocumentCounter.zone == zone, DocumentCounter.year == year)
        )
        assert value is not None
        return int(value)
