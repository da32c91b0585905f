"""Rows not stored yet, as named records: a new case, its materials and the tasks a stage opens.

The intake and every stage that opens build these instead of ORM objects: they are read for the
answer (:mod:`services.permits.cases.documents` takes either) and inserted by their values
(:meth:`NewCase.values`), without the ORM's bookkeeping, which cost a good part of the intake's
time. Their fields are the table's columns (an autoincrement key aside), held so by
``tests/unit/test_permits_drafts.py``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields
from datetime import date, datetime
from operator import attrgetter
from typing import Any, ClassVar

from sqlalchemy import Table

from services.permits.tables import Application, ApplicationMaterial, Task


def _values_of(cls: type[Any]) -> Callable[[Any], dict[str, Any]]:
    """A record's column values as a dict, every field read in one call."""
    keys = tuple(f.name for f in fields(cls))
    read = attrgetter(*keys)
    return lambda record: dict(zip(keys, read(record), strict=True))


@dataclass(slots=True)
class NewCase:
    """An ``application`` row to insert."""

    table: ClassVar[Table] = Application.__table__  # type: ignore[assignment]

    id: str
    zone: str
    item_id: str
    item_code: str
    item_name: str
    item_snapshot: dict[str, Any]
    project_name: str
    applicant_sub: str | None
    applicant: dict[str, Any]
    land_use: dict[str, Any] | None
    findings: list[Any]
    pending_materials: list[Any]
    state: str
    version: int
    stage: int | None
    proposed_outcome: str | None
    refusal_reasons: list[Any]
    submitted_at: datetime
    submitted_on: date
    accepted_on: date | None
    limit_days: int
    extension_days: int
    deadline: date | None
    provisional: bool
    finished_on: date | None
    created_by: str
    updated_at: datetime

    def values(self) -> dict[str, Any]:
        """The row's column values."""
        return _case_values(self)


@dataclass(slots=True)
class NewMaterial:
    """An ``application_material`` row to insert (its key is the database's)."""

    table: ClassVar[Table] = ApplicationMaterial.__table__  # type: ignore[assignment]

    application_id: str
    code: str
    file_id: str
    sha256: str
    size_bytes: int
    filename: str
    round: int
    supplied_at: datetime

    def values(self) -> dict[str, Any]:
        """The row's column values."""
        return _material_values(self)


@dataclass(slots=True)
class NewTask:
    """A ``task`` row to insert."""

    table: ClassVar[Table] = Task.__table__  # type: ignore[assignment]

    id: str
    application_id: str
    zone: str
    department: str
    stage: int
    state: str
    version: int
    opened_on: date
    offset_days: int
    deadline: date
    provisional: bool
    reasons: list[Any]
    updated_at: datetime
    completed_on: date | None = None
    completed_at: datetime | None = None
    completed_by: str | None = None
    note: str | None = None

    def values(self) -> dict[str, Any]:
        """The row's column values."""
        return _task_values(self)


_case_values = _values_of(NewCase)
_material_values = _values_of(NewMaterial)
_task_values = _values_of(NewTask)

AnyCase = Application | NewCase
"""A case as the read model and the clock take it: stored, or about to be."""

AnyTask = Task | NewTask
"""A task, stored or about to be."""

AnyMaterial = ApplicationMaterial | NewMaterial
"""A material on file, stored or about to be."""
