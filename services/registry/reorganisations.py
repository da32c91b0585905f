"""Reorganisations: recording an act (or trying it out), reading the log, annulling the latest act."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from libs.domain.kernel.errors import Conflict, NotFound, Unprocessable
from libs.domain.kernel.i18n import Text
from libs.domain.registry.contracts import (
    ReorganisationCreate,
    ReorganisationRead,
    ReorganisationSummary,
    ZoneChange,
    ZoneRead,
)
from libs.domain.registry.outcome import ActOutcome, ActRefused
from libs.domain.registry.reorganisation import apply_act
from libs.domain.registry.view import StaticView, needs
from services.registry import repository as repo
from services.registry.context import WriteContext
from services.registry.conversions import alias_rows, snapshot_of, state_row, zone_read
from services.registry.tables import Lineage, Reorganisation, Zone


@dataclass(frozen=True, slots=True)
class RecordReorganisation:
    """Record the act ``body`` (or, with ``dry_run``, only show what it would do)."""

    body: ReorganisationCreate
    dry_run: bool = False


@dataclass(frozen=True, slots=True)
class AnnulReorganisation:
    """Annul act ``act_id`` for ``reason``."""

    act_id: int
    reason: str


def new_zone_id() -> str:
    """A fresh zone id."""
    return uuid.uuid4().hex[:12]


async def record_reorganisation(command: RecordReorganisation, ctx: WriteContext) -> ReorganisationRead:
    """Validate and (unless a dry run) record an act; the act as recorded, or as it would be."""
    await repo.lock_registry(ctx.session)
    body = command.body
    outcome = await _apply(ctx.session, body)
    changes = [
        ZoneChange(op_index=c.op_index, op=c.op, zone_id=c.zone, description=c.description) for c in outcome.changes
    ]
    if command.dry_run:
        return _dry_run(body, outcome, changes)
    act = Reorganisation(
        legal_basis=body.legal_basis,
        effective_on=body.effective_on,
        title=body.title,
        note=body.note,
        operations=[op.model_dump(mode="json") for op in body.operations],
        zone_refs=outcome.created,
        touched=outcome.touched,
        changes=[c.model_dump() for c in changes],
        recorded_at=datetime.now(UTC),
        recorded_by=ctx.actor.sub,
    )
    await _store(ctx, act, outcome, changes)
    return await get_reorganisation(session=ctx.session, act_id=act.id)


async def _apply(session: AsyncSession, body: ReorganisationCreate) -> ActOutcome:
    """The act applied to the registry as it stands on its date; 422 listing every fault."""
    zones = repo.ZoneRepository(session)
    on = body.effective_on
    need = needs(body.operations)
    known = await zones.known(need.zone_refs)
    states = await zones.states_on(known, on)
    last = await zones.last_events(known)
    view = StaticView(
        snapshots={z: snapshot_of(s) for z, s in states.items()},
        known=frozenset(known),
        last_events={z: event.on for z, event in last.items()},
        divisions=frozenset(await repo.DivisionRepository(session).codes_valid(need.divisions, on)),
        names=await zones.carriers(need.names, on),
    )
    try:
        return apply_act(view, on, body.operations, new_zone_id)
    except ActRefused as refused:
        raise Unprocessable(
            Text(
                f"该整合调整在 {on.isoformat()} 无法生效：{len(refused.faults)} 项操作有误",
                f"the reorganisation is invalid on {on.isoformat()}: {len(refused.faults)} operation fault(s)",
            ),
            code="reorganisation_invalid",
            errors=[f.as_error() for f in refused.faults],
        ) from refused


def _dry_run(body: ReorganisationCreate, outcome: ActOutcome, changes: list[ZoneChange]) -> ReorganisationRead:
    """What recording ``body`` would give, with no id and nothing stored."""
    on = body.effective_on
    resulting = [
        zone_read(state_row(outcome.states[z], None, on, [])).model_copy(update={"reorganisation": None})
        for z in outcome.touched
    ]
    return ReorganisationRead(
        id=None,
        legal_basis=body.legal_basis,
        effective_on=on,
        title=body.title,
        note=body.note,
        operations=[op.model_dump(mode="json") for op in body.operations],
        zone_ids_by_ref=outcome.created,
        touched=outcome.touched,
        changes=changes,
        resulting=resulting,
        dry_run=True,
    )


async def _store(ctx: WriteContext, act: Reorganisation, outcome: ActOutcome, changes: list[ZoneChange]) -> None:
    """Record the act, its zones' new states and lineage, and announce the change."""
    on: date = act.effective_on
    zones = repo.ZoneRepository(ctx.session)
    await repo.ReorganisationRepository(ctx.session).add(act)
    created = set(outcome.created.values())
    for zone_id in created:
        await zones.add_zone(Zone(id=zone_id, created_by=act.id))
    open_states = await zones.open_states(set(outcome.touched) - created)
    for zone_id in outcome.touched:
        previous = open_states.get(zone_id)
        if previous is not None:
            previous.valid_to = on
        notes = [c.model_dump() for c in changes if c.zone_id == zone_id]
        snap = outcome.states[zone_id]
        await zones.add_state(state_row(snap, act, on, notes), alias_rows(snap))
    await zones.add_edges(
        [
            Lineage(reorganisation_id=act.id, source=e.source, target=e.target, operation=e.operation, on=on)
            for e in outcome.edges
        ]
    )
    change_id = await repo.ChangeRepository(ctx.session).append(
        "reorganisation.recorded",
        {"reorganisation": act.id, "effective_on": on.isoformat(), "zones": outcome.touched},
        act.recorded_at,
    )
    ctx.announce(change_id)


async def get_reorganisation(*, session: AsyncSession, act_id: int) -> ReorganisationRead:
    """One act with the states it produced (none once annulled)."""
    act = await repo.ReorganisationRepository(session).get(act_id)
    if act is None:
        raise NotFound(
            Text(f"整合调整 {act_id} 不存在", f"reorganisation {act_id} does not exist"),
            code="reorganisation_not_found",
            reorganisation=act_id,
        )
    resulting: list[ZoneRead] = []
    if act.annulled_at is None:
        for zone_id in act.touched:
            for row in await repo.ZoneRepository(session).history(zone_id):
                if row.state.reorganisation_id == act.id:
                    resulting.append(zone_read(row.state))
    return ReorganisationRead(
        id=act.id,
        legal_basis=act.legal_basis,
        effective_on=act.effective_on,
        title=act.title,
        note=act.note,
        operations=[_operation_as_answered(op) for op in act.operations],
        zone_ids_by_ref=dict(act.zone_refs),
        touched=list(act.touched),
        changes=[ZoneChange.model_validate(c) for c in act.changes],
        resulting=resulting,
        recorded_at=act.recorded_at,
        recorded_by=act.recorded_by,
        annulled_at=act.annulled_at,
        annulled_by=act.annulled_by,
        annul_reason=act.annul_reason,
    )


def _operation_as_answered(op: dict[str, Any]) -> dict[str, Any]:
    """A stored operation as the API writes it: acts recorded before the field was renamed store ``zone``."""
    if "zone" in op and "zone_id" not in op:
        return {("zone_id" if k == "zone" else k): v for k, v in op.items()}
    return dict(op)


async def list_reorganisations(
    *, session: AsyncSession, zone_id: str | None, after: int | None, limit: int
) -> tuple[list[ReorganisationSummary], int | None]:
    """Acts in recording order (annulled ones included, marked)."""
    rows = await repo.ReorganisationRepository(session).page(zone=zone_id, after=after, limit=limit + 1)
    more = len(rows) > limit
    rows = rows[:limit]
    items = [
        ReorganisationSummary(
            id=r.id,
            legal_basis=r.legal_basis,
            effective_on=r.effective_on,
            title=r.title,
            touched=list(r.touched),
            recorded_at=r.recorded_at,
            annulled_at=r.annulled_at,
        )
        for r in rows
    ]
    return items, (rows[-1].id if more and rows else None)


async def annul_reorganisation(command: AnnulReorganisation, ctx: WriteContext) -> ReorganisationRead:
    """Annul an act that is still the latest on every zone it touched; the annulment is recorded."""
    session = ctx.session
    act_id = command.act_id
    await repo.lock_registry(session)
    act = await repo.ReorganisationRepository(session).get(act_id)
    if act is None:
        raise NotFound(
            Text(f"整合调整 {act_id} 不存在", f"reorganisation {act_id} does not exist"),
            code="reorganisation_not_found",
            reorganisation=act_id,
        )
    if act.annulled_at is not None:
        raise Conflict(
            Text(
                f"整合调整 {act_id} 已于 {act.annulled_at.date()} 作废",
                f"reorganisation {act_id} was already annulled on {act.annulled_at.date()}",
            ),
            code="already_annulled",
        )
    zones = repo.ZoneRepository(session)
    last = await zones.last_events(act.touched)
    later = sorted(z for z in act.touched if (event := last.get(z)) is not None and event.act != act.id)
    if later:
        raise Conflict(
            Text(
                f"整合调整 {act_id} 不是开发区 {', '.join(later)} 的最近一次调整：请先作废其后的调整",
                f"reorganisation {act_id} is not the latest act on zone(s) {', '.join(later)}: "
                "annul the later acts first",
            ),
            code="not_latest_act",
            zone_ids=later,
        )
    await zones.delete_act_projection(act.id)
    await zones.reopen_latest(act.touched)
    now = datetime.now(UTC)
    act.annulled_at, act.annulled_by, act.annul_reason = now, ctx.actor.sub, command.reason
    await session.flush()
    change_id = await repo.ChangeRepository(session).append(
        "reorganisation.annulled",
        {"reorganisation": act.id, "effective_on": act.effective_on.isoformat(), "zones": list(act.touched)},
        now,
    )
    ctx.announce(change_id)
    return await get_reorganisation(session=session, act_id=act.id)
