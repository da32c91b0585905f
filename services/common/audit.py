"""The audit log of writes: who wrote, through which request, in the write's own transaction.

Every service keeps an append-only ``audit_log`` table (:class:`AuditLogColumns`). One row is added
to each committed transaction that wrote anything on behalf of a request, by the commit itself, so
no route, use case or repository can forget it (docs/adr/0012-audit-of-writes.md):

- :class:`~services.common.middleware.RequestContextMiddleware` opens the request's
  :class:`AuditScope` (its request id, method and ASGI scope, whose matched route names the path
  template), and :func:`services.common.auth.bearer_actor` notes the caller in it (:func:`note_actor`);
- every statement sent through SQLAlchemy that inserts, updates or deletes at least one row marks
  its connection as written (:func:`_statement_sent`); a write sent straight through the driver
  (``COPY``) calls :func:`wrote`;
- when a session commits a transaction that wrote, inside a request, the row is inserted just
  before the commit (:func:`_before_commit`): the row and the write commit together or not at all.
  A transaction that wrote nothing (a read, an idempotent replay) adds none, and a rolled-back one
  leaves none.

Two writes are bookkeeping, not acts, and do not count: the write lock's upsert
(:data:`NOT_A_WRITE` on the statement: ``services.common.db.serialise_writes``, the permits row lock
on SQLite) and the short transactions of the idempotency policy (:func:`exempt` on the session).
A write outside a request (a background job, the catalog seed at start-up) is the service's own
consequence of an audited act and is not logged.

A write that bypasses the session, the permits intake's group commit (ADR 0007), takes its row
from :func:`entry` and writes it in the same statement as the case.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from contextvars import ContextVar, Token
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Index, String, column, event, insert, table
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, Session, SessionTransaction, declared_attr, mapped_column
from starlette.types import Scope

from libs.domain.kernel.contracts import Actor
from services.common.db import NOT_A_WRITE, BigIntPK, UtcDateTime
from services.common.paths import route_path

TABLE = "audit_log"
ROUTE_MAX = 300


_WROTE = "devzones_audit_wrote"  # on a connection's info: a statement of its transaction wrote
_CONNECTION = "devzones_audit_connection"  # on a session's info: its connection's info dict
_MARKED = "devzones_audit_marked"  # on a session's info: a write sent through the driver (wrote())
_EXEMPT = "devzones_audit_exempt"  # on a session's info: bookkeeping, never audited (exempt())
_DML = re.compile(r"\b(INSERT|UPDATE|DELETE|MERGE)\b", re.IGNORECASE)


class AuditLogColumns:
    """The columns of a service's ``audit_log`` table (mix into the service's ``Base``)."""

    __tablename__ = TABLE

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime())
    request_id: Mapped[str] = mapped_column(String(128))
    method: Mapped[str] = mapped_column(String(16))
    route: Mapped[str] = mapped_column(String(ROUTE_MAX))
    sub: Mapped[str | None] = mapped_column(String(200))
    issuer: Mapped[str | None] = mapped_column(String(300))
    client_id: Mapped[str | None] = mapped_column(String(200))

    @declared_attr.directive
    def __table_args__(cls) -> tuple[Index, ...]:
        return (Index("ix_audit_log_sub", "sub"), Index("ix_audit_log_at", "at"))


_AUDIT_LOG = table(
    TABLE,
    column("at", UtcDateTime()),
    column("request_id", String()),
    column("method", String()),
    column("route", String()),
    column("sub", String()),
    column("issuer", String()),
    column("client_id", String()),
)
"""What the commit inserts into (the same columns, typed, without a service's model)."""


@dataclass(slots=True)
class AuditScope:
    """The request a write is made for: its id, method, ASGI scope (for the route) and caller."""

    request_id: str
    method: str
    scope: Scope
    actor: Actor | None = field(default=None)

    def entry(self) -> dict[str, Any]:
        """The audit row of a write made now for this request."""
        actor = self.actor
        # The matched route's template; a path (bounded, as the column is) only if none matched.
        route = getattr(self.scope.get("route"), "path", None) or route_path(self.scope)[:ROUTE_MAX]
        return {
            "at": datetime.now(UTC),
            "request_id": self.request_id,
            "method": self.method,
            "route": route,
            "sub": None if actor is None else actor.sub,
            "issuer": None if actor is None else actor.issuer,
            "client_id": None if actor is None else actor.client_id,
        }


_current: ContextVar[AuditScope | None] = ContextVar("devzones_audit_scope", default=None)


def open_request(request_id: str, scope: Scope) -> Token[AuditScope | None]:
    """Open the audit scope of a request (the request-context middleware does, for every request)."""
    return _current.set(AuditScope(request_id, scope.get("method", ""), scope))


def close_request(token: Token[AuditScope | None]) -> None:
    """Close the scope :func:`open_request` opened."""
    _current.reset(token)


def note_actor(actor: Actor) -> None:
    """Name the caller of the current request (its token was verified)."""
    current = _current.get()
    if current is not None:
        current.actor = actor


def entry() -> dict[str, Any] | None:
    """The audit row of a write made now for the current request; None outside a request."""
    current = _current.get()
    return None if current is None else current.entry()


def wrote(session: AsyncSession) -> None:
    """Mark the session's transaction as written by a statement SQLAlchemy did not see (``COPY``)."""
    session.sync_session.info[_MARKED] = True


def exempt(session: AsyncSession) -> None:
    """Never audit this session's transactions: bookkeeping of a request, not the request's act
    (the idempotency policy's claim and release of a key)."""
    session.sync_session.info[_EXEMPT] = True


def _is_write(statement: str, context: Any) -> bool:
    if context is not None and (context.isinsert or context.isupdate or context.isdelete):
        return True
    head = statement.lstrip()[:6].upper()
    if head in ("INSERT", "UPDATE", "DELETE"):
        return True
    return head.startswith("WITH") and _DML.search(statement) is not None


@event.listens_for(Engine, "after_cursor_execute")
def _statement_sent(
    conn: Connection, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool
) -> None:
    if conn.info.get(_WROTE) is not False:  # not in a session's transaction, or already written
        return
    if context is not None and context.execution_options.get(NOT_A_WRITE):
        return
    if not _is_write(statement, context):
        return
    if getattr(cursor, "rowcount", -1) == 0:  # e.g. INSERT … ON CONFLICT DO NOTHING that found the row
        return
    conn.info[_WROTE] = True


@event.listens_for(Session, "after_begin")
def _transaction_begun(session: Session, transaction: SessionTransaction, connection: Connection) -> None:
    # The connection's info outlives the transaction (it is the pooled connection's); the session
    # keeps that dict, not the connection, which is closed by the time the transaction has ended.
    flags = connection.info
    flags[_WROTE] = False
    session.info[_CONNECTION] = flags


@event.listens_for(Session, "before_commit")
def _before_commit(session: Session) -> None:
    info = session.info
    if info.get(_EXEMPT) or session.in_nested_transaction():  # a savepoint's release is no commit
        return
    current = _current.get()
    if current is None:
        return
    session.flush()  # the commit's own flush runs after this hook: its writes must count
    flags = info.get(_CONNECTION)
    if not (info.get(_MARKED) or (flags is not None and flags.get(_WROTE))):
        return
    session.execute(insert(_AUDIT_LOG).values(**current.entry()))


@event.listens_for(Session, "after_transaction_end")
def _transaction_ended(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is not None:  # a savepoint or subtransaction: the transaction goes on
        return
    info = session.info
    info.pop(_MARKED, None)
    flags = info.pop(_CONNECTION, None)
    if flags is not None:
        flags.pop(_WROTE, None)


def group_commit_rows(rows: Mapping[str, Any]) -> dict[str, Any]:
    """``rows`` (a case's rows by table name) with the current request's audit row added, for a
    write that bypasses the session (the permits group commit); unchanged outside a request."""
    row = entry()
    return dict(rows) if row is None else {**rows, TABLE: [row]}
