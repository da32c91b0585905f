"""The commands of the review use cases: what a department does to which task, at which version."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, TypeVar

from libs.domain.permits.contracts import SupplementNotice, TaskApprove, TaskReject

Body = TypeVar("Body")


@dataclass(frozen=True, slots=True)
class TaskCommand(Generic[Body]):
    """A change of the task ``task_id`` asked with ``body``; ``if_match`` is the ETag it was read at."""

    task_id: str
    body: Body
    if_match: str | None = None


@dataclass(frozen=True, slots=True)
class ApproveTask(TaskCommand[TaskApprove]):
    """Approve a department's part."""


@dataclass(frozen=True, slots=True)
class RejectTask(TaskCommand[TaskReject]):
    """Refuse: the case goes to the window for a refusal decision."""


@dataclass(frozen=True, slots=True)
class TaskRequestsSupplements(TaskCommand[SupplementNotice]):
    """Ask the applicant for supplements during review: the case's clock stops."""


@dataclass(frozen=True, slots=True)
class ListTasks:
    """The tasks matching the filters, after the cursor ``after`` (a task id)."""

    zone: str | None
    department: str | None
    state: str | None
    after: str | None
    limit: int
