"""A run as an official act: publishing a draft (possibly superseding the run in force) and withdrawing.

- **publish**: a draft becomes *the* published run of its methodology code, kind, period and
  subjects. When another is in force the request must name it (``supersedes``) and say why;
  the earlier run becomes *superseded*, its outcomes withdrawn and its pending summons cancelled,
  in the same transaction (a partial unique index makes a race end in a 409, never two runs in
  force). A draft is refused (409 ``stale_basis``) when what it was compared with has changed
  since it was computed: the published run of the previous period (rank changes) or the
  published annual runs whose warnings it counted (revocation reviews); compute a new draft.
  Before anything changes here, the period's values are locked in the metrics service on behalf
  of the caller (their token is forwarded, so the lock is theirs); a lock already there is fine.
- **withdraw**: a published run and its outcomes stop being in force; its summons are cancelled.

Every step is appended to ``assessment_event``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from libs.domain.assessment.contracts import AssessmentSummary, PublishRequest, WithdrawRequest
from libs.domain.clients.metrics import MetricsClient
from libs.domain.kernel.contracts import Actor
from libs.domain.kernel.errors import Conflict, NotFound, Unprocessable, UpstreamError
from libs.domain.kernel.i18n import Text
from libs.domain.kernel.values import Period
from services.assessment.dependencies import authorise_kinds
from services.assessment.methodologies import repository as methodology_repo
from services.assessment.runs import repository
from services.assessment.runs.reads import sees_drafts, summary_fields
from services.assessment.runs.store import store_summons
from services.assessment.tables import Assessment

STATUS_ZH = {"draft": "草稿", "published": "已发布", "superseded": "已被替代", "withdrawn": "已撤回"}


@dataclass(frozen=True, slots=True)
class PublishRun:
    """Publish a draft run."""

    run_id: int
    body: PublishRequest


@dataclass(frozen=True, slots=True)
class WithdrawRun:
    """Withdraw a published run."""

    run_id: int
    body: WithdrawRequest


@dataclass(frozen=True, slots=True)
class LifecycleContext:
    """The request's session, the metrics client carrying the caller's token, the caller and the clock."""

    session: AsyncSession
    metrics: MetricsClient
    actor: Actor
    clock: Callable[[], datetime]


async def publish(command: PublishRun, context: LifecycleContext) -> AssessmentSummary:
    """Make a draft the published run of its key (superseding the one in force when asked to)."""
    session, actor = context.session, context.actor
    run = await _run(session, command.run_id, actor)
    if run.status != "draft":
        raise Conflict(
            Text(
                f"考评 #{run.id} 的状态是{STATUS_ZH[run.status]}，只有草稿可以发布。",
                f"Run {run.id} is {run.status}: only a draft can be published.",
            ),
            code="not_a_draft",
            run_status=run.status,
        )
    current = await repository.published_for_key(session, run)
    _check_supersession(run, current, command.body)
    # The sanction part of the run's inputs (read once: the inputs of a national run are large).
    sanctions: dict[str, Any] = {}
    if run.subjects == "zones":
        sanctions = (await repository.inputs_of(session, run.id)).get("sanctions") or {}
    await _refuse_stale(session, run, sanctions)
    now = context.clock()
    await _lock_values(context, run)
    try:
        if current is not None:
            assert command.body.reason is not None
            await _end(session, current, "superseded", now, actor.sub, command.body.reason, related=run.id)
            current.superseded_by = run.id
            await session.flush()  # before this run is published: the index allows one in force
        run.status = "published"
        run.published_at = now
        run.published_by = actor.sub
        run.publish_note = command.body.note
        await session.flush()
    except IntegrityError as exc:
        raise Conflict(
            Text(
                "同一期间的另一考评结果刚刚发布，请重新读取后再试。",
                "Another run of the same key was published meanwhile.",
            ),
            code="already_published",
        ) from exc
    await repository.add_event(
        session,
        assessment_id=run.id,
        event="published",
        at=now,
        by=actor.sub,
        reason=command.body.note,
        related=current.id if current else None,
    )
    await store_summons(session, run, now, sanctions)
    return await _summary(session, run)


async def withdraw(command: WithdrawRun, context: LifecycleContext) -> AssessmentSummary:
    """Withdraw a published run: it and its outcomes stop being in force (kept as history)."""
    session, actor = context.session, context.actor
    run = await _run(session, command.run_id, actor)
    if run.status != "published":
        raise Conflict(
            Text(
                f"考评 #{run.id} 的状态是{STATUS_ZH[run.status]}，只有已发布的考评可以撤回。",
                f"Run {run.id} is {run.status}: only a published run can be withdrawn.",
            ),
            code="not_published",
            run_status=run.status,
        )
    now = context.clock()
    await _end(session, run, "withdrawn", now, actor.sub, command.body.reason)
    run.withdrawn_at = now
    run.withdrawn_by = actor.sub
    run.withdrawn_reason = command.body.reason
    await session.flush()
    return await _summary(session, run)


async def _run(session: AsyncSession, run_id: int, actor: Actor) -> Assessment:
    """The run (row-locked), 404 when there is none or the caller may not see it; 403 for another kind."""
    run = await repository.get(session, run_id, for_update=True)
    if run is None or (run.status == "draft" and not sees_drafts(actor)):
        raise NotFound(
            Text(f"考评 #{run_id} 不存在", f"assessment {run_id} does not exist"), code="assessment_not_found"
        )
    authorise_kinds(actor, [run.kind])
    return run


def _check_supersession(run: Assessment, current: Assessment | None, body: PublishRequest) -> None:
    """409 unless ``body`` names exactly the run in force (or none when there is none); 422 without a reason."""
    if current is None:
        if body.supersedes is not None:
            raise Conflict(
                Text(
                    f"没有正在生效的同期考评结果可替代（#{body.supersedes} 不是）。",
                    f"No run is published for this key: run {body.supersedes} cannot be superseded.",
                ),
                code="supersedes_mismatch",
                published=None,
            )
        return
    if body.supersedes is None:
        raise Conflict(
            Text(
                f"{run.period} 已有发布的考评结果 #{current.id}（{current.label}）：如要替代，请在请求中给出 "
                f"supersedes={current.id} 和 reason。",
                f"Run {current.id} is published for this key; name it in `supersedes` with a `reason` to replace it.",
            ),
            code="already_published",
            published=str(current.id),
        )
    if body.supersedes != current.id:
        raise Conflict(
            Text(f"正在生效的是 #{current.id}，不是 #{body.supersedes}。", f"The run in force is {current.id}."),
            code="supersedes_mismatch",
            published=str(current.id),
        )
    if not body.reason:
        raise Unprocessable(
            Text("替代已发布的考评结果须说明理由（reason）。", "Superseding a published run needs a reason."),
            code="reason_required",
            errors=[
                {
                    "loc": ["body", "reason"],
                    "msg": Text("给出 supersedes 时必须填写", "required with supersedes"),
                    "type": "missing",
                    "code": "missing",
                }
            ],
        )


async def _refuse_stale(session: AsyncSession, run: Assessment, sanctions: dict[str, Any]) -> None:
    """409 ``stale_basis`` when the published runs a draft was compared with (``sanctions``: the
    sanction part of its inputs) are no longer those in force."""
    if run.subjects != "zones":
        return
    period = Period.parse(run.period)
    previous = await repository.published_run(
        session, code=run.methodology_code, kind=run.kind, period=str(period.previous())
    )
    changed = (previous.id if previous else None) != run.previous_assessment_id
    if "earlier_runs" in sanctions:
        consecutive = int(sanctions.get("policy", {}).get("consecutive_warnings_for_review", 2))
        now_runs: list[int] = []
        for back in range(1, consecutive):
            earlier = await repository.published_annual_run(
                session, kind=run.kind, year_start=date(period.year - back, 1, 1)
            )
            if earlier is None:
                break
            now_runs.append(earlier.id)
        changed = changed or now_runs != list(sanctions["earlier_runs"])
    if changed:
        raise Conflict(
            Text(
                f"草稿 #{run.id} 计算时所比较的已发布考评结果已变化（上期排名或此前年度的警告），请重新计算草稿。",
                f"The published runs draft {run.id} was compared with have changed since: compute a new draft.",
            ),
            code="stale_basis",
        )


async def _lock_values(context: LifecycleContext, run: Assessment) -> None:
    """Lock the period's values of the run's kind in the metrics service, as the caller (409: locked already)."""
    try:
        await context.metrics.lock_period(
            period=run.period,
            kind=run.kind,
            reason=f"考评 #{run.id}（{run.label}）已发布：数值锁定，更正须经市级管理员更正流程",
        )
    except UpstreamError as exc:
        if exc.extra.get("upstream_status") != 409:
            raise


async def _end(
    session: AsyncSession,
    run: Assessment,
    event: str,
    now: datetime,
    by: str,
    reason: str,
    *,
    related: int | None = None,
) -> None:
    """A published run stops being in force: its status, outcomes, summons and the event."""
    run.status = event
    await repository.withdraw_outcomes(session, run.id, at=now, reason=reason)
    await repository.cancel_summons(session, run.id)
    await repository.add_event(
        session, assessment_id=run.id, event=event, at=now, by=by, reason=reason, related=related
    )


async def _summary(session: AsyncSession, run: Assessment) -> AssessmentSummary:
    method = await methodology_repo.by_id(session, run.methodology_id)
    assert method is not None
    return AssessmentSummary.model_validate(summary_fields(run, method))
