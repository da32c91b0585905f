"""Handing in an application at the window (集中受理), and with ``accept`` accepting it on the spot
(当场受理) in the same transaction: the permits service's hot path.

The rows are built in memory as named records (:mod:`services.permits.cases.drafts`) and written
without read-back: through the group-commit writer when there is one
(:func:`~services.permits.cases.fast_paths.group_commit.write_case`), else in the request's own
transaction. The answer is the case's read model as a plain dict
(:func:`~services.permits.cases.documents.case_document`), built before the write, so nothing can
fail between the commit and the reply."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from libs.domain.kernel.contracts import Actor
from libs.domain.kernel.errors import Forbidden, Unprocessable
from libs.domain.kernel.i18n import Text
from libs.domain.kernel.values import Role
from libs.domain.permits.contracts import AcceptCreate, ApplicantInfo, ApplicationCreate
from libs.domain.permits.land import LandUse, check_land_use
from libs.domain.permits.states import CaseState
from services.permits.cache import ItemSnapshot
from services.permits.cases.commands import FileApplication
from services.permits.cases.context import IntakeContext
from services.permits.cases.documents import Bundle, case_document
from services.permits.cases.drafts import NewCase, NewMaterial, NewTask
from services.permits.cases.fast_paths import group_commit
from services.permits.cases.intake import accept_case
from services.permits.cases.materials import acceptance_faults, fault, files_for, material_rows, not_acceptable
from services.permits.cases.records import Records, task_rows
from services.permits.catalog.service import ensure_zone
from services.permits.shared import new_id, require_zone_role, utcnow


def _applicant_only(actor: Actor, body: ApplicationCreate, acceptance: AcceptCreate | None) -> bool:
    """Whether ``actor`` files as an applicant (for themselves); 403 unless they may file this."""
    applicant_only = Role.APPLICANT in actor.roles and not actor.has(Role.WINDOW_CLERK, Role.CITY_ADMIN)
    if acceptance is not None and applicant_only:
        raise Forbidden(
            Text(
                "只有窗口可以受理申请（当场受理由窗口工作人员办理）",
                "only the window accepts an application (当场受理 is for window clerks)",
            ),
            code="window_accepts_only",
            required_roles=sorted([Role.WINDOW_CLERK, Role.CITY_ADMIN]),
        )
    if not applicant_only:
        require_zone_role(actor, body.zone_id, Role.WINDOW_CLERK)
    return applicant_only


async def _offered_item(ctx: IntakeContext, body: ApplicationCreate) -> ItemSnapshot:
    """The item applied for; 422 unless the zone's bureau offers it."""
    item = await ctx.cache.item(ctx.sessions, body.item)
    if item is None:
        raise Unprocessable(
            Text(f"事项 {body.item} 不存在", f"item {body.item} does not exist"),
            errors=[fault(["body", "item"], "unknown_item", Text("未知的事项", "unknown item"))],
            code="unknown_item",
        )
    if item.zone != body.zone_id:
        raise Unprocessable(
            Text(
                "该事项由其他开发区的审批局办理（园区事园内办结）",
                "the item is offered by another zone's bureau (园区事园内办结)",
            ),
            errors=[
                fault(
                    ["body", "zone_id"],
                    "zone_mismatch",
                    Text(f"该事项属于开发区 {item.zone}", f"the item belongs to zone {item.zone}"),
                )
            ],
            code="zone_mismatch",
        )
    return item


def _applicant(actor: Actor, body: ApplicationCreate, applicant_only: bool) -> ApplicantInfo:
    """Who applies: an applicant always for their own account."""
    if not applicant_only:
        return body.applicant
    applicant = body.applicant.model_copy()
    if applicant.id is not None and applicant.id != actor.sub:
        raise Unprocessable(
            Text("申请人只能以本人名义提出申请", "an applicant files for themselves only"),
            errors=[
                fault(
                    ["body", "applicant", "id"],
                    "identity",
                    Text("应为您本人的账号", "must be your own account"),
                    "not_own_account",
                )
            ],
            code="not_own_account",
        )
    applicant.id = actor.sub
    return applicant


def _land_findings(item: ItemSnapshot, body: ApplicationCreate) -> list[dict[str, Any]]:
    """What the land-use check finds (for an industrial project's item; 422 without the figures)."""
    if not item.land_use_check:
        return []
    if body.land_use is None:
        raise Unprocessable(
            Text(
                "本事项涉及工业项目，须填报用地指标（十八）",
                "this item is about an industrial project: the land-use figures are required (十八)",
            ),
            errors=[
                fault(
                    ["body", "land_use"],
                    "missing",
                    Text("本事项必须填写", "required for this item"),
                    "land_use_required",
                )
            ],
            code="land_use_required",
        )
    land = LandUse(
        body.land_use.plot_ratio, body.land_use.building_coverage_percent, body.land_use.admin_living_share_percent
    )
    return [
        {
            "code": f.code,
            "field": f.field,
            "submitted": str(f.submitted),
            "required": f.required,
            "message": f.message.en,
        }
        for f in check_land_use(land)
    ]


def _new_case(
    command: FileApplication,
    item: ItemSnapshot,
    applicant: ApplicantInfo,
    findings: list[dict[str, Any]],
    actor: Actor,
    today: date,
    now: datetime,
) -> NewCase:
    body = command.body
    return NewCase(
        id=new_id(),
        zone=item.zone,
        item_id=item.id,
        item_code=item.code,
        item_name=item.name,
        item_snapshot=item.case_snapshot(),
        project_name=body.project_name,
        applicant_sub=applicant.id,
        applicant=applicant.model_dump(mode="json"),
        land_use=body.land_use.model_dump(mode="json") if body.land_use else None,
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
        updated_at=now,
    )


async def _store(
    ctx: IntakeContext, case: NewCase, materials: list[NewMaterial], tasks: list[NewTask], records: Records
) -> None:
    """Write the new case's rows."""
    values = case.values()
    rows = [(NewMaterial.table, [m.values() for m in materials]), task_rows(tasks), *records.tables()]
    stored = await group_commit.write_case(ctx.writer, {NewCase.table.name: [values], **{t.name: v for t, v in rows}})
    if stored is None:  # no group commit: one statement per table in the request's transaction
        await ctx.repo().insert_case(values, rows)


async def create_application(command: FileApplication, ctx: IntakeContext) -> dict[str, Any]:
    """Receive an application (every application enters at the bureau's one window), and with
    ``accept`` accept it on the spot in the same transaction (see the module docstring)."""
    body, actor, today = command.body, ctx.actor, ctx.today
    acceptance = body.acceptance()
    applicant_only = _applicant_only(actor, body, acceptance)
    item = await _offered_item(ctx, body)
    applicant = _applicant(actor, body, applicant_only)
    findings = _land_findings(item, body)
    known = {m["code"]: m["name"] for m in item.materials}
    files = await files_for(ctx.sessions(), actor, body.materials, known, "materials") if body.materials else []
    await ensure_zone(registry=ctx.registry, cache=ctx.zone_cache, zone_id=body.zone_id, loc=["body", "zone_id"])
    now = utcnow()
    case = _new_case(command, item, applicant, findings, actor, today, now)
    materials = material_rows(case.id, body.materials, files, 0, now)
    records = Records()
    records.add(case, action="submit", from_state=None, actor=actor.sub, now=now)
    tasks: list[NewTask] = []
    cal = ctx.official
    if acceptance is not None:
        faults = acceptance_faults(case, materials, acceptance)
        if faults:
            raise not_acceptable(faults)
        cal = await ctx.cache.calendar(ctx.sessions, ctx.official)
        tasks = accept_case(case, acceptance, [], cal, today=today, now=now, actor=actor.sub, records=records)
    bundle = Bundle({case.id: tasks}, {case.id: []}, {case.id: materials}, {}, {}, {})
    answer = case_document(case, bundle, cal, today, actor)
    await _store(ctx, case, materials, tasks, records)
    return answer
