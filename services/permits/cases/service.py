"""The case use cases: intake (受理), supplements, special procedures, extension, the decision, ratings,
and the read model every reader gets (the applicant's consolidated view or the staff's).

Every change to a case takes its row lock first (``CaseRepository.lock``), checks ``If-Match``
against the case's version, checks the state machine (409 naming the state and the allowed
actions), changes the rows, records the transition and, when the case's state changed, writes
the outbox event in the same transaction."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import partial
from typing import Any, NotRequired, TypedDict, Unpack

import orjson
from sqlalchemy.ext.asyncio import AsyncSession

from libs.domain.kernel.calendar import OfficialCalendar
from libs.domain.kernel.contracts import Actor
from libs.domain.kernel.errors import (
    Conflict,
    Forbidden,
    NotFound,
    Unprocessable,
)
from libs.domain.kernel.values import Role
from libs.domain.permits.clock import DUE_SOON_DAYS, Clock, ClockState, Reading, Timeliness, stage_offsets
from libs.domain.permits.contracts import (
    AcceptCreate,
    ApplicationCreate,
    ApplicationRead,
    ClockStopRead,
    DecisionCreate,
    DeclineCreate,
    ExtensionCreate,
    MaterialSupplied,
    MessageRead,
    RatingCreate,
    RatingRead,
    SpecialProcedureCreate,
    SpecialProcedureEnd,
    SupplementNotice,
    SupplementsCreate,
    TaskRead,
    TransitionRead,
)
from libs.domain.permits.docnum import document_number
from libs.domain.permits.land import LandUse, check_land_use
from libs.domain.permits.states import (
    CaseAction,
    CaseState,
    Outcome,
    TaskState,
    allowed_actions,
    allowed_task_actions,
    next_case_state,
)
from services.permits.cache import ReadCache
from services.permits.calendar.service import (
    RECTIFICATION_DAYS,
    as_stop,
    calendar,
    refresh_deadlines,
    shares,
)
from services.permits.cases.repository import CaseFilter, CaseRepository
from services.permits.cases.writer import IntakeWriter
from services.permits.catalog.repository import CatalogRepository
from services.permits.catalog.service import ZoneLookup, ensure_zone
from services.permits.files.repository import FileRepository
from services.permits.shared import (
    check_if_match,
    draft,
    is_city,
    new_id,
    require_zone_role,
    sees,
    staff_view,
    utcnow,
    visibility,
    zone_role,
)
from services.permits.tables import Application, ApplicationMaterial, ClockStop, MaterialFile
from services.permits.tables import Decision as DecisionRow
from services.permits.tables import Message as MessageRow
from services.permits.tables import OutboxEvent as EventRow
from services.permits.tables import Rating as RatingRow
from services.permits.tables import Rectification as RectRow
from services.permits.tables import Task as TaskRow
from services.permits.tables import Transition as TransitionRow

PROCEDURE_NAMES = {
    "hearing": "听证",
    "expert_review": "专家评审",
    "on_site_inspection": "现场勘验",
    "public_notice": "公示",
}


POOR_RATING = 2


def open_stage(
    case: Application,
    stage: int,
    stops: Sequence[ClockStop],
    cal: OfficialCalendar,
    today: date,
    now: datetime,
) -> list[TaskRow]:
    """The tasks of every department of ``stage``, due at the stage's share of the limit, as
    drafts to insert as values (:func:`row_values`)."""
    make: Any = partial(draft, TaskRow)
    assert case.accepted_on is not None
    spec = case.item_snapshot["stages"][stage - 1]
    offset = stage_offsets(case.limit_days, shares(case))[stage - 1]
    clock = Clock(cal, [as_stop(s) for s in stops])
    due, provisional = clock.deadline(case.accepted_on, offset, as_of=max(today, case.accepted_on))
    return [
        make(
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


def _event(case: Application, from_state: str | None, to_state: str, now: datetime, **extra: Any) -> dict[str, Any]:
    """The outbox row announcing a change of the case's state."""
    event_id = new_id()
    payload = {
        "event_id": event_id,
        "type": "application.state_changed",
        "occurred_at": now.isoformat(),
        "application": case.id,
        "zone": case.zone,
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

    def add(self, case: Application, **change: Unpack[Change]) -> None:
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

    def tables(self) -> list[tuple[Any, list[dict[str, Any]]]]:
        """(table, rows) to insert, in this order."""
        return [
            (TransitionRow.__table__, self.transitions),
            (EventRow.__table__, self.events),
            (MessageRow.__table__, self.messages),
        ]


async def record(
    repo: CaseRepository,
    case: Application,
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


@dataclass
class _Bundle:
    tasks: dict[str, list[TaskRow]]
    stops: dict[str, list[ClockStop]]
    materials: dict[str, list[ApplicationMaterial]]
    decisions: dict[str, DecisionRow]
    ratings: dict[str, RatingRow]
    rects: dict[str, RectRow]


async def _bundle(repo: CaseRepository, cases: Sequence[Application]) -> _Bundle:
    """Everything the read model needs about ``cases``, querying only what their states can have:
    tasks and stops exist once a case is accepted; decisions, ratings and rectifications once decided."""
    ids = [c.id for c in cases]
    accepted = [c.id for c in cases if c.accepted_on is not None]
    decided = [c.id for c in cases if c.state == CaseState.DECIDED]
    return _Bundle(
        tasks=await repo.tasks(accepted) if accepted else {},
        stops=await repo.stops(accepted) if accepted else {},
        materials=await repo.materials(ids),
        decisions=await repo.decisions(decided),
        ratings=await repo.ratings(decided),
        rects=await repo.rectifications_of(decided),
    )


def task_document(task: TaskRow, case: Application, clock: Clock, today: date, *, case_state: str) -> dict[str, Any]:
    """A task as staff read it, with its clock on ``today``: a :class:`TaskRead` as a plain dict
    (see :func:`case_document`)."""
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
    actions = [a.value for a in allowed_task_actions(TaskState(task.state))] if reviewing else []
    return {
        "id": task.id,
        "application": case.id,
        "zone": task.zone,
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


def task_read(task: TaskRow, case: Application, clock: Clock, today: date, *, case_state: str) -> TaskRead:
    """A task as staff read it, with its clock on ``today``."""
    return TaskRead.model_validate(task_document(task, case, clock, today, case_state=case_state))


def _material_names(case: Application) -> dict[str, str]:
    return {m["code"]: m["name"] for m in case.item_snapshot.get("materials", [])}


def _applicant(stored: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": stored.get("id"),
        "name": stored["name"],
        "credit_code": stored.get("credit_code"),
        "contact": stored.get("contact"),
    }


def case_document(
    case: Application, b: _Bundle, cal: OfficialCalendar, today: date, actor: Actor | None
) -> dict[str, Any]:
    """A case as ``actor`` may read it (``None``: as staff), with its clock on ``today``.

    The read model is built as the plain dict of an :class:`ApplicationRead` in JSON mode (dates
    and datetimes left as such, for the serialiser), not as pydantic models: building and dumping
    the nested models cost about a third of the window's intake, which answers with this document
    as it is (:func:`dump_document`). The routes that return an :class:`ApplicationRead` validate
    it (:func:`_case_read`). ``tests/permits/test_case_document.py`` holds the dict to the model,
    field for field and byte for byte, for cases in every state."""
    stops = b.stops.get(case.id, [])
    tasks = b.tasks.get(case.id, [])
    clock = Clock(cal, [as_stop(s) for s in stops])
    reading: Reading | None = None
    if case.accepted_on is not None:
        reading = clock.read(start=case.accepted_on, limit=case.limit_days, as_of=today, finished_on=case.finished_on)
    staff = actor is None or staff_view(actor, case)
    visible_tasks: list[TaskRow] = []
    if staff and case.accepted_on is not None:
        visible_tasks = tasks
        if (
            actor is not None
            and not is_city(actor)
            and not (actor.zone == case.zone and actor.has(Role.WINDOW_CLERK, Role.BUREAU_ADMIN))
        ):
            visible_tasks = [t for t in tasks if t.department == actor.department]
    names = _material_names(case)
    decision = b.decisions.get(case.id)
    rating = b.ratings.get(case.id)
    rect = b.rects.get(case.id)
    actions = [a.value for a in allowed_actions(CaseState(case.state))]
    if case.extension_days:
        actions = [a for a in actions if a != CaseAction.EXTEND]
    if rating is not None:
        actions = [a for a in actions if a != CaseAction.RATE]
    if case.state == CaseState.DECIDED and case.finished_on is None:  # pragma: no cover - defensive
        actions = []
    if reading is not None:
        clock_state = reading.state.value
    else:
        clock_state = (ClockState.NOT_STARTED if case.state != CaseState.DECLINED else ClockState.FINISHED).value
    return {
        "id": case.id,
        "zone": case.zone,
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
        "materials": [
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
        ],
        "pending_materials": [
            {"code": p["code"], "commitment": p["commitment"], "due_on": p.get("due_on")}
            for p in case.pending_materials
        ],
        "findings": [{k: f[k] for k in ("code", "field", "submitted", "required", "message")} for f in case.findings]
        if staff
        else [],
        "decision": {
            "outcome": decision.outcome,
            "document_number": decision.document_number,
            "seal": decision.seal,
            "issued_on": decision.issued_on,
            "issued_at": decision.issued_at,
            "reasons": list(decision.reasons),
        }
        if decision
        else None,
        "rating": {
            "score": rating.score,
            "comment": rating.comment,
            "rated_at": rating.rated_at,
            "rectification": rect.id if rect else None,
        }
        if rating
        else None,
        "allowed_actions": actions,
    }


def dump_document(document: dict[str, Any]) -> bytes:
    """A document of :func:`case_document` as JSON, as pydantic writes the model (UTC as ``Z``)."""
    return orjson.dumps(document, option=orjson.OPT_UTC_Z)


def _case_read(
    case: Application, b: _Bundle, cal: OfficialCalendar, today: date, actor: Actor | None
) -> ApplicationRead:
    return ApplicationRead.model_validate(case_document(case, b, cal, today, actor))


async def _calendar_for(
    session: AsyncSession, official: OfficialCalendar, cases: Sequence[Application]
) -> OfficialCalendar:
    """The calendar with the bureau's changes when a clock has to be read (only accepted cases have one)."""
    if any(c.accepted_on is not None for c in cases):
        return await calendar(session=session, official=official)
    return official


async def _read_document(
    session: AsyncSession, official: OfficialCalendar, case: Application, today: date, actor: Actor | None
) -> dict[str, Any]:
    repo = CaseRepository(session)
    cal = await _calendar_for(session, official, [case])
    return case_document(case, await _bundle(repo, [case]), cal, today, actor)


async def _read_one(
    session: AsyncSession, official: OfficialCalendar, case: Application, today: date, actor: Actor | None
) -> ApplicationRead:
    return ApplicationRead.model_validate(await _read_document(session, official, case, today, actor))


async def _locked_case(
    session: AsyncSession, actor: Actor, case_id: str, if_match: str | None, *, before_acceptance: bool = False
) -> tuple[CaseRepository, Application, list[TaskRow], list[ClockStop]]:
    """Lock the case, check visibility (404) and ``If-Match`` (412); return it with tasks and stops.

    ``before_acceptance`` skips loading tasks and stops for a case not yet accepted (it has none),
    which keeps intake to the fewest round trips.
    """
    repo = CaseRepository(session)
    case = await repo.lock(case_id)
    if case is None:
        raise NotFound(f"application {case_id} does not exist")
    empty = before_acceptance and case.accepted_on is None
    tasks = [] if empty else (await repo.tasks([case.id]))[case.id]
    if not sees(actor, case, tasks):
        raise NotFound(f"application {case_id} does not exist")
    check_if_match(if_match, case.version)
    stops = [] if empty else (await repo.stops([case.id]))[case.id]
    return repo, case, tasks, stops


async def _files_for(
    session: AsyncSession, actor: Actor, supplied: Sequence[MaterialSupplied], known: dict[str, str], where: str
) -> list[MaterialFile]:
    files = await FileRepository(session).many([m.file_id for m in supplied])
    faults: list[dict[str, Any]] = []
    out: list[MaterialFile] = []
    for i, m in enumerate(supplied):
        f = files.get(m.file_id)
        if m.code not in known:
            faults.append({"loc": ["body", where, i, "code"], "msg": "not a material of this item", "type": "unknown"})
        if f is None or (f.uploaded_by != actor.sub and not actor.has(Role.CITY_ADMIN, Role.WINDOW_CLERK)):
            faults.append({"loc": ["body", where, i, "file_id"], "msg": "no such uploaded file", "type": "unknown"})
            continue
        if m.sha256 is not None and m.sha256 != f.sha256:
            faults.append(
                {"loc": ["body", where, i, "sha256"], "msg": "does not match the stored file", "type": "hash_mismatch"}
            )
        out.append(f)
    if faults:
        raise Unprocessable("some materials cannot be taken", errors=faults)
    return out


def _material_rows(
    case_id: str,
    supplied: Sequence[MaterialSupplied],
    files: Sequence[MaterialFile],
    rnd: int,
    now: datetime,
    *,
    drafts: bool = False,
) -> list[ApplicationMaterial]:
    make: Any = partial(draft, ApplicationMaterial) if drafts else ApplicationMaterial
    return [
        make(
            application_id=case_id,
            code=m.code,
            file_id=f.id,
            sha256=f.sha256,
            size_bytes=f.size_bytes,
            filename=f.filename,
            round=rnd,
            supplied_at=now,
        )
        for m, f in zip(supplied, files, strict=True)
    ]


def _missing_mandatory(case: Application, materials: Sequence[ApplicationMaterial]) -> list[str]:
    supplied = {m.code for m in materials}
    return [m["code"] for m in case.item_snapshot.get("materials", []) if m["mandatory"] and m["code"] not in supplied]


_KEYS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {}


def row_values(row: object) -> dict[str, Any]:
    """The column values of a transient row (an autoincrement key left unset is left out)."""
    table = row.__table__  # type: ignore[attr-defined]
    keys = _KEYS.get(table.name)
    if keys is None:
        keys = _KEYS[table.name] = (
            tuple(col.key for col in table.columns),
            tuple(col.key for col in table.primary_key.columns),
        )
    held = row.__dict__  # a draft's or an ORM row's loaded attributes
    values = {key: held[key] if key in held else getattr(row, key) for key in keys[0]}
    for key in keys[1]:
        if values[key] is None:
            del values[key]
    return values


def acceptance_faults(
    case: Application, materials: Sequence[ApplicationMaterial], body: AcceptCreate
) -> list[dict[str, Any]]:
    """Why the case cannot be accepted as it stands (mandatory materials missing, 容缺 not allowed)."""
    missing = _missing_mandatory(case, materials)
    specs = {m["code"]: m for m in case.item_snapshot.get("materials", [])}
    faults: list[dict[str, Any]] = []
    if body.pending and not case.item_snapshot.get("accept_pending_minor"):
        faults.append({"loc": ["body", "pending"], "msg": "this item does not allow 容缺受理", "type": "not_allowed"})
    for i, p in enumerate(body.pending):
        spec = specs.get(p.code)
        if spec is None or not spec.get("minor"):
            faults.append({"loc": ["body", "pending", i, "code"], "msg": "not a minor material", "type": "not_minor"})
        elif p.code not in missing:
            faults.append({"loc": ["body", "pending", i, "code"], "msg": "already supplied", "type": "supplied"})
    pending_codes = {p.code for p in body.pending}
    still_missing = [c for c in missing if c not in pending_codes]
    if still_missing:
        faults.append(
            {
                "loc": ["body"],
                "msg": f"mandatory materials missing: {', '.join(still_missing)}; request supplements instead",
                "type": "materials_missing",
            }
        )
    return faults


def accept_case(
    case: Application,
    body: AcceptCreate,
    stops: Sequence[ClockStop],
    cal: OfficialCalendar,
    *,
    today: date,
    now: datetime,
    actor: str,
    records: Records,
) -> list[TaskRow]:
    """Accept a submitted case in memory: the clock starts today, the first stage's tasks open,
    the deadlines are computed; the transition, event and message go to ``records``."""
    target = next_case_state(CaseState(case.state), CaseAction.ACCEPT)
    before = case.state
    case.state, case.accepted_on, case.stage = target.value, today, 1
    case.pending_materials = [p.model_dump(mode="json") for p in body.pending]
    new_tasks = open_stage(case, 1, stops, cal, today, now)  # their deadlines are fresh
    refresh_deadlines(case, [], stops, cal, today)  # the case's deadline
    case.version += 1
    text = f"您的申请已受理，承诺办结时限为{case.limit_days}个工作日，办结期限 {case.deadline}。"
    if case.provisional:
        text += "（期限跨越官方日历尚未公布的年份，为暂定期限。）"
    records.add(
        case,
        action="accept",
        from_state=before,
        actor=actor,
        now=now,
        note=body.note,
        message=("accepted", text, [p.model_dump(mode="json") for p in body.pending]),
    )
    return new_tasks


async def create_application(
    *,
    session: AsyncSession,
    official: OfficialCalendar,
    cache: ReadCache,
    writer: IntakeWriter | None,
    registry: ZoneLookup,
    zone_cache: dict[str, float],
    actor: Actor,
    body: ApplicationCreate,
    idempotency_key: str | None,
    today: date,
) -> dict[str, Any]:
    """Receive an application (集中受理: every application enters at the bureau's one window),
    and with ``accept`` accept it on the spot (当场受理) in the same transaction.

    A retry with the same ``Idempotency-Key`` by the same caller answers the case made first.
    The rows are built in memory and written without read-back: on PostgreSQL by the app's
    :class:`~services.permits.cases.writer.IntakeWriter` (one statement, group commit), else with
    one statement per table in the request's transaction.

    The answer is the case's read model as a plain dict (:func:`case_document`).
    """
    repo = CaseRepository(session)
    if idempotency_key is not None:
        existing = await repo.by_idempotency_key(actor.sub, idempotency_key)
        if existing is not None:
            return await _read_document(session, official, existing, today, actor)
    applicant_only = Role.APPLICANT in actor.roles and not actor.has(Role.WINDOW_CLERK, Role.CITY_ADMIN)
    acceptance = body.acceptance()
    if acceptance is not None and applicant_only:
        raise Forbidden(
            "only the window accepts an application (当场受理 is for window clerks)",
            required_roles=sorted([Role.WINDOW_CLERK, Role.CITY_ADMIN]),
        )
    if not applicant_only:
        require_zone_role(actor, body.zone, Role.WINDOW_CLERK)
    item = await cache.item(session, body.item)
    if item is None:
        raise Unprocessable(
            f"item {body.item} does not exist",
            errors=[{"loc": ["body", "item"], "msg": "unknown item", "type": "unknown_item"}],
        )
    if item.zone != body.zone:
        raise Unprocessable(
            "the item is offered by another zone's bureau (园区事园内办结)",
            errors=[{"loc": ["body", "zone"], "msg": f"the item belongs to zone {item.zone}", "type": "zone_mismatch"}],
        )
    applicant = body.applicant.model_copy() if applicant_only else body.applicant
    if applicant_only:
        if applicant.id is not None and applicant.id != actor.sub:
            raise Unprocessable(
                "an applicant files for themselves only",
                errors=[{"loc": ["body", "applicant", "id"], "msg": "must be your own account", "type": "identity"}],
            )
        applicant.id = actor.sub
    land: dict[str, Any] | None = body.land_use.model_dump(mode="json") if body.land_use else None
    findings: list[dict[str, Any]] = []
    if item.land_use_check:
        if body.land_use is None:
            raise Unprocessable(
                "this item is about an industrial project: the land-use figures are required (十八)",
                errors=[{"loc": ["body", "land_use"], "msg": "required for this item", "type": "missing"}],
            )
        findings = [
            {
                "code": f.code,
                "field": f.field,
                "submitted": str(f.submitted),
                "required": f.required,
                "message": f.message,
            }
            for f in check_land_use(
                LandUse(
                    body.land_use.plot_ratio,
                    body.land_use.building_coverage_percent,
                    body.land_use.admin_living_share_percent,
                )
            )
        ]
    known = {m["code"]: m["name"] for m in item.materials}
    files = await _files_for(session, actor, body.materials, known, "materials") if body.materials else []
    await ensure_zone(registry=registry, cache=zone_cache, zone_id=body.zone, loc=["body", "zone"])
    now = utcnow()
    case = draft(
        Application,
        id=new_id(),
        zone=item.zone,
        item_id=item.id,
        item_code=item.code,
        item_name=item.name,
        item_snapshot=item.case_snapshot(),
        project_name=body.project_name,
        applicant_sub=applicant.id,
        applicant=applicant.model_dump(mode="json"),
        land_use=land,
        findings=findings,
        pending_materials=[],
        state=CaseState.SUBMITTED.value,
        version=1,
        stage=None,
        proposed_outcome=None,
        refusal_reasons=[],
        submitted_at=now,
        submitted_on=today,
        accepted_on=None,
        limit_days=item.promised_limit_days,
        extension_days=0,
        deadline=None,
        provisional=False,
        finished_on=None,
        created_by=actor.sub,
        idempotency_key=idempotency_key,
        updated_at=now,
    )
    materials = _material_rows(case.id, body.materials, files, 0, now, drafts=True)
    records = Records()
    records.add(case, action="submit", from_state=None, actor=actor.sub, now=now)
    tasks: list[TaskRow] = []
    cal = official
    if acceptance is not None:
        faults = acceptance_faults(case, materials, acceptance)
        if faults:
            raise Unprocessable("the application cannot be accepted as it stands", errors=faults)
        cal = await cache.calendar(session, official)
        tasks = accept_case(case, acceptance, [], cal, today=today, now=now, actor=actor.sub, records=records)
    # The answer is built before the write, so nothing can fail between the commit and the reply.
    bundle = _Bundle({case.id: tasks}, {case.id: []}, {case.id: materials}, {}, {}, {})
    answer = case_document(case, bundle, cal, today, actor)
    rows = [
        (ApplicationMaterial.__table__, [row_values(m) for m in materials]),
        (TaskRow.__table__, [row_values(t) for t in tasks]),
        *records.tables(),
    ]
    if writer is not None:  # PostgreSQL: group commit, one statement for all the concurrent intakes
        stored = await writer.write({Application.__tablename__: [row_values(case)], **{t.name: v for t, v in rows}})
    else:
        stored = await repo.insert_case(row_values(case), rows)
    if not stored:
        # A concurrent retry with the same Idempotency-Key won: answer the case it made.
        existing = await repo.by_idempotency_key(actor.sub, idempotency_key or "")
        if existing is None:
            raise Conflict("the application could not be stored; retry")
        return await _read_document(session, official, existing, today, actor)
    return answer


async def get_application(
    *, session: AsyncSession, official: OfficialCalendar, actor: Actor, case_id: str, today: date
) -> ApplicationRead:
    """One case, as the caller may see it (404 if they may not)."""
    repo = CaseRepository(session)
    case = await repo.get(case_id)
    if case is None:
        raise NotFound(f"application {case_id} does not exist")
    b = await _bundle(repo, [case])
    if not sees(actor, case, b.tasks.get(case.id, [])):
        raise NotFound(f"application {case_id} does not exist")
    cal = await _calendar_for(session, official, [case])
    return _case_read(case, b, cal, today, actor)


async def list_applications(
    *,
    session: AsyncSession,
    official: OfficialCalendar,
    actor: Actor,
    filters: CaseFilter,
    after: tuple[str, str] | None,
    limit: int,
    today: date,
) -> tuple[list[ApplicationRead], tuple[str, str] | None]:
    """The cases the caller may see, oldest first; the second value is the next cursor."""
    repo = CaseRepository(session)
    rows = await repo.list_cases(visibility=visibility(actor), filters=filters, after=after, limit=limit + 1)
    more = len(rows) > limit
    rows = rows[:limit]
    b = await _bundle(repo, rows)
    cal = await _calendar_for(session, official, rows)
    items = [_case_read(r, b, cal, today, actor) for r in rows]
    cursor = (rows[-1].submitted_at.isoformat(), rows[-1].id) if more else None
    return items, cursor


async def accept(
    *,
    session: AsyncSession,
    official: OfficialCalendar,
    cache: ReadCache,
    actor: Actor,
    case_id: str,
    body: AcceptCreate,
    if_match: str | None,
    today: date,
) -> ApplicationRead:
    """Accept (受理): the clock starts; the first stage's departments get their tasks."""
    repo, case, _tasks, stops = await _locked_case(session, actor, case_id, if_match, before_acceptance=True)
    require_zone_role(actor, case.zone, Role.WINDOW_CLERK)
    next_case_state(CaseState(case.state), CaseAction.ACCEPT)
    materials = (await repo.materials([case.id]))[case.id]
    faults = acceptance_faults(case, materials, body)
    if faults:
        raise Unprocessable("the application cannot be accepted as it stands", errors=faults)
    now = utcnow()
    cal = await cache.calendar(session, official)
    records = Records()
    new_tasks = accept_case(case, body, stops, cal, today=today, now=now, actor=actor.sub, records=records)
    await repo.flush()  # the case's new state, in one UPDATE
    await repo.insert_rows([(TaskRow.__table__, [row_values(t) for t in new_tasks]), *records.tables()])
    b = _Bundle({case.id: new_tasks}, {case.id: stops}, {case.id: materials}, {}, {}, {})
    return _case_read(case, b, cal, today, actor)


async def request_intake_supplements(
    *,
    session: AsyncSession,
    official: OfficialCalendar,
    actor: Actor,
    case_id: str,
    body: SupplementNotice,
    if_match: str | None,
    today: date,
) -> ApplicationRead:
    """One notice listing everything missing or defective at once (一次性告知); the clock has not started."""
    repo, case, _tasks, _stops = await _locked_case(session, actor, case_id, if_match)
    require_zone_role(actor, case.zone, Role.WINDOW_CLERK)
    target = next_case_state(CaseState(case.state), CaseAction.REQUEST_SUPPLEMENTS)
    materials = (await repo.materials([case.id]))[case.id]
    check_notice(case, body, "items")
    listed = {i.code for i in body.items}
    unlisted = [c for c in _missing_mandatory(case, materials) if c not in listed]
    if unlisted:
        raise Unprocessable(
            "the notice must list everything missing at once (一次性告知)",
            errors=[
                {"loc": ["body", "items"], "msg": f"missing material {c} is not listed", "type": "incomplete_notice"}
                for c in unlisted
            ],
        )
    before = case.state
    case.state = target.value
    case.version += 1
    now = utcnow()
    await record(
        repo,
        case,
        action="request_supplements",
        from_state=before,
        actor=actor.sub,
        now=now,
        note=body.note,
        message=(
            "supplements_requested",
            body.note or "请一次性补正以下材料。",
            [i.model_dump(mode="json") for i in body.items],
        ),
    )
    return await _read_one(session, official, case, today, actor)


def check_notice(case: Application, body: SupplementNotice, where: str) -> None:
    """422 unless every item of a supplement notice names a material of the case's item (or `other`)."""
    known = set(_material_names(case)) | {"other"}
    faults = [
        {"loc": ["body", where, i, "code"], "msg": "not a material of this item (or `other`)", "type": "unknown"}
        for i, item in enumerate(body.items)
        if item.code not in known
    ]
    if faults:
        raise Unprocessable("the notice names unknown materials", errors=faults)


async def decline(
    *,
    session: AsyncSession,
    official: OfficialCalendar,
    actor: Actor,
    case_id: str,
    body: DeclineCreate,
    if_match: str | None,
    today: date,
) -> ApplicationRead:
    """Decline as out of scope (不予受理), with reasons the applicant sees."""
    repo, case, _tasks, _stops = await _locked_case(session, actor, case_id, if_match)
    require_zone_role(actor, case.zone, Role.WINDOW_CLERK)
    target = next_case_state(CaseState(case.state), CaseAction.DECLINE)
    before = case.state
    case.state, case.finished_on = target.value, today
    case.version += 1
    now = utcnow()
    await record(
        repo,
        case,
        action="decline",
        from_state=before,
        actor=actor.sub,
        now=now,
        note="; ".join(body.reasons),
        message=("declined", "您的申请不予受理。", [{"reason": r} for r in body.reasons]),
    )
    return await _read_one(session, official, case, today, actor)


async def supplement(
    *,
    session: AsyncSession,
    official: OfficialCalendar,
    actor: Actor,
    case_id: str,
    body: SupplementsCreate,
    if_match: str | None,
    today: date,
) -> ApplicationRead:
    """The applicant answers a supplement notice; during review the clock restarts where it stopped."""
    repo, case, tasks, stops = await _locked_case(session, actor, case_id, if_match)
    is_owner = case.applicant_sub is not None and case.applicant_sub == actor.sub
    if not is_owner and not zone_role(actor, case.zone, Role.WINDOW_CLERK):
        raise Forbidden("only the applicant (or the window on their behalf) hands in supplements")
    target = next_case_state(CaseState(case.state), CaseAction.SUPPLEMENT)
    files = await _files_for(session, actor, body.materials, _material_names(case), "materials")
    now = utcnow()
    materials = (await repo.materials([case.id]))[case.id]
    rnd = max((m.round for m in materials), default=0) + 1
    await repo.add(*_material_rows(case.id, body.materials, files, rnd, now))
    before = case.state
    case.state = target.value
    cal = await calendar(session=session, official=official)
    if target == CaseState.IN_REVIEW:
        for s in stops:
            if s.kind == "supplements" and s.ended_on is None:
                s.ended_on, s.ended_by = today, actor.sub
        refresh_deadlines(case, tasks, stops, cal, today)
    case.version += 1
    await record(
        repo,
        case,
        action="supplement",
        from_state=before,
        actor=actor.sub,
        now=now,
        note=body.note,
        message=("supplements_received", "补正材料已收到。", []),
    )
    return _case_read(case, await _bundle(repo, [case]), cal, today, actor)


async def start_special_procedure(
    *,
    session: AsyncSession,
    official: OfficialCalendar,
    actor: Actor,
    case_id: str,
    body: SpecialProcedureCreate,
    if_match: str | None,
    today: date,
) -> ClockStopRead:
    """Start a special procedure (hearing, expert review, inspection, public notice): the clock stops."""
    repo, case, _tasks, _stops = await _locked_case(session, actor, case_id, if_match)
    require_zone_role(actor, case.zone, Role.BUREAU_ADMIN)
    target = next_case_state(CaseState(case.state), CaseAction.START_SPECIAL_PROCEDURE)
    stop = ClockStop(
        application_id=case.id,
        kind="special_procedure",
        procedure=body.kind,
        reason=body.reason,
        started_on=today,
        started_by=actor.sub,
    )
    await repo.add(stop)
    before = case.state
    case.state = target.value
    case.version += 1
    now = utcnow()
    await record(
        repo,
        case,
        action=f"start_{body.kind}",
        from_state=before,
        actor=actor.sub,
        now=now,
        note=body.reason,
        message=(
            "special_procedure",
            f"您的申请进入特别程序（{PROCEDURE_NAMES[body.kind]}），所需时间不计入办理时限。",
            [{"procedure": body.kind, "reason": body.reason}],
        ),
    )
    return _stop_read(stop)


def _stop_read(s: ClockStop) -> ClockStopRead:
    return ClockStopRead(
        id=s.id,
        kind=s.kind,
        procedure=s.procedure,
        reason=s.reason,
        started_on=s.started_on,
        ended_on=s.ended_on,
    )


async def end_special_procedure(
    *,
    session: AsyncSession,
    official: OfficialCalendar,
    actor: Actor,
    case_id: str,
    procedure_id: int,
    body: SpecialProcedureEnd,
    if_match: str | None,
    today: date,
) -> ApplicationRead:
    """End a special procedure: the clock runs again from where it stopped."""
    repo, case, tasks, stops = await _locked_case(session, actor, case_id, if_match)
    require_zone_role(actor, case.zone, Role.BUREAU_ADMIN)
    stop = next((s for s in stops if s.id == procedure_id and s.kind == "special_procedure"), None)
    if stop is None:
        raise NotFound(f"application {case_id} has no special procedure {procedure_id}")
    if stop.ended_on is not None:
        raise Conflict(f"special procedure {procedure_id} ended on {stop.ended_on}", state=case.state)
    target = next_case_state(CaseState(case.state), CaseAction.END_SPECIAL_PROCEDURE)
    stop.ended_on, stop.ended_by = today, actor.sub
    before = case.state
    case.state = target.value
    cal = await calendar(session=session, official=official)
    refresh_deadlines(case, tasks, stops, cal, today)
    case.version += 1
    now = utcnow()
    await record(
        repo,
        case,
        action=f"end_{stop.procedure}",
        from_state=before,
        actor=actor.sub,
        now=now,
        note=body.note,
        message=("special_procedure_ended", "特别程序已结束，办理时限继续计算。", []),
    )
    return _case_read(case, await _bundle(repo, [case]), cal, today, actor)


async def list_procedures(*, session: AsyncSession, actor: Actor, case_id: str) -> list[ClockStopRead]:
    """Every clock stop of a case (staff only)."""
    repo = CaseRepository(session)
    case = await repo.get(case_id)
    tasks = (await repo.tasks([case_id]))[case_id] if case else []
    if case is None or not sees(actor, case, tasks) or not staff_view(actor, case):
        raise NotFound(f"application {case_id} does not exist")
    return [_stop_read(s) for s in (await repo.stops([case_id]))[case_id]]


async def extend(
    *,
    session: AsyncSession,
    official: OfficialCalendar,
    actor: Actor,
    case_id: str,
    body: ExtensionCreate,
    if_match: str | None,
    today: date,
) -> ApplicationRead:
    """Grant the one extension a case may get (up to the item's statutory maximum), with a reason."""
    repo, case, tasks, stops = await _locked_case(session, actor, case_id, if_match)
    require_zone_role(actor, case.zone, Role.BUREAU_ADMIN)
    next_case_state(CaseState(case.state), CaseAction.EXTEND)
    if case.extension_days:
        raise Conflict(
            f"application {case_id} was already extended by {case.extension_days} working days; one extension only",
            state=case.state,
            allowed_actions=[a for a in allowed_actions(CaseState(case.state)) if a != CaseAction.EXTEND],
        )
    maximum = int(case.item_snapshot.get("max_extension_days", 0))
    if body.days > maximum:
        raise Unprocessable(
            f"the extension may be at most {maximum} working days",
            errors=[{"loc": ["body", "days"], "msg": f"at most {maximum}", "type": "range"}],
        )
    case.extension_days = body.days
    case.limit_days += body.days
    cal = await calendar(session=session, official=official)
    refresh_deadlines(case, tasks, stops, cal, today)
    case.version += 1
    now = utcnow()
    await record(
        repo,
        case,
        action="extend",
        from_state=case.state,
        actor=actor.sub,
        now=now,
        note=body.reason,
        message=(
            "extended",
            f"办理时限延长{body.days}个工作日，新的办结期限 {case.deadline}。",
            [{"days": body.days, "reason": body.reason}],
        ),
    )
    return _case_read(case, await _bundle(repo, [case]), cal, today, actor)


async def decide(
    *,
    session: AsyncSession,
    official: OfficialCalendar,
    actor: Actor,
    case_id: str,
    body: DecisionCreate,
    if_match: str | None,
    today: date,
) -> ApplicationRead:
    """Issue the decision at the window, numbered from the bureau's gap-free sequence, under its seal."""
    repo, case, _tasks, _stops = await _locked_case(session, actor, case_id, if_match)
    require_zone_role(actor, case.zone, Role.WINDOW_CLERK)
    target = next_case_state(CaseState(case.state), CaseAction.DECIDE)
    bureau = await CatalogRepository(session).bureau(case.zone)
    if bureau is None:
        raise Conflict(
            f"zone {case.zone} has no bureau configured (PUT /v1/catalog/bureaus/{case.zone}): "
            "no document prefix or seal to issue the decision under",
            state=case.state,
        )
    number = await repo.next_document_number(case.zone, today.year)
    now = utcnow()
    outcome = Outcome(case.proposed_outcome or Outcome.APPROVED)
    decision = DecisionRow(
        application_id=case.id,
        zone=case.zone,
        year=today.year,
        sequence=number,
        document_number=document_number(bureau.document_prefix, today.year, number),
        outcome=outcome.value,
        seal=bureau.seal,
        reasons=list(case.refusal_reasons),
        issued_on=today,
        issued_at=now,
        issued_by=actor.sub,
    )
    await repo.add(decision)
    before = case.state
    case.state, case.finished_on = target.value, today
    case.version += 1
    text = ("准予许可" if outcome == Outcome.APPROVED else "不予许可") + f"（{decision.document_number}）。"
    if body.note:
        text += body.note
    await record(
        repo,
        case,
        action="decide",
        from_state=before,
        actor=actor.sub,
        now=now,
        note=body.note,
        message=("decision", text, [{"reason": r} for r in case.refusal_reasons]),
        event_extra={"document_number": decision.document_number, "outcome": outcome.value},
    )
    return await _read_one(session, official, case, today, actor)


async def rate_case(
    *,
    session: AsyncSession,
    official: OfficialCalendar,
    actor: Actor,
    case_id: str,
    body: RatingCreate,
    today: date,
) -> RatingRead:
    """The applicant rates the service once; 2 or lower opens a rectification due in 15 working days."""
    repo, case, _tasks, _stops = await _locked_case(session, actor, case_id, None)
    if case.applicant_sub != actor.sub:
        raise Forbidden("only the applicant rates the service")
    next_case_state(CaseState(case.state), CaseAction.RATE)
    if (await repo.ratings([case.id])).get(case.id) is not None:
        raise Conflict(f"application {case_id} has already been rated", state=case.state, allowed_actions=[])
    now = utcnow()
    rating = RatingRow(application_id=case.id, score=body.score, comment=body.comment, rated_at=now, rated_by=actor.sub)
    await repo.add(rating)
    rect_id: str | None = None
    if body.score <= POOR_RATING:
        cal = await calendar(session=session, official=official)
        due = cal.add_working_days(today, RECTIFICATION_DAYS)
        rect_id = new_id()
        await repo.add(
            RectRow(
                id=rect_id,
                application_id=case.id,
                zone=case.zone,
                score=body.score,
                comment=body.comment,
                opened_on=today,
                due_on=due.deadline,
                provisional=due.provisional,
                state="open",
            )
        )
    case.version += 1
    await record(repo, case, action="rate", from_state=case.state, actor=actor.sub, now=now, note=body.comment)
    return RatingRead(score=body.score, comment=body.comment, rated_at=now, rectification=rect_id)


async def history(*, session: AsyncSession, actor: Actor, case_id: str) -> list[TransitionRead]:
    """Every transition of a case (staff only: notes are internal)."""
    repo = CaseRepository(session)
    case = await repo.get(case_id)
    tasks = (await repo.tasks([case_id]))[case_id] if case else []
    if case is None or not sees(actor, case, tasks) or not staff_view(actor, case):
        raise NotFound(f"application {case_id} does not exist")
    return [
        TransitionRead(
            at=t.at,
            actor=t.actor,
            action=t.action,
            from_state=t.from_state,
            to_state=t.to_state,
            task=t.task_id,
            note=t.note,
        )
        for t in await repo.transitions(case_id)
    ]


async def messages(*, session: AsyncSession, actor: Actor, case_id: str) -> list[MessageRead]:
    """The messages addressed to the applicant (the applicant's view of the case's conversation)."""
    repo = CaseRepository(session)
    case = await repo.get(case_id)
    tasks = (await repo.tasks([case_id]))[case_id] if case else []
    if case is None or not sees(actor, case, tasks):
        raise NotFound(f"application {case_id} does not exist")
    return [MessageRead(at=m.at, kind=m.kind, body=m.body, items=m.items) for m in await repo.messages(case_id)]
