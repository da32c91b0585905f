"""What every change of a case records: the history, the outbox event when the state changed, the
message to the applicant; and the tasks a stage opens."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, NotRequired, TypedDict, Unpack

from libs.domain.kernel.calendar import OfficialCalendar
from libs.domain.permits.clock import Clock, stage_offsets
from libs.domain.permits.states import TaskState
from services.permits.cases.deadlines import as_stop, shares
from services.permits.cases.drafts import AnyCase, NewTask
from services.permits.cases.repository import CaseRepository
from services.permits.shared import new_id
from services.permits.tables import ClockStop
from services.permits.tables import Message as MessageRow
from services.permits.tables import OutboxEvent as EventRow
from services.permits.tables import Transition as TransitionRow

Rows = list[tuple[Any, list[dict[str, Any]]]]
"""(table, rows) to insert, in order."""


def open_stage(
    case: AnyCase,
    stage: int,
    stops: Sequence[ClockStop],
    cal: OfficialCalendar,
    today: date,
    now: datetime,
) -> list[NewTask]:
    """The tasks of every department of ``stage``, due at the stage's share of the limit, to insert."""
    assert case.accepted_on is not None
    spec = case.item_snapshot["stages"][stage - 1]
    offset = stage_offsets(case.limit_days, shares(case))[stage - 1]
    clock = Clock(cal, [as_stop(s) for s in stops])
    due, provisional = clock.deadline(case.accepted_on, offset, as_of=max(today, case.accepted_on))
    return [
        NewTask(
            id=new_id(),
            application_id=case.id,
            zone=case.zone,
            department=dept,
            stage=stage,
            state=TaskState.OPEN.value,
            version=1,
            opened_on=today,
            offset_days=offset,
            deadline=due,
            provisional=provisional,
            reasons=[],
            updated_at=now,
        )
        for dept in sorted(spec["departments"])  # the order the case is read in
    ]


def task_rows(tasks: Sequence[NewTask]) -> tuple[Any, list[dict[str, Any]]]:
    """New tasks as (table, rows) to insert."""
    return (NewTask.table, [t.values() for t in tasks])


def _event(case: AnyCase, from_state: str | None, to_state: str, now: datetime, **extra: Any) -> dict[str, Any]:
    """The outbox row announcing a change of the case's state."""
    event_id = new_id()
    payload = {
        "event_id": event_id,
        "type": "application.state_changed",
        "occurred_at": now.isoformat(),
        "application": case.id,
        "zone_id": case.zone,
        "item": case.item_id,
        "from_state": from_state,
        "to_state": to_state,
        **extra,
    }
    return {
        "id": event_id,
        "application_id": case.id,
        "zone": case.zone,
        "applicant_sub": case.applicant_sub,
        "type": "application.state_changed",
        "payload": payload,
        "created_at": now,
        "fanned_out_at": None,
    }


class Change(TypedDict):
    """One change of a case, as :func:`record` and :meth:`Records.add` take it."""

    action: str
    from_state: str | None
    actor: str
    now: datetime
    note: NotRequired[str | None]
    task: NotRequired[str | None]
    message: NotRequired[tuple[str, str, list[dict[str, Any]]] | None]
    event_extra: NotRequired[dict[str, Any] | None]


@dataclass
class Records:
    """Rows to append for one or more changes of a case (history, outbox, messages), in order."""

    transitions: list[dict[str, Any]] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    messages: list[dict[str, Any]] = field(default_factory=list)

    def add(self, case: AnyCase, **change: Unpack[Change]) -> None:
        """The transition; the outbox event when the state changed; a message to the applicant."""
        now = change["now"]
        from_state = change["from_state"]
        self.transitions.append(
            {
                "application_id": case.id,
                "task_id": change.get("task"),
                "action": change["action"],
                "from_state": from_state,
                "to_state": case.state,
                "actor": change["actor"],
                "at": now,
                "note": change.get("note"),
            }
        )
        if from_state != case.state:
            self.events.append(_event(case, from_state, case.state, now, **(change.get("event_extra") or {})))
        message = change.get("message")
        if message is not None:
            kind, body, items = message
            self.messages.append({"application_id": case.id, "kind": kind, "body": body, "items": items, "at": now})
        case.updated_at = now

    def tables(self) -> Rows:
        """(table, rows) to insert, in this order."""
        return [
            (TransitionRow.__table__, self.transitions),
            (EventRow.__table__, self.events),
            (MessageRow.__table__, self.messages),
        ]


async def record(
    repo: CaseRepository,
    case: AnyCase,
    *,
    new_rows: Sequence[tuple[Any, list[dict[str, Any]]]] = (),
    **change: Unpack[Change],
) -> None:
    """Append the transition; the outbox event when the state changed; a message to the applicant.

    The case's changes are flushed first, then ``new_rows`` (e.g. the next stage's tasks) and the
    records are inserted together (:meth:`CaseRepository.insert_rows`, no read-back)."""
    records = Records()
    records.add(case, **change)
    await repo.flush()
    await repo.insert_rows([*new_rows, *records.tables()])
