"""A new case and all its first rows in ONE PostgreSQL statement (data-modifying ``WITH``).

The intake writes the case, its materials, the first stage's tasks, the transitions, the
outbox events and the message to the applicant. On PostgreSQL these go in one statement sent
outside an explicit transaction block: the statement is its own transaction, so it is atomic
(every row or none, the outbox with the change it announces) and costs one round trip and one
commit. Each table's rows travel as parallel arrays expanded with ``unnest``, so the SQL text
never changes and asyncpg's prepared-statement cache serves every call; ``unnest`` keeps the
array order, so the history (``transition.id``) and the outbox (``outbox_event.seq``) number
their rows in the order given. Foreign keys are checked at the end of the statement, when
the case row exists.

The SQL is generated from the table definitions in :mod:`services.permits.tables`, so a new
column cannot be forgotten here (a column the caller does not give is an error, not a NULL).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import orjson
from sqlalchemy import JSON, Column, Table
from sqlalchemy.dialects import postgresql

from services.permits.tables import (
    Application,
    ApplicationMaterial,
    Message,
    OutboxEvent,
    Task,
    Transition,
)

TABLES: tuple[Table, ...] = tuple(
    m.__table__  # type: ignore[misc]
    for m in (Application, ApplicationMaterial, Task, Transition, OutboxEvent, Message)
)
"""The tables of a new case, parent first."""

_DIALECT = postgresql.dialect()  # type: ignore[no-untyped-call]


def _columns(table: Table) -> list[Column[Any]]:
    """The columns the caller gives: all but a database-generated key."""
    generated = {c.key for c in table.primary_key.columns if c.autoincrement is True}
    return [c for c in table.columns if c.key not in generated]


def _is_json(col: Column[Any]) -> bool:
    return isinstance(col.type, JSON)


def _sql() -> str:
    parts: list[str] = []
    n = 0
    for i, table in enumerate(TABLES):
        cols = _columns(table)
        arrays, picks = [], []
        for col in cols:
            n += 1
            if _is_json(col):
                arrays.append(f"${n}::text[]")
                picks.append(f"u.{col.key}::json")
            else:
                arrays.append(f"${n}::{col.type.compile(dialect=_DIALECT)}[]")
                picks.append(f"u.{col.key}")
        names = ", ".join(c.key for c in cols)
        parts.append(
            f"w{i} AS (INSERT INTO {table.name} ({names}) "
            f"SELECT {', '.join(picks)} FROM unnest({', '.join(arrays)}) AS u({names}))"
        )
    return "WITH " + ",\n".join(parts) + "\nSELECT 1"


SQL = _sql()
"""The statement; its parameters are, table by table and column by column, one array each."""


def _json(value: Any) -> str:
    # Like SQLAlchemy's JSON type (none_as_null=False): Python None is stored as JSON null.
    return orjson.dumps(value).decode()


_PLAN: tuple[tuple[str, tuple[tuple[str, bool], ...]], ...] = tuple(
    (table.name, tuple((col.key, _is_json(col)) for col in _columns(table))) for table in TABLES
)
"""Per table, in parameter order: each column's key and whether it is JSON."""


def parameters(rows: Mapping[str, Sequence[dict[str, Any]]]) -> list[list[Any]]:
    """The statement's arguments from each table's rows (by table name; a missing table has none)."""
    args: list[list[Any]] = []
    for name, columns in _PLAN:
        values = rows.get(name, ())
        for key, is_json in columns:
            args.append([_json(r[key]) for r in values] if is_json else [r[key] for r in values])
    return args


__all__ = ["SQL", "TABLES", "parameters"]
