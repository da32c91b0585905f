"""Use cases on sanctions: the rules per kind, the outcomes of a zone, the summons of warned zones."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from libs.domain.assessment.contracts import (
    OutcomeRead,
    SanctionPolicyRead,
    SanctionPolicyWrite,
    SanctionRule,
    SummonsRead,
)
from libs.domain.assessment.sanctions import DEFAULT_POLICIES, SanctionPolicy, parse_policy
from libs.domain.clients.metrics import MetricsClient
from libs.domain.clients.registry import RegistryClient
from libs.domain.kernel.contracts import Actor
from libs.domain.kernel.errors import Conflict, Forbidden, Unprocessable
from libs.domain.kernel.i18n import Text
from libs.domain.kernel.values import Role, ZoneKind
from services.assessment.dependencies import authorise_kinds
from services.assessment.sanctions import repository
from services.assessment.tables import Outcome, Summons

SUMMONED = "开发区党工委、管委会主要负责人；所在地县（区）党委、政府主要负责人"
"""Whom a warning summons (约谈所在地党委、政府和开发区的主要负责人, 三十)."""


async def current_policy(session: AsyncSession, kind: str) -> tuple[SanctionPolicy, int]:
    """The policy that applies to ``kind`` now and its version (0: the source's defaults)."""
    row = await repository.latest_policy(session, kind)
    if row is None:
        return DEFAULT_POLICIES[kind], 0
    policy, faults = parse_policy(row.rules)
    if policy is None:  # stored policies are validated on the way in
        raise RuntimeError(f"stored sanction policy {row.id} is invalid: {faults}")
    return policy, row.version


def _read(
    policy: SanctionPolicy, version: int, created_at: datetime | None, created_by: str | None
) -> SanctionPolicyRead:
    return SanctionPolicyRead(
        kind=ZoneKind(policy.kind),
        version=version,
        default=version == 0,
        commend=[SanctionRule.model_validate(r.as_dict()) for r in policy.commend],
        warn=[SanctionRule.model_validate(r.as_dict()) for r in policy.warn],
        consecutive_warnings_for_review=policy.consecutive_warnings_for_review,
        summons_on_warning=policy.summons_on_warning,
        score_overlap=policy.score_overlap,
        source=policy.source,
        created_at=created_at,
        created_by=created_by,
    )


async def list_policies(*, session: AsyncSession) -> list[SanctionPolicyRead]:
    """The policy of every kind as it applies now."""
    out: list[SanctionPolicyRead] = []
    for kind in ZoneKind:
        row = await repository.latest_policy(session, kind.value)
        policy, version = await current_policy(session, kind.value)
        out.append(_read(policy, version, row.created_at if row else None, row.created_by if row else None))
    return out


async def write_policy(
    *, session: AsyncSession, metrics: MetricsClient, actor: Actor, kind: ZoneKind, body: SanctionPolicyWrite
) -> SanctionPolicyRead:
    """Store a new version of ``kind``'s policy (earlier runs keep the policy they used)."""
    authorise_kinds(actor, [kind.value])
    data: dict[str, Any] = {"kind": kind.value, **body.model_dump(mode="json", exclude_none=True)}
    policy, faults = parse_policy(data, loc=["body"])
    if policy is not None and policy.indicators:
        known = {i.code for i in await metrics.indicators()}
        for side in ("commend", "warn"):
            for i, rule in enumerate(getattr(policy, side)):
                if rule.indicator and rule.indicator not in known:
                    faults.append(
                        {
                            "loc": ["body", side, i, "indicator"],
                            "msg": Text(
                                f"未知指标 {rule.indicator!r}：不在指标目录中",
                                f"unknown indicator {rule.indicator!r}: not in the metrics catalog",
                            ),
                            "type": "unknown",
                            "code": "unknown",
                        }
                    )
    if policy is None or faults:
        raise Unprocessable(
            Text(f"奖惩规则有 {len(faults)} 处不符合要求", f"the policy breaks {len(faults)} rule(s)"),
            code="policy_invalid",
            errors=faults,
        )
    latest = await repository.latest_policy(session, kind.value)
    version = 1 if latest is None else latest.version + 1
    try:
        async with session.begin_nested():
            row = await repository.insert_policy(
                session,
                kind=kind.value,
                version=version,
                rules=policy.as_dict(),
                created_at=datetime.now(UTC),
                created_by=actor.sub,
            )
    except IntegrityError as exc:
        raise Conflict(
            Text(
                "另一版本的奖惩规则刚刚同时保存，请重新读取后再试",
                "another policy version was stored at the same time; read it and retry",
            ),
            code="policy_version_conflict",
        ) from exc
    return _read(policy, row.version, row.created_at, row.created_by)


def outcome_read(row: Outcome, summons: int | None, *, draft: bool = False) -> OutcomeRead:
    """The API view of a stored outcome (``draft``: its run is a draft, so it is not in force)."""
    status = "withdrawn" if row.withdrawn_at is not None else "draft" if draft else "in_force"
    return OutcomeRead(
        id=row.id,
        assessment=row.assessment_id,
        zone_id=row.zone,
        name=row.name,
        kind=ZoneKind(row.kind),
        period=row.period,
        outcome=row.outcome,
        rule=row.rule,
        label=row.label,
        detail=row.detail,
        numbers=row.numbers,
        tie=row.tie,
        summons=summons,
        created_at=row.created_at,
        status=status,
        withdrawn_at=row.withdrawn_at,
        withdrawn_reason=row.withdrawn_reason,
    )


async def zone_outcomes(
    *,
    session: AsyncSession,
    registry: RegistryClient,
    zone_id: str,
    include_withdrawn: bool,
    after: int | None,
    limit: int,
) -> tuple[list[OutcomeRead], int | None]:
    """Rewards and warnings of a zone decided by published runs, newest first (with ``include_withdrawn``
    also those of superseded and withdrawn runs, marked); never a draft's. 404 if the registry does not
    know the zone."""
    await registry.get_zone(zone_id)  # NotFound / UpstreamUnavailable propagate as problems
    rows = await repository.zone_outcomes(
        session, zone_id, include_withdrawn=include_withdrawn, after=after, limit=limit
    )
    summons = await repository.summons_of(session, [r.id for r in rows])
    last = rows[-1].id if len(rows) == limit else None
    return [outcome_read(r, summons.get(r.id)) for r in rows], last


def _summons_read(row: Summons) -> SummonsRead:
    return SummonsRead(
        id=row.id,
        assessment=row.assessment_id,
        outcome=row.outcome_id,
        zone_id=row.zone,
        name=row.name,
        summoned=row.summoned,
        reason=row.reason,
        status=row.status,
        created_at=row.created_at,
    )


async def list_summons(
    *,
    session: AsyncSession,
    actor: Actor,
    zone: str | None,
    assessment: int | None,
    after: int | None,
    limit: int,
) -> tuple[list[SummonsRead], int | None]:
    """Summons records; a zone committee sees its own zone's only."""
    if not actor.has(Role.CITY_ADMIN, Role.COMMERCE_BUREAU, Role.SCIENCE_BUREAU):
        if zone is not None and zone != actor.zone:
            raise Forbidden(
                Text(
                    "开发区管委会只能查看本开发区的约谈记录", "a zone committee sees the summons of its own zone only"
                ),
                code="summons_of_other_zone",
            )
        zone = actor.zone
    rows: Sequence[Summons] = await repository.summons_page(
        session, zone=zone, assessment=assessment, after=after, limit=limit
    )
    last = rows[-1].id if len(rows) == limit else None
    return [_summons_read(r) for r in rows], last
