"""A new case and all its first rows in ONE PostgreSQL statement (data-modifying ``WITH``).

The intake writes the case, its materials, the first stage's tasks, the transitions, the
outbox events and the message to the applicant. On PostgreSQL these go in one statement sent
outside an explicit transaction block: the statement is its own transaction, so it is atomic
(every row or none, the outbox with the change it announces) and costs one round trip and one
commit. Each table's rows travel as ONE JSON array (written by orjson), expanded by
``json_populate_recordset`` into the table's own row type, so the SQL text never changes and
asyncpg's prepared-statement cache serves every call, and the service encodes one text per table
instead of one value per column and row (the larger part of the intake's cost on the wire).
Later changes of a case send their new rows (tasks, transition, event, message) through the same
statement inside their own transaction, the tables without rows given empty arrays
(:func:`insert_rows`, the seam :meth:`~services.permits.cases.repository.CaseRepository.insert_rows`
goes through; ``PERMITS_ONE_STATEMENT_WRITES=false`` turns it off, the plain path then inserting
table by table, which ``tests/permits/test_fast_paths.py`` holds it to).
``json_populate_recordset`` keeps the array order, so the history (``transition.id``) and the
outbox (``outbox_event.seq``) number their rows in the order given. Foreign keys are checked at
the end of the statement, when the case row exists.

The SQL is generated from the table definitions in :mod:`services.permits.tables`, so a new
column cannot be forgotten here; a row missing one of its columns is refused before sending
(:func:`parameters`), rather than stored with a NULL. The columns the database fills are left
out of the statement, so their defaults apply: an autoincrement key (``transition.id``,
``outbox_event.seq``) and a column with a server default (``outbox_event.txid``, the writing
transaction's id, which a writer must never give).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import orjson
from sqlalchemy import JSON, Column, Table, text
from sqlalchemy.ext.asyncio import AsyncSession

from services.permits.tables import (
    Application,
    ApplicationMaterial,
    AuditLog,
    Message,
    OutboxEvent,
    Task,
    Transition,
)

TABLES: tuple[Table, ...] = tuple(
    m.__table__  # type: ignore[misc]
    for m in (Application, ApplicationMaterial, Task, Transition, OutboxEvent, Message, AuditLog)
)
"""The tables of a new case, parent first, and the audit log: the group commit writes each case's
audit row in the case's statement (:func:`services.common.audit.group_commit_rows`)."""

TABLE_NAMES = frozenset(t.name for t in TABLES)
"""Their names: rows for any of them can go in the statement (a table given no rows gets none)."""


def _columns(table: Table) -> list[Column[Any]]:
    """The columns the caller gives: all but a database-generated key and the columns with a
    server default (``json_populate_recordset`` would give them NULL, not their default)."""
    generated = {c.key for c in table.primary_key.columns if c.autoincrement is True}
    return [c for c in table.columns if c.key not in generated and c.server_default is None]


def _is_json(col: Column[Any]) -> bool:
    return isinstance(col.type, JSON)


def _sql(placeholder: Callable[[int], str]) -> str:
    parts: list[str] = []
    for i, table in enumerate(TABLES):
        cols = _columns(table)
        # A JSON column given Python None holds JSON null, as SQLAlchemy's JSON type stores it.
        picks = [f"coalesce(u.{c.key}, 'null'::json)" if _is_json(c) else f"u.{c.key}" for c in cols]
        parts.append(
            f"w{i} AS (INSERT INTO {table.name} ({', '.join(c.key for c in cols)}) "
            f"SELECT {', '.join(picks)} FROM json_populate_recordset(NULL::{table.name}, {placeholder(i)}) AS u)"
        )
    return "WITH " + ",\n".join(parts) + "\nSELECT 1"


SQL = _sql(lambda i: f"${i + 1}::json")
"""The statement, for asyncpg; its parameters are, table by table, the rows as one JSON array."""

NAMED_SQL = text(_sql(lambda i: f"CAST(:t{i} AS json)"))
"""The same statement for a SQLAlchemy session, its parameters named ``t0``, ``t1``, ...
(:func:`named_parameters`)."""

_REQUIRED: tuple[tuple[str, frozenset[str]], ...] = tuple(
    (table.name, frozenset(c.key for c in _columns(table))) for table in TABLES
)
"""Per table, in parameter order: the columns every row must give."""


def parameters(rows: Mapping[str, Sequence[dict[str, Any]]]) -> list[str]:
    """The statement's arguments from each table's rows (by table name; a missing table has none).

    Raises ``KeyError`` naming a column a row does not give."""
    args: list[str] = []
    for name, required in _REQUIRED:
        values = rows.get(name, ())
        for row in values:
            if not required <= row.keys():
                raise KeyError(f"{name} row without {', '.join(sorted(required - row.keys()))}")
        args.append(orjson.dumps(values).decode())
    return args


def named_parameters(rows: Mapping[str, Sequence[dict[str, Any]]]) -> dict[str, str]:
    """:func:`parameters` by name, for :data:`NAMED_SQL`."""
    return {f"t{i}": value for i, value in enumerate(parameters(rows))}


async def insert_rows(session: AsyncSession, rows: Sequence[tuple[Table, list[dict[str, Any]]]]) -> bool | None:
    """Insert each table's rows in ONE statement, in the session's transaction; ``None`` (nothing
    done) when the statement cannot take them (SQLite, or a table that is not a case's): the
    caller then inserts them table by table. ``rows`` are non-empty, in the order to number them."""
    if session.get_bind().dialect.name != "postgresql" or not all(t.name in TABLE_NAMES for t, _ in rows):
        return None
    await session.execute(NAMED_SQL, named_parameters({t.name: v for t, v in rows}))
    return True


__all__ = ["NAMED_SQL", "SQL", "TABLES", "TABLE_NAMES", "insert_rows", "named_parameters", "parameters"]
