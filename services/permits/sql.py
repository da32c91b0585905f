"""SQL helpers the permits repositories share: the dialect's insert, row locks, unique inserts.

PostgreSQL gets ``SELECT ... FOR UPDATE``; SQLite, which has no row locks, gets a no-op
``UPDATE`` of the row, which takes the database's single write lock for the transaction.
Either way the caller holds the row until commit and reads what the previous writer left.
"""

from __future__ import annotations

import contextlib
from typing import Any, TypeVar

from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.common.db import NOT_A_WRITE

M = TypeVar("M")


def is_sqlite(session: AsyncSession) -> bool:
    """True when the session is bound to SQLite."""
    return session.get_bind().dialect.name == "sqlite"


def dialect_insert(session: AsyncSession) -> Any:
    """The dialect's ``insert`` construct (both have ``on_conflict_do_nothing`` / ``_do_update``)."""
    return sqlite.insert if is_sqlite(session) else postgresql.insert


async def lock_row(session: AsyncSession, model: type[M], pk_column: Any, pk: Any, touch: Any) -> M | None:
    """The row of ``model`` whose ``pk_column`` is ``pk``, locked until the transaction ends.

    ``touch`` is a column set to itself on SQLite to take the write lock.
    """
    if is_sqlite(session):
        touched = update(model).where(pk_column == pk).values({touch: touch})
        result = await session.execute(touched.execution_options(**{NOT_A_WRITE: True}))  # a lock, not a write
        if result.rowcount == 0:  # type: ignore[attr-defined]
            return None
        q = select(model).where(pk_column == pk)
    else:
        q = select(model).where(pk_column == pk).with_for_update()
    row: M | None = await session.scalar(q.execution_options(populate_existing=True))
    return row


async def insert_unique(session: AsyncSession, row: object) -> bool:
    """Insert ``row`` as the transaction's first write; False (and the transaction rolled back)
    when a unique constraint says another request got there first."""
    session.add(row)
    try:
        await session.flush()
    except IntegrityError:
        await session.rollback()
        return False
    return True


class OnDemandSession:
    """A request's session, opened the first time it is asked for (``sessions()``), for the intake:
    at full speed an intake reads nothing (item and calendar are cached) and writes through the
    group-commit writer, so it needs no session at all. :meth:`finish` ends it as the shared
    ``SessionDep`` does (commit on success, before the answer; rollback on error)."""

    def __init__(self, factory: async_sessionmaker[AsyncSession]) -> None:
        self._factory = factory
        self._session: AsyncSession | None = None

    def __call__(self) -> AsyncSession:
        session = self._session
        if session is None:
            session = self._session = self._factory()
        return session

    async def finish(self, *, ok: bool) -> None:
        """Commit (``ok``) or roll back, then close, if the session was ever opened."""
        session, self._session = self._session, None
        if session is None:
            return
        try:
            if ok:
                await session.commit()
            else:
                with contextlib.suppress(Exception):  # the error being raised is the one to answer
                    await session.rollback()
        finally:
            await session.close()
