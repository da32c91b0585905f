"""Creating a run: check the request, gather its inputs, evaluate them, store the draft and answer it.

A run is stored as a **draft** (see :mod:`services.assessment.runs.lifecycle` for publishing).
It is refused (422 with a ``code``) for a period not yet ended (``period_not_ended``), a registry
date after today (``registry_in_future``), no zone to assess (``no_subjects``) and too few zones
with every required value (``insufficient_coverage``). A dry run answers the would-be run with
the refusals it would meet (except the last two, which leave nothing to answer or are answered as
coverage) and stores nothing. If the registry or metrics service is down the 503 propagates
before anything is written.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from libs.domain.assessment.contracts import AssessmentCreate, RunEvent
from libs.domain.assessment.coverage import CoverageCount, coverage
from libs.domain.assessment.methodology import PERIOD_TYPE_ZH
from libs.domain.assessment.run import build_inputs, evaluate_run
from libs.domain.assessment.validation import parse_methodology
from libs.domain.kernel.canonical import canonical_with_sha256
from libs.domain.kernel.errors import NotFound, Unprocessable
from libs.domain.kernel.i18n import Text
from libs.domain.kernel.values import CHINA_TIME, Period
from services.assessment.methodologies import repository as methodology_repo
from services.assessment.reports.bulletin_render import KIND_ZH
from services.assessment.runs import repository
from services.assessment.runs.commands import CreateRun, Evaluated, RunContext, RunRequest
from services.assessment.runs.dry_run import DryRunAnswer, dry_run_answer
from services.assessment.runs.gather import Gathered, cancelled, gather, predecessors
from services.assessment.runs.reads import RunAnswer, coverage_answer, new_run_answer, results_json
from services.assessment.runs.store import store_evaluation
from services.assessment.tables import Assessment, Methodology


def _created(run: Assessment) -> RunEvent:
    return RunEvent(event="created", at=run.created_at, by=run.created_by)


async def create_run(command: CreateRun, context: RunContext) -> RunAnswer | DryRunAnswer:
    """Compute a run from the registry and metrics services and store it as a draft, or (dry run)
    answer it without storing (the caller is authorised)."""
    today = context.clock().astimezone(CHINA_TIME).date()
    dry = command.body.dry_run
    request = await _checked(context.session, command.body, today)
    refusals: list[Unprocessable] = []
    unended = _unended(request.period, today)
    if unended is not None:
        if not dry:
            raise unended
        refusals.append(unended)
    gathered = await gather(context, request)
    _refuse_without_subjects(request, gathered)
    evaluated = await _evaluate(context, request, gathered)
    covered = coverage(request.method, gathered.zones if request.ranks_zones else gathered.reference)
    short = _short(covered, request)
    if dry:
        return dry_run_answer(context, request, evaluated, covered, [*refusals, *([short] if short else [])])
    if short is not None:
        raise short
    return await _store(context, request, evaluated, covered)


def _unended(period: Period, today: date) -> Unprocessable | None:
    """422 ``period_not_ended`` unless the period is over on China's date: an official run ranks
    finished periods only (an unfinished year would rank every zone on partial values). A period is
    over from the day after its last day (on 31 December the year is still running)."""
    if period.end < today:
        return None
    return Unprocessable(
        Text(
            f"{period.label_zh}至 {period.end.isoformat()} 才结束，今天（北京时间）是 {today.isoformat()}："
            "只能考评已结束的期间（可用 dry_run 试算，不保存）。",
            f"Period {period} runs until {period.end.isoformat()}: only an ended period can be assessed.",
        ),
        code="period_not_ended",
        errors=[
            {
                "loc": ["body", "period"],
                "msg": Text("报告期尚未结束", "the period has not ended"),
                "type": "period_not_ended",
                "code": "period_not_ended",
            }
        ],
    )


def _refuse_future_registry(registry_as_of: date, today: date) -> None:
    """422 ``registry_in_future``: the registry cannot say which zones exist on a day still to come."""
    if registry_as_of > today:
        raise Unprocessable(
            Text(
                f"开发区登记日期 {registry_as_of.isoformat()} 晚于今天（北京时间 {today.isoformat()}）。",
                f"The registry date {registry_as_of.isoformat()} is after today: the registry cannot answer for it.",
            ),
            code="registry_in_future",
            errors=[
                {
                    "loc": ["body", "registry_as_of"],
                    "msg": Text("晚于今天", "after today"),
                    "type": "registry_in_future",
                    "code": "registry_in_future",
                }
            ],
        )


def _short(covered: CoverageCount, request: RunRequest) -> Unprocessable | None:
    """422 ``insufficient_coverage`` when too few subjects have every required value, listing each gap."""
    if covered.sufficient or not covered.assessed:
        return None
    share = covered.share or 0.0
    return Unprocessable(
        Text(
            f"只有 {covered.complete}/{covered.assessed} 个考评对象（{share:.0%}）具备全部必需指标，"
            f"低于考评办法 {request.method_row.code} 要求的 {covered.min_coverage:.0%}；缺失项见 missing。",
            f"Only {covered.complete} of {covered.assessed} have every required value "
            f"(minimum {covered.min_coverage:.0%}).",
        ),
        code="insufficient_coverage",
        coverage={k: v for k, v in covered.as_dict().items() if k != "missing"},
        missing=coverage_answer(covered.as_dict(), zones=request.ranks_zones).model_dump(mode="json")["missing"],
    )


def _refuse_without_subjects(request: RunRequest, gathered: Gathered) -> None:
    """422 ``no_subjects`` when no zone of the kind exists on the registry date (nothing to rank;
    a reference-score run has no divisions to score either)."""
    subjects = gathered.zones if request.ranks_zones else gathered.reference
    if not subjects:
        what = f"{request.kind} zone" if request.ranks_zones else "division without a zone"
        what_zh = (
            KIND_ZH.get(request.kind, f"{request.kind} 开发区") if request.ranks_zones else "未设开发区的县级行政区"
        )
        day = request.registry_as_of.isoformat()
        raise Unprocessable(
            Text(
                f"{day} 没有可考评的对象（{what_zh}）。",
                f"No {what} exists on {day}: there is nothing to assess.",
            ),
            code="no_subjects",
            errors=[
                {
                    "loc": ["body", "kind"],
                    "msg": Text(f"登记日期当日没有{what_zh}", f"no {what} on the registry date"),
                    "type": "no_subjects",
                    "code": "no_subjects",
                }
            ],
        )


def _period(text: str, loc: list[str | int]) -> Period:
    try:
        return Period.parse(text)
    except ValueError as exc:
        message = Text(f"报告期 {text!r} 无效（应为 2025、2025H1 或 2025Q3 这样的年度、半年度或季度）", str(exc))
        raise Unprocessable(
            message, code="period_invalid", errors=[{"loc": loc, "msg": message, "type": "period", "code": "period"}]
        ) from exc


async def _methodology(session: AsyncSession, code: str, version: int | None) -> Methodology:
    row = await (
        methodology_repo.latest(session, code) if version is None else methodology_repo.get(session, code, version)
    )
    if row is None:
        what = f"methodology {code}" + ("" if version is None else f" version {version}")
        what_zh = f"考评办法 {code}" + ("" if version is None else f" 第 {version} 版")
        raise NotFound(Text(f"{what_zh}不存在", f"{what} does not exist"), code="methodology_not_found")
    return row


async def _checked(session: AsyncSession, body: AssessmentCreate, today: date) -> RunRequest:
    """The request with its period, methodology and registry date; 404 or 422 when they do not fit."""
    period = _period(body.period, ["body", "period"])
    if body.registry_as_of is not None:
        _refuse_future_registry(body.registry_as_of, today)
    # By default the zones of the period's last day; a dry run of a period still running takes today's.
    registry_as_of = body.registry_as_of or min(period.end, today)
    method_row = await _methodology(session, body.methodology, body.version)
    _check_request(body, method_row, period)
    return RunRequest(body, period, method_row, parse_methodology(method_row.document), registry_as_of)


def _zh(period_type: str) -> str:
    return PERIOD_TYPE_ZH.get(period_type, period_type)


def _check_request(body: AssessmentCreate, method_row: Methodology, period: Period) -> None:
    """422 unless the methodology applies to the kind and period type asked for."""
    kind = body.kind.value
    if kind not in method_row.applies_to:
        kinds = ", ".join(method_row.applies_to)
        raise Unprocessable(
            Text(
                f"考评办法 {method_row.code} v{method_row.version} 适用于 {kinds}，不适用于 {kind}",
                f"methodology {method_row.code} v{method_row.version} applies to {kinds}, not {kind}",
            ),
            code="kind_not_applicable",
            errors=[
                {
                    "loc": ["body", "kind"],
                    "msg": Text("该考评办法不适用于此类开发区", "not a kind the methodology applies to"),
                    "type": "kind",
                    "code": "kind",
                }
            ],
        )
    if period.type != method_row.period_type:
        raise Unprocessable(
            Text(
                f"考评办法 {method_row.code} 按{_zh(method_row.period_type)}考评，"
                f"所给报告期 {period} 为{_zh(period.type)}",
                f"methodology {method_row.code} is applied per {method_row.period_type}, "
                f"got the {period.type} {period}",
            ),
            code="period_type_mismatch",
            errors=[
                {
                    "loc": ["body", "period"],
                    "msg": Text(f"应为{_zh(method_row.period_type)}报告期", f"expected a {method_row.period_type}"),
                    "type": "period",
                    "code": "period",
                }
            ],
        )
    if body.scope == "zones" and body.divisions:
        raise Unprocessable(
            Text(
                "`divisions` 仅适用于 divisions_without_zone 考评",
                "`divisions` only applies to divisions_without_zone runs",
            ),
            code="divisions_not_applicable",
            errors=[
                {
                    "loc": ["body", "divisions"],
                    "msg": Text("仅与 divisions_without_zone 同用", "only with divisions_without_zone"),
                    "type": "subjects",
                    "code": "subjects",
                }
            ],
        )


def _notes(request: RunRequest, gathered: Gathered) -> list[str]:
    """What a reader of the run should know about its inputs (the sanction notes come last)."""
    notes: list[str] = []
    document = request.method_row.document
    if document.get("note"):
        notes.append(f"methodology note: {document['note']}")
    without_values = sum(1 for s in gathered.zones if all(v is None for v in s.values.values()))
    if without_values:
        notes.append(f"{without_values} zone(s) have no values for {request.period} in the metrics service")
    if not request.ranks_zones:
        notes.append(
            f"reference scores against the statistics of the {len(gathered.zones)} {KIND_ZH[request.kind]} "
            "(参照省考核办法, 二十八); the zones' own results are not stored by this run"
        )
    elif gathered.history.previous is None:
        notes.append(
            f"no published run of {request.method_row.code} for {request.kind} zones in {request.period.previous()}: "
            "no rank changes"
        )
    return notes


async def _evaluate(context: RunContext, request: RunRequest, gathered: Gathered) -> Evaluated:
    """The inputs document and its evaluation (again with more lineage when a warning may carry on)."""
    notes = _notes(request, gathered)
    previous, previous_ranks, preds = gathered.history
    sanctions = gathered.sanctions
    method_row = request.method_row

    def inputs_with(lineage: Mapping[str, Sequence[str]]) -> dict[str, Any]:
        return build_inputs(
            methodology=method_row.document,
            methodology_sha256=method_row.sha256,
            kind=request.kind,
            period=str(request.period),
            subjects=request.body.scope,
            registry_as_of=request.registry_as_of.isoformat(),
            zones=gathered.zones,
            reference=gathered.reference,
            previous_assessment=previous.id if previous else None,
            previous_ranks=previous_ranks,
            predecessors=lineage,
            sanctions=sanctions.inputs,
        )

    inputs = inputs_with(preds)
    evaluation = evaluate_run(inputs)
    if sanctions.inputs and sanctions.inputs["earlier_warned"]:
        # A zone warned now may carry on a warning of a zone merged into it: those zones' lineage too.
        warned_before = {z for group in sanctions.inputs["earlier_warned"] for z in group}
        warned = {o.zone for o in evaluation.outcomes if o.outcome == "warned"}
        more = sorted(z for z in warned if z not in warned_before and z not in preds)
        if more:
            found = await predecessors(context.registry, more)
            if any(p in warned_before for lineage in found.values() for p in lineage):
                inputs = inputs_with({**preds, **found})
                evaluation = evaluate_run(inputs)
    notes.extend(sanctions.notes)
    scored = len(gathered.zones) if request.ranks_zones else len(gathered.reference)
    return Evaluated(inputs, evaluation, notes, scored, previous.id if previous else None)


async def _store(context: RunContext, request: RunRequest, evaluated: Evaluated, covered: CoverageCount) -> RunAnswer:
    """Store the run as a draft and answer it."""
    session, actor, method_row, period = context.session, context.actor, request.method_row, request.period
    inputs, evaluation = evaluated.inputs, evaluated.evaluation
    canonical, sha = canonical_with_sha256(inputs, fast=context.fast_canonical_json)
    now = context.clock()
    ranked = evaluation.ranked if request.ranks_zones else sum(1 for r in evaluation.reference if r.score is not None)
    # The answer's results are written while the run is stored (a chunk of zones at a time,
    # in the database's waits); it is only returned once everything is stored.
    answer = asyncio.ensure_future(results_json(evaluation, zones=request.ranks_zones))
    try:
        run = await repository.insert_run(
            session,
            methodology_id=method_row.id,
            methodology_code=method_row.code,
            methodology_version=method_row.version,
            kind=request.kind,
            period=str(period),
            period_start_on=period.start,
            period_type=period.type,
            label=request.body.label,
            subjects=request.body.scope,
            registry_as_of=request.registry_as_of,
            subjects_key=request.subjects_key,
            coverage=covered.as_dict(),
            status="draft",
            inputs=inputs,
            inputs_json=canonical,
            inputs_sha256=sha,
            previous_assessment_id=evaluated.previous_id,
            zone_count=evaluated.scored,
            ranked_count=ranked,
            outcome_count=len(evaluation.outcomes),
            notes=evaluated.notes,
            created_at=now,
            created_by=actor.sub,
        )
        await store_evaluation(session, run, evaluation, now)
        await repository.add_event(session, assessment_id=run.id, event="created", at=now, by=actor.sub)
    except BaseException:
        await cancelled(answer)
        raise
    return RunAnswer(run.id, new_run_answer(run, method_row, *await answer, events=[_created(run)]))
