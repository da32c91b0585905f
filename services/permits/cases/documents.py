"""The case read model: a case (and its tasks) as a reader may see it, with the clock on a day.

The read model is built as the plain dict of an :class:`ApplicationRead` in JSON mode (dates and
datetimes left as such, for the serialiser), not as pydantic models: building and dumping the
nested models cost about a third of the window's intake, which answers with this document as it
is (:func:`dump_document`). The routes that return an :class:`ApplicationRead` validate it
(:func:`case_read`). ``tests/permits/test_case_document.py`` holds the dict to the model, field
for field and byte for byte, for cases in every state."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import orjson
from sqlalchemy.ext.asyncio import AsyncSession

from libs.domain.kernel.calendar import OfficialCalendar
from libs.domain.kernel.contracts import Actor
from libs.domain.kernel.i18n import current_lang
from libs.domain.kernel.values import Role
from libs.domain.permits.clock import DUE_SOON_DAYS, Clock, ClockState, Reading, Timeliness
from libs.domain.permits.contracts import ApplicationRead, TaskRead
from libs.domain.permits.land import finding_text
from libs.domain.permits.states import (
    CaseAction,
    CaseState,
    TaskState,
    allowed_actions,
    allowed_task_actions,
    case_action_names,
    task_action_names,
)
from services.permits.calendar.service import calendar
from services.permits.cases.deadlines import as_stop
from services.permits.cases.drafts import AnyCase, AnyMaterial, AnyTask
from services.permits.cases.repository import CaseRepository
from services.permits.shared import is_city, staff_view
from services.permits.tables import Application, ClockStop
from services.permits.tables import Decision as DecisionRow
from services.permits.tables import Rating as RatingRow
from services.permits.tables import Rectification as RectRow


@dataclass(slots=True)
class Bundle:
    """Everything the read model needs about some cases besides their rows, by case id."""

    tasks: Mapping[str, Sequence[AnyTask]]
    stops: Mapping[str, Sequence[ClockStop]]
    materials: Mapping[str, Sequence[AnyMaterial]]
    decisions: Mapping[str, DecisionRow]
    ratings: Mapping[str, RatingRow]
    rects: Mapping[str, RectRow]


async def bundle(repo: CaseRepository, cases: Sequence[Application]) -> Bundle:
    """Everything the read model needs about ``cases``, querying only what their states can have:
    tasks and stops exist once a case is accepted; decisions, ratings and rectifications once decided."""
    ids = [c.id for c in cases]
    accepted = [c.id for c in cases if c.accepted_on is not None]
    decided = [c.id for c in cases if c.state == CaseState.DECIDED]
    return Bundle(
        tasks=await repo.tasks(accepted) if accepted else {},
        stops=await repo.stops(accepted) if accepted else {},
        materials=await repo.materials(ids),
        decisions=await repo.decisions(decided),
        ratings=await repo.ratings(decided),
        rects=await repo.rectifications_of(decided),
    )


def task_document(task: AnyTask, case: AnyCase, clock: Clock, today: date, *, case_state: str) -> dict[str, Any]:
    """A task as staff read it, with its clock on ``today``: a :class:`TaskRead` as a plain dict."""
    assert case.accepted_on is not None
    end = task.completed_on
    as_of = min(today, end) if end else today
    as_of = max(as_of, task.opened_on)
    used = clock.counted_between(task.opened_on, as_of, as_of=as_of)
    left = clock.counted_between(as_of, task.deadline, as_of=as_of)
    if as_of > task.deadline:
        timeliness = Timeliness.OVERDUE
    elif end is not None or left > DUE_SOON_DAYS:
        timeliness = Timeliness.ON_TRACK
    else:
        timeliness = Timeliness.DUE_SOON
    reviewing = case_state == CaseState.IN_REVIEW
    actions = task_action_names(allowed_task_actions(TaskState(task.state))) if reviewing else []
    return {
        "id": task.id,
        "application": case.id,
        "zone_id": task.zone,
        "department": task.department,
        "stage": task.stage,
        "state": task.state,
        "version": task.version,
        "opened_on": task.opened_on,
        "deadline": task.deadline,
        "provisional": task.provisional,
        "working_days_used": used,
        "working_days_left": left,
        "timeliness": timeliness.value,
        "completed_on": task.completed_on,
        "note": task.note,
        "reasons": list(task.reasons or []),
        "allowed_actions": actions,
    }


def task_read(task: AnyTask, case: AnyCase, clock: Clock, today: date, *, case_state: str) -> TaskRead:
    """A task as staff read it, with its clock on ``today``."""
    return TaskRead.model_validate(task_document(task, case, clock, today, case_state=case_state))


def material_names(case: AnyCase) -> dict[str, str]:
    """The names of the case's item's materials, by code."""
    return {m["code"]: m["name"] for m in case.item_snapshot.get("materials", [])}


def _applicant(stored: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": stored.get("id"),
        "name": stored["name"],
        "credit_code": stored.get("credit_code"),
        "contact": stored.get("contact"),
    }


def _visible_tasks(case: AnyCase, tasks: Sequence[AnyTask], actor: Actor | None, staff: bool) -> Sequence[AnyTask]:
    """The tasks ``actor`` reads: none for an applicant, their department's for a reviewer."""
    if not staff or case.accepted_on is None:
        return []
    if (
        actor is not None
        and not is_city(actor)
        and not (actor.zone == case.zone and actor.has(Role.WINDOW_CLERK, Role.BUREAU_ADMIN))
    ):
        return [t for t in tasks if t.department == actor.department]
    return tasks


def _case_actions(case: AnyCase, rating: RatingRow | None) -> list[str]:
    """What may be done to the case next (an extension and a rating only once)."""
    actions = allowed_actions(CaseState(case.state))
    if case.extension_days:
        actions = [a for a in actions if a != CaseAction.EXTEND]
    if rating is not None:
        actions = [a for a in actions if a != CaseAction.RATE]
    if case.state == CaseState.DECIDED and case.finished_on is None:  # pragma: no cover - defensive
        actions = []
    return case_action_names(actions)


def _outcome(case: AnyCase, b: Bundle) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """The decision and the rating parts of a decided case's document."""
    decision = b.decisions.get(case.id)
    rating = b.ratings.get(case.id)
    rect = b.rects.get(case.id)
    decided = (
        {
            "outcome": decision.outcome,
            "document_number": decision.document_number,
            "seal": decision.seal,
            "issued_on": decision.issued_on,
            "issued_at": decision.issued_at,
            "reasons": list(decision.reasons),
        }
        if decision
        else None
    )
    rated = (
        {
            "score": rating.score,
            "comment": rating.comment,
            "rated_at": rating.rated_at,
            "rectification": rect.id if rect else None,
        }
        if rating
        else None
    )
    return decided, rated


def _materials(case: AnyCase, b: Bundle) -> list[dict[str, Any]]:
    names = material_names(case)
    return [
        {
            "code": m.code,
            "name": names.get(m.code),
            "file_id": m.file_id,
            "sha256": m.sha256,
            "size_bytes": m.size_bytes,
            "filename": m.filename,
            "supplied_at": m.supplied_at,
            "round": m.round,
        }
        for m in b.materials.get(case.id, [])
    ]


def case_document(case: AnyCase, b: Bundle, cal: OfficialCalendar, today: date, actor: Actor | None) -> dict[str, Any]:
    """A case as ``actor`` may read it (``None``: as staff), with its clock on ``today``, as the
    plain dict of an :class:`ApplicationRead` (see the module docstring)."""
    clock = Clock(cal, [as_stop(s) for s in b.stops.get(case.id, [])])
    reading: Reading | None = None
    if case.accepted_on is not None:
        reading = clock.read(start=case.accepted_on, limit=case.limit_days, as_of=today, finished_on=case.finished_on)
    staff = actor is None or staff_view(actor, case)
    visible_tasks = _visible_tasks(case, b.tasks.get(case.id, []), actor, staff)
    decision, rating = _outcome(case, b)
    if reading is not None:
        clock_state = reading.state.value
    else:
        clock_state = (ClockState.NOT_STARTED if case.state != CaseState.DECLINED else ClockState.FINISHED).value
    return {
        "id": case.id,
        "zone_id": case.zone,
        "item": {"id": case.item_id, "code": case.item_code, "name": case.item_name},
        "project_name": case.project_name,
        "applicant": _applicant(case.applicant),
        "state": case.state,
        "version": case.version,
        "submitted_at": case.submitted_at,
        "accepted_on": case.accepted_on,
        "limit_days": case.limit_days,
        "extension_days": case.extension_days,
        "deadline": reading.deadline if reading else None,
        "provisional": reading.provisional if reading else False,
        "working_days_used": reading.used if reading else 0,
        "working_days_left": reading.left if reading else None,
        "days_stopped": reading.stopped_days if reading else 0,
        "timeliness": reading.timeliness.value if reading else None,
        "clock": clock_state,
        "stage": case.stage,
        "stages": len(case.item_snapshot["stages"]),
        "tasks": [task_document(t, case, clock, today, case_state=case.state) for t in visible_tasks],
        "materials": _materials(case, b),
        "pending_materials": [
            {"code": p["code"], "commitment": p["commitment"], "due_on": p.get("due_on")}
            for p in case.pending_materials
        ],
        "findings": [_finding(f) for f in case.findings] if staff else [],
        "decision": decision,
        "rating": rating,
        "allowed_actions": _case_actions(case, b.ratings.get(case.id)),
    }


def _finding(stored: dict[str, Any]) -> dict[str, Any]:
    """A stored finding, its message in the request's language (stored: the English)."""
    finding = {k: stored[k] for k in ("code", "field", "submitted", "required", "message")}
    text = finding_text(stored["code"], stored["submitted"])
    if text is not None:
        finding["message"] = text.render(current_lang())
    return finding


def dump_document(document: dict[str, Any]) -> bytes:
    """A document of :func:`case_document` as JSON, as pydantic writes the model (UTC as ``Z``)."""
    return orjson.dumps(document, option=orjson.OPT_UTC_Z)


def case_read(case: AnyCase, b: Bundle, cal: OfficialCalendar, today: date, actor: Actor | None) -> ApplicationRead:
    """:func:`case_document` validated as the contract."""
    return ApplicationRead.model_validate(case_document(case, b, cal, today, actor))


async def calendar_for(
    session: AsyncSession, official: OfficialCalendar, cases: Sequence[Application]
) -> OfficialCalendar:
    """The calendar with the bureau's changes when a clock has to be read (only accepted cases have one)."""
    if any(c.accepted_on is not None for c in cases):
        return await calendar(session=session, official=official)
    return official


async def read_document(
    repo: CaseRepository, official: OfficialCalendar, case: Application, today: date, actor: Actor | None
) -> dict[str, Any]:
    """A stored case's document, read fresh."""
    cal = await calendar_for(repo.session, official, [case])
    return case_document(case, await bundle(repo, [case]), cal, today, actor)


async def read_one(
    repo: CaseRepository, official: OfficialCalendar, case: Application, today: date, actor: Actor | None
) -> ApplicationRead:
    """A stored case, read fresh, as the contract."""
    return ApplicationRead.model_validate(await read_document(repo, official, case, today, actor))
