"""Database plumbing shared by the services: engines, the request-scoped session, readiness.

The request-scoped session commits when the route returns and rolls back on error; services
and repositories only ``flush``. The commit runs *before* the response is sent
(``Depends(scope="function")``), so a failed commit can never follow a 2xx answer.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import Depends, Request
from sqlalchemy import BigInteger, DateTime, Integer, MetaData, event, text
from sqlalchemy.engine import Dialect, make_url
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import Session
from sqlalchemy.types import TypeDecorator

from libs.domain.kernel.errors import UpstreamUnavailable

BigIntPK = BigInteger().with_variant(Integer(), "sqlite")
"""A 64-bit primary key that is still SQLite's auto-incrementing INTEGER PRIMARY KEY."""


class UtcDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC timestamp on every backend (SQLite keeps no offset: UTC is restored on load)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is not None and value.tzinfo is not None:
            value = value.astimezone(UTC)
        return value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value


NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def make_metadata() -> MetaData:
    """A ``MetaData`` with the house naming convention, so migrations stay stable."""
    return MetaData(naming_convention=NAMING_CONVENTION)


def is_sqlite(url: str) -> bool:
    """True for a SQLite URL."""
    return make_url(url).get_backend_name() == "sqlite"


def make_engine(url: str, *, pool_size: int = 10, echo: bool = False) -> AsyncEngine:
    """Create an async engine for PostgreSQL (asyncpg) or SQLite (aiosqlite)."""
    if is_sqlite(url):
        engine = create_async_engine(url, echo=echo, connect_args={"timeout": 15})

        @event.listens_for(engine.sync_engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA busy_timeout=15000")
            cur.close()

        return engine
    return create_async_engine(
        url,
        echo=echo,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_pre_ping=True,
        pool_timeout=5,
        connect_args={"timeout": 3, "command_timeout": 60},
    )


@dataclass
class Database:
    """The engine and session factory a service owns for its lifetime."""

    url: str
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]

    @classmethod
    def open(cls, url: str, *, pool_size: int = 10) -> Database:
        """Create the engine (lazily connecting, at most ``2 * pool_size`` connections) and the session factory."""
        engine = make_engine(url, pool_size=pool_size)
        return cls(url=url, engine=engine, sessions=async_sessionmaker(engine, expire_on_commit=False))

    @property
    def sqlite(self) -> bool:
        """True when this database is SQLite."""
        return is_sqlite(self.url)

    async def close(self) -> None:
        """Dispose of the pool."""
        await self.engine.dispose()

    async def ping(self, timeout: float = 3.0) -> None:
        """Raise :class:`UpstreamUnavailable` unless ``SELECT 1`` answers within ``timeout``."""
        try:
            async with asyncio.timeout(timeout):
                async with self.engine.connect() as conn:
                    await conn.execute(text("SELECT 1"))
        except (OSError, DBAPIError, OperationalError, TimeoutError) as exc:
            raise UpstreamUnavailable(f"database unreachable: {type(exc).__name__}", service="database") from exc


async def _session(request: Request) -> AsyncIterator[AsyncSession]:
    db: Database = request.app.state.runtime.db
    async with db.sessions() as session:
        try:
            yield session
        except BaseException:
            await session.rollback()
            raise
        else:
            try:
                await session.commit()
            except (OSError, DBAPIError) as exc:
                if isinstance(exc, DBAPIError) and not exc.connection_invalidated and not _is_connectivity(exc):
                    raise
                raise UpstreamUnavailable("database unreachable while saving", service="database") from exc


def _is_connectivity(exc: DBAPIError) -> bool:
    name = type(exc.orig).__name__ if exc.orig is not None else ""
    return "Connection" in name or "CannotConnect" in name


SessionDep = Annotated[AsyncSession, Depends(_session, scope="function")]
"""The request-scoped session: commit on success (before the response), roll back on error."""


NOT_A_WRITE = "devzones_not_a_write"
"""Execution option of a statement that changes a row only to take a lock: the audit log
(:mod:`services.common.audit`) does not count it as a write."""


async def serialise_writes(session: AsyncSession, table: str, name: str) -> None:
    """Take the service's write lock for this transaction (held until commit or rollback).

    An upsert on a one-row-per-name lock table: PostgreSQL holds the row lock to the end of
    the transaction, and on SQLite the write takes the database's RESERVED lock *before*
    the use case reads, so read-check-write sequences never interleave on either backend.
    """
    await session.execute(
        text(
            f"INSERT INTO {table} (name, counter) VALUES (:name, 1) "  # table is a constant of the caller
            f"ON CONFLICT (name) DO UPDATE SET counter = {table}.counter + 1"
        ),
        {"name": name},
        execution_options={NOT_A_WRITE: True},
    )


def on_commit(session: AsyncSession, callback: Callable[[], None]) -> None:
    """Run ``callback`` after the session's current transaction commits (never on rollback)."""
    session.sync_session.info.setdefault("devzones_on_commit", []).append(callback)


@event.listens_for(Session, "after_commit")
def _run_commit_callbacks(session: Session) -> None:
    for callback in session.info.pop("devzones_on_commit", []):
        callback()


@event.listens_for(Session, "after_rollback")
def _drop_commit_callbacks(session: Session) -> None:
    session.info.pop("devzones_on_commit", None)
