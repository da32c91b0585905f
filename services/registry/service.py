"""The registry's use cases."""

from __future__ import annotations

import bisect
import hashlib
import json
import uuid
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from libs.domain.kernel.contracts import Actor
from libs.domain.kernel.errors import Conflict, NotFound, Unprocessable
from libs.domain.kernel.values import ZoneKind, ZoneLevel, ZoneStatus
from libs.domain.registry.contracts import (
    ChangeFeed,
    ChangeRead,
    ComplianceFinding,
    ComplianceReport,
    DivisionCreate,
    DivisionList,
    DivisionRead,
    DivisionWithZones,
    HistoryBulk,
    HistoryEntry,
    Lineage,
    LineageBulk,
    LineageLink,
    Park,
    ReorganisationCreate,
    ReorganisationRead,
    ReorganisationSummary,
    ResolveMatch,
    ResolveResult,
    ZoneBrief,
    ZoneChange,
    ZoneCounts,
    ZoneHistory,
    ZoneRead,
)
from libs.domain.registry.names import normalise_name
from libs.domain.registry.reorganisation import ActRefused, ParkState, StaticView, ZoneSnapshot, apply_act, needs
from services.common.db import Database, on_commit
from services.common.pagination import encode_cursor
from services.registry import repository as repo
from services.registry.readmodel import Entry, ReadModel, ZoneIndex
from services.registry.tables import Division, Reorganisation, Zone, ZoneState
from services.registry.tables import Lineage as LineageRow

MATCH_ORDER = {"official": 0, "plaque": 1, "former_name": 2, "park": 3}


# --- conversions ---------------------------------------------------------------------------


def division_read(row: Division) -> DivisionRead:
    """Contract view of a division row."""
    return DivisionRead(
        code=row.code,
        name=row.name,
        valid_from=row.valid_from,
        valid_to=row.valid_to,
        successor=row.successor,
        is_city=row.is_city,
        note=row.note,
    )


def zone_read(row: ZoneState) -> ZoneRead:
    """Contract view of a zone state row."""
    return ZoneRead(
        id=row.zone_id,
        name=row.name,
        kind=ZoneKind(row.kind),
        level=ZoneLevel(row.level),
        status=ZoneStatus(row.status),
        authority=row.authority,
        entrusted_to=row.entrusted_to,
        parks=[Park.model_validate(p) for p in row.parks],
        plaques=list(row.plaques),
        former_names=list(row.former_names),
        approved_area_km2=row.approved_area_km2,
        established_on=row.established_on,
        legal_basis=row.legal_basis,
        reorganisation=row.reorganisation_id,
        successor=row.successor,
        status_reason=row.status_reason,
        valid_from=row.valid_from,
        valid_to=row.valid_to,
    )


def snapshot_of(row: ZoneState) -> ZoneSnapshot:
    """The pure domain snapshot of a state row."""
    return ZoneSnapshot(
        id=row.zone_id,
        name=row.name,
        kind=ZoneKind(row.kind),
        level=ZoneLevel(row.level),
        status=ZoneStatus(row.status),
        authority=row.authority,
        entrusted_to=row.entrusted_to,
        parks=tuple(ParkState(p["name"], p.get("former_zone")) for p in row.parks),
        plaques=tuple(row.plaques),
        former_names=tuple(row.former_names),
        approved_area_km2=row.approved_area_km2,
        established_on=row.established_on,
        successor=row.successor,
        status_reason=row.status_reason,
    )


def _state_row(snap: ZoneSnapshot, act: Reorganisation | None, on: date, changes: list[dict[str, Any]]) -> ZoneState:
    return ZoneState(
        zone_id=snap.id,
        reorganisation_id=act.id if act is not None else 0,
        legal_basis=act.legal_basis if act is not None else "",
        valid_from=on,
        valid_to=None,
        name=snap.name,
        kind=snap.kind.value,
        level=snap.level.value,
        status=snap.status.value,
        authority=snap.authority,
        entrusted_to=snap.entrusted_to,
        parks=[{"name": p.name, "former_zone": p.former_zone} for p in snap.parks],
        plaques=list(snap.plaques),
        former_names=list(snap.former_names),
        approved_area_km2=snap.approved_area_km2,
        established_on=snap.established_on,
        successor=snap.successor,
        status_reason=snap.status_reason,
        changes=changes,
    )


def _aliases(snap: ZoneSnapshot) -> list[tuple[str, str, str]]:
    out: dict[tuple[str, str], tuple[str, str, str]] = {}
    for match, names in (
        ("official", [snap.name]),
        ("plaque", list(snap.plaques)),
        ("former_name", list(snap.former_names)),
        ("park", [p.name for p in snap.parks]),
    ):
        for name in names:
            out.setdefault((name, match), (normalise_name(name), name, match))
    return list(out.values())


def _brief(row: ZoneState) -> ZoneBrief:
    return ZoneBrief(id=row.zone_id, name=row.name, kind=ZoneKind(row.kind), level=ZoneLevel(row.level))


def _new_zone_id() -> str:
    return uuid.uuid4().hex[:12]


def _request_hash(body: ReorganisationCreate) -> str:
    canonical = json.dumps(body.model_dump(mode="json"), sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def _announce(session: AsyncSession, readmodel: ReadModel | None, change_id: int) -> None:
    """Once committed, this instance's read model must include ``change_id``."""
    if readmodel is not None:
        on_commit(session, lambda: readmodel.require(change_id))


# --- divisions -----------------------------------------------------------------------------


async def record_division(
    *, session: AsyncSession, actor: Actor, body: DivisionCreate, readmodel: ReadModel | None = None
) -> tuple[DivisionRead, bool]:
    """Record a division (or a new state of one) and end the divisions it replaces.

    Returns the recorded state and whether it was already recorded: the same state sent again
    (a retry after a lost answer) is answered with the stored one and changes nothing.
    """
    await repo.lock_registry(session)
    divisions = repo.DivisionRepository(session)
    faults: list[dict[str, Any]] = []
    existing = await divisions.versions(body.code)
    if existing and await _already_recorded(divisions, existing[-1], body):
        return division_read(existing[-1]), True
    if any(v.valid_from >= body.valid_from for v in existing):
        faults.append(
            {
                "loc": ["body", "valid_from"],
                "msg": f"{body.code} already has a state from this date or later",
                "type": "not_latest",
            }
        )
    replaced: list[Division] = []
    for i, code in enumerate(body.replaces):
        if code == body.code:
            continue  # a new state of the same code: handled as ``existing``
        old = await divisions.get_valid(code, body.valid_from - timedelta(days=1))
        if old is None or old.valid_to is not None:
            faults.append(
                {
                    "loc": ["body", "replaces", i],
                    "msg": f"{code} is not in force (and open-ended) the day before valid_from",
                    "type": "unknown_division",
                }
            )
        else:
            replaced.append(old)
    if faults:
        raise Unprocessable("the division cannot be recorded", errors=faults)
    now = datetime.now(UTC)
    current = existing[-1] if existing else None
    if current is not None and current.valid_to is None:
        current.valid_to = body.valid_from
    for old in replaced:
        old.valid_to = body.valid_from
        old.successor = body.code
    row = Division(
        code=body.code,
        name=body.name,
        valid_from=body.valid_from,
        is_city=body.is_city,
        note=body.note,
        recorded_at=now,
        recorded_by=actor.sub,
    )
    await divisions.add(row)
    change_id = await repo.ChangeRepository(session).append(
        "division.recorded",
        {"code": body.code, "valid_from": body.valid_from.isoformat(), "replaces": list(body.replaces)},
        now,
    )
    _announce(session, readmodel, change_id)
    return division_read(row), False


async def _already_recorded(divisions: repo.DivisionRepository, latest: Division, body: DivisionCreate) -> bool:
    """True if ``latest`` is exactly the state ``body`` asks for, replacements included."""
    if (latest.valid_from, latest.name, latest.is_city, latest.note or None) != (
        body.valid_from,
        body.name,
        body.is_city,
        body.note or None,
    ):
        return False
    for code in body.replaces:
        if code == body.code:
            continue
        old = await divisions.get_valid(code, body.valid_from - timedelta(days=1))
        if old is None or old.valid_to != body.valid_from or old.successor != body.code:
            return False
    return True


async def division_versions(*, session: AsyncSession, code: str) -> list[DivisionRead]:
    """Every recorded state of a division code."""
    rows = await repo.DivisionRepository(session).versions(code)
    if not rows:
        raise NotFound(f"division {code} is not recorded", division=code)
    return [division_read(r) for r in rows]


async def list_divisions(*, session: AsyncSession, as_of: date, after: str | None, limit: int) -> DivisionList:
    """Divisions in force on ``as_of`` with their zones, and the county-level ones without a zone."""
    divisions = repo.DivisionRepository(session)
    all_divisions = await divisions.valid_on(as_of)
    zones = await repo.ZoneRepository(session).active_on(as_of)
    administers: dict[str, list[ZoneState]] = defaultdict(list)
    hosts: dict[str, list[ZoneState]] = defaultdict(list)
    for z in zones:
        administers[z.authority].append(z)
        if z.entrusted_to:
            hosts[z.entrusted_to].append(z)
    without = [d.code for d in all_divisions if not d.is_city and not administers.get(d.code)]
    page = [d for d in all_divisions if after is None or d.code > after][: limit + 1]
    more = len(page) > limit
    page = page[:limit]
    items = [
        DivisionWithZones(
            **division_read(d).model_dump(),
            administers=[_brief(z) for z in administers.get(d.code, [])],
            hosts_by_entrustment=[_brief(z) for z in hosts.get(d.code, [])],
            has_provincial_zone=bool(administers.get(d.code)),
        )
        for d in page
    ]
    return DivisionList(
        as_of=as_of,
        items=items,
        next_cursor=encode_cursor(page[-1].code) if more and page else None,
        without_provincial_zone=without,
    )


# --- reorganisations -----------------------------------------------------------------------


async def record_reorganisation(
    *,
    session: AsyncSession,
    actor: Actor,
    body: ReorganisationCreate,
    dry_run: bool,
    idempotency_key: str | None,
    readmodel: ReadModel | None = None,
) -> tuple[ReorganisationRead, bool]:
    """Validate and (unless ``dry_run``) record an act; returns the act and whether it is a replay."""
    await repo.lock_registry(session)
    acts = repo.ReorganisationRepository(session)
    request_hash = _request_hash(body)
    if idempotency_key and not dry_run:
        earlier = await acts.by_idempotency_key(actor.sub, idempotency_key)
        if earlier is not None:
            if earlier.request_hash != request_hash:
                raise Unprocessable(
                    "this Idempotency-Key was used for a different request",
                    errors=[{"loc": ["header", "Idempotency-Key"], "msg": "reused with another body", "type": "reuse"}],
                )
            return await get_reorganisation(session=session, act_id=earlier.id), True

    zones = repo.ZoneRepository(session)
    on = body.effective_on
    need = needs(body.operations)
    known = await zones.known(need.zone_refs)
    states = await zones.states_on(known, on)
    last = await zones.last_events(known)
    view = StaticView(
        snapshots={z: snapshot_of(s) for z, s in states.items()},
        known=frozenset(known),
        last_events={z: day for z, (day, _act) in last.items()},
        divisions=frozenset(await repo.DivisionRepository(session).codes_valid(need.divisions, on)),
        names=await zones.carriers(need.names, on),
    )
    try:
        outcome = apply_act(view, on, body.operations, _new_zone_id)
    except ActRefused as refused:
        raise Unprocessable(
            f"the reorganisation is invalid on {on.isoformat()}: {len(refused.faults)} operation fault(s)",
            errors=[f.as_error() for f in refused.faults],
        ) from refused

    changes = [
        ZoneChange(op_index=c.op_index, op=c.op, zone=c.zone, description=c.description) for c in outcome.changes
    ]
    operations = [op.model_dump(mode="json") for op in body.operations]
    if dry_run:
        resulting = [
            zone_read(_state_row(outcome.states[z], None, on, [])).model_copy(update={"reorganisation": None})
            for z in outcome.touched
        ]
        return (
            ReorganisationRead(
                id=None,
                legal_basis=body.legal_basis,
                effective_on=on,
                title=body.title,
                note=body.note,
                operations=operations,
                zones=outcome.created,
                touched=outcome.touched,
                changes=changes,
                resulting=resulting,
                dry_run=True,
            ),
            False,
        )

    now = datetime.now(UTC)
    act = Reorganisation(
        legal_basis=body.legal_basis,
        effective_on=on,
        title=body.title,
        note=body.note,
        operations=operations,
        zone_refs=outcome.created,
        touched=outcome.touched,
        changes=[c.model_dump() for c in changes],
        recorded_at=now,
        recorded_by=actor.sub,
        idempotency_key=idempotency_key,
        request_hash=request_hash,
    )
    await acts.add(act)
    created = set(outcome.created.values())
    for zone_id in created:
        await zones.add_zone(Zone(id=zone_id, created_by=act.id))
    open_states = await zones.open_states(set(outcome.touched) - created)
    for zone_id in outcome.touched:
        previous = open_states.get(zone_id)
        if previous is not None:
            previous.valid_to = on
        notes = [c.model_dump() for c in changes if c.zone == zone_id]
        snap = outcome.states[zone_id]
        await zones.add_state(_state_row(snap, act, on, notes), _aliases(snap))
    await zones.add_edges(
        [
            LineageRow(reorganisation_id=act.id, source=e.source, target=e.target, operation=e.operation, on=on)
            for e in outcome.edges
        ]
    )
    change_id = await repo.ChangeRepository(session).append(
        "reorganisation.recorded",
        {"reorganisation": act.id, "effective_on": on.isoformat(), "zones": outcome.touched},
        now,
    )
    _announce(session, readmodel, change_id)
    return await get_reorganisation(session=session, act_id=act.id), False


async def get_reorganisation(*, session: AsyncSession, act_id: int) -> ReorganisationRead:
    """One act with the states it produced (none once annulled)."""
    act = await repo.ReorganisationRepository(session).get(act_id)
    if act is None:
        raise NotFound(f"reorganisation {act_id} does not exist", reorganisation=act_id)
    resulting: list[ZoneRead] = []
    if act.annulled_at is None:
        for zone_id in act.touched:
            for state, _act in await repo.ZoneRepository(session).history(zone_id):
                if state.reorganisation_id == act.id:
                    resulting.append(zone_read(state))
    return ReorganisationRead(
        id=act.id,
        legal_basis=act.legal_basis,
        effective_on=act.effective_on,
        title=act.title,
        note=act.note,
        operations=list(act.operations),
        zones=dict(act.zone_refs),
        touched=list(act.touched),
        changes=[ZoneChange.model_validate(c) for c in act.changes],
        resulting=resulting,
        recorded_at=act.recorded_at,
        recorded_by=act.recorded_by,
        annulled_at=act.annulled_at,
        annulled_by=act.annulled_by,
        annul_reason=act.annul_reason,
    )


async def list_reorganisations(
    *, session: AsyncSession, zone: str | None, after: int | None, limit: int
) -> tuple[list[ReorganisationSummary], int | None]:
    """Acts in recording order (annulled ones included, marked)."""
    rows = await repo.ReorganisationRepository(session).page(zone=zone, after=after, limit=limit + 1)
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


async def annul_reorganisation(
    *, session: AsyncSession, actor: Actor, act_id: int, reason: str, readmodel: ReadModel | None = None
) -> ReorganisationRead:
    """Annul an act that is still the latest on every zone it touched; the annulment is recorded."""
    await repo.lock_registry(session)
    act = await repo.ReorganisationRepository(session).get(act_id)
    if act is None:
        raise NotFound(f"reorganisation {act_id} does not exist", reorganisation=act_id)
    if act.annulled_at is not None:
        raise Conflict(f"reorganisation {act_id} was already annulled on {act.annulled_at.date()}")
    zones = repo.ZoneRepository(session)
    last = await zones.last_events(act.touched)
    later = sorted(z for z in act.touched if last.get(z, (None, act.id))[1] != act.id)
    if later:
        raise Conflict(
            f"reorganisation {act_id} is not the latest act on zone(s) {', '.join(later)}: annul the later acts first",
            zones=later,
        )
    await zones.delete_act_projection(act.id)
    await zones.reopen_latest(act.touched)
    now = datetime.now(UTC)
    act.annulled_at, act.annulled_by, act.annul_reason = now, actor.sub, reason
    await session.flush()
    change_id = await repo.ChangeRepository(session).append(
        "reorganisation.annulled",
        {"reorganisation": act.id, "effective_on": act.effective_on.isoformat(), "zones": list(act.touched)},
        now,
    )
    _announce(session, readmodel, change_id)
    return await get_reorganisation(session=session, act_id=act.id)


# --- zone reads ----------------------------------------------------------------------------


async def get_zone(*, session: AsyncSession, zone_id: str, as_of: date) -> ZoneRead:
    """A zone as it stood on ``as_of``; 404 if it was not in force then."""
    zones = repo.ZoneRepository(session)
    row = await zones.get(zone_id, as_of)
    if row is None:
        if await zones.exists(zone_id):
            raise NotFound(f"zone {zone_id} was not in force on {as_of.isoformat()}", zone=zone_id)
        raise NotFound(f"zone {zone_id} does not exist", zone=zone_id)
    return zone_read(row)


async def list_zones(
    *, session: AsyncSession, as_of: date, filters: dict[str, str | None], after: str | None, limit: int
) -> tuple[list[ZoneRead], str | None]:
    """Zones in force on ``as_of`` matching the filters; the last id when more follow."""
    rows = await repo.ZoneRepository(session).list_on(as_of, after=after, limit=limit + 1, **filters)
    more = len(rows) > limit
    rows = rows[:limit]
    return [zone_read(r) for r in rows], (rows[-1].zone_id if more and rows else None)


async def zone_history(*, session: AsyncSession, zone_id: str) -> ZoneHistory:
    """Every state of a zone with the act that produced it."""
    rows = await repo.ZoneRepository(session).history(zone_id)
    if not rows:
        raise NotFound(f"zone {zone_id} does not exist", zone=zone_id)
    return ZoneHistory(
        zone=zone_id,
        entries=[
            HistoryEntry(
                state=zone_read(state),
                reorganisation=act.id,
                legal_basis=act.legal_basis,
                effective_on=act.effective_on,
                title=act.title,
                changes=[ZoneChange.model_validate(c) for c in state.changes],
            )
            for state, act in rows
        ],
    )


async def zone_lineage(*, session: AsyncSession, zone_id: str) -> Lineage:
    """All predecessors of a zone (transitively) and its successors (transitively)."""
    zones = repo.ZoneRepository(session)
    if not await zones.exists(zone_id):
        raise NotFound(f"zone {zone_id} does not exist", zone=zone_id)

    async def walk(forward: bool) -> list[LineageLink]:
        links: list[LineageLink] = []
        seen = {zone_id}
        frontier = {zone_id}
        while frontier:
            edges = await (zones.edges_from(frontier) if forward else zones.edges_into(frontier))
            frontier = set()
            for edge in edges:
                other = edge.target if forward else edge.source
                day = edge.on if forward else edge.on - timedelta(days=1)
                state = await zones.get(other, day)
                if state is None or other in seen:
                    continue
                seen.add(other)
                frontier.add(other)
                links.append(
                    LineageLink(
                        zone=zone_read(state),
                        on=edge.on,
                        operation="merge" if edge.operation == "merge" else "split",
                        reorganisation=edge.reorganisation_id,
                        via=edge.source if forward else edge.target,
                    )
                )
        return links

    return Lineage(zone=zone_id, predecessors=await walk(False), successors=await walk(True))


async def resolve_name(*, session: AsyncSession, name: str, as_of: date) -> ResolveResult:
    """Every active zone that carries ``name`` on ``as_of``, with the strongest way it does."""
    rows = await repo.ZoneRepository(session).resolve(normalise_name(name), as_of)
    best: dict[str, tuple[int, int, ZoneState, str, str]] = {}
    for state, match, matched in rows:
        # Prefer the strongest kind of match (an official designation over a park), then an exact spelling.
        rank = (MATCH_ORDER[match], 0 if matched == name else 1)
        current = best.get(state.zone_id)
        if current is None or rank < current[:2]:
            best[state.zone_id] = (*rank, state, match, matched)
    matches = [
        ResolveMatch(zone=zone_read(state), match=match, matched_name=matched)
        for _e, _m, state, match, matched in sorted(best.values(), key=lambda t: (t[0], t[1], t[2].zone_id))
    ]
    return ResolveResult(name=name, as_of=as_of, matches=matches)


async def zone_counts(*, session: AsyncSession, as_of: date) -> ZoneCounts:
    """Active zones on ``as_of`` by kind and level (plaques and parks are not zones)."""
    rows = await repo.ZoneRepository(session).counts(as_of)
    by_kind = {k.value: 0 for k in ZoneKind}
    by_level = {lv.value: 0 for lv in ZoneLevel}
    for kind, level, n in rows:
        by_kind[kind] = by_kind.get(kind, 0) + n
        by_level[level] = by_level.get(level, 0) + n
    return ZoneCounts(as_of=as_of, total=sum(n for _k, _l, n in rows), by_kind=by_kind, by_level=by_level)


async def compliance(*, session: AsyncSession, as_of: date) -> ComplianceReport:
    """Findings against the 2016 rules: the city directly administers at most one zone per kind;
    each county-level division has one zone (一县一区). Findings, never refusals."""
    divisions = await repo.DivisionRepository(session).valid_on(as_of)
    zones = await repo.ZoneRepository(session).active_on(as_of)
    by_authority: dict[str, list[ZoneState]] = defaultdict(list)
    for z in zones:
        by_authority[z.authority].append(z)
    findings: list[ComplianceFinding] = []
    for d in divisions:
        held = by_authority.get(d.code, [])
        if d.is_city:
            for kind in ZoneKind:
                of_kind = [z for z in held if z.kind == kind.value]
                if len(of_kind) > 1:
                    findings.append(
                        ComplianceFinding(
                            rule="city_at_most_one_per_kind",
                            message=f"{d.name} directly administers {len(of_kind)} {kind.value} zones; "
                            "the policy allows one economic and one high-tech zone (二(四))",
                            division=d.code,
                            zones=[_brief(z) for z in of_kind],
                        )
                    )
        elif len(held) > 1:
            findings.append(
                ComplianceFinding(
                    rule="one_zone_per_county",
                    message=f"{d.name} administers {len(held)} zones; the policy asks for one zone per "
                    "county-level division, with several parks (一县一区、一区多园, 二(五))",
                    division=d.code,
                    zones=[_brief(z) for z in held],
                )
            )
        elif not held:
            findings.append(
                ComplianceFinding(
                    rule="county_without_zone",
                    message=f"{d.name} has no provincial zone; the policy aims for one in every county-level "
                    "division (一(二)1) and assesses it by reference (二十八)",
                    division=d.code,
                    zones=[],
                )
            )
    return ComplianceReport(as_of=as_of, findings=findings)


async def change_feed(*, session: AsyncSession, after: int, limit: int) -> ChangeFeed:
    """The change feed after ``after``."""
    rows = await repo.ChangeRepository(session).after(after, limit + 1)
    more = len(rows) > limit
    rows = rows[:limit]
    last = rows[-1].id if rows else after
    return ChangeFeed(
        items=[ChangeRead(id=r.id, occurred_at=r.occurred_at, type=r.type, payload=dict(r.payload)) for r in rows],
        next_cursor=encode_cursor(last),
        has_more=more,
    )


# --- hot reads from the in-memory index (falling back to SQL when it cannot be trusted) ----


def _dumps(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()


async def zone_json(*, db: Database, index: ZoneIndex | None, zone_id: str, as_of: date) -> bytes:
    """The ``ZoneRead`` JSON of a zone on ``as_of`` (404 like :func:`get_zone`)."""
    if index is None:
        async with db.sessions() as session:
            return (await get_zone(session=session, zone_id=zone_id, as_of=as_of)).model_dump_json().encode()
    entry = index.at(zone_id, as_of)
    if entry is None:
        if index.exists(zone_id):
            raise NotFound(f"zone {zone_id} was not in force on {as_of.isoformat()}", zone=zone_id)
        raise NotFound(f"zone {zone_id} does not exist", zone=zone_id)
    return entry.json


def _matches(entry: Entry, filters: dict[str, str | None]) -> bool:
    for key in ("kind", "level", "status", "authority", "entrusted_to"):
        wanted = filters.get(key)
        if wanted is not None and getattr(entry, key) != wanted:
            return False
    q = filters.get("q")
    return not q or any(q in name for name in entry.names)


async def zones_page_json(
    *,
    db: Database,
    index: ZoneIndex | None,
    as_of: date,
    filters: dict[str, str | None],
    after: str | None,
    limit: int,
) -> bytes:
    """A ``Page[ZoneRead]`` as JSON."""
    if index is None:
        async with db.sessions() as session:
            items, last = await list_zones(session=session, as_of=as_of, filters=filters, after=after, limit=limit)
        body = [i.model_dump_json().encode() for i in items]
    else:
        start = bisect.bisect_right(index.zone_ids, after) if after is not None else 0
        entries: list[Entry] = []
        last = None
        for zone_id in index.zone_ids[start:]:
            entry = index.at(zone_id, as_of)
            if entry is None or not _matches(entry, filters):
                continue
            if len(entries) == limit:
                last = entries[-1].zone_id
                break
            entries.append(entry)
        body = [e.json for e in entries]
    cursor = _dumps(encode_cursor(last) if last else None)
    return b'{"items":[' + b",".join(body) + b'],"next_cursor":' + cursor + b"}"


async def resolve_json(*, db: Database, index: ZoneIndex | None, name: str, as_of: date) -> bytes:
    """A ``ResolveResult`` as JSON."""
    if index is None:
        async with db.sessions() as session:
            return (await resolve_name(session=session, name=name, as_of=as_of)).model_dump_json().encode()
    best: dict[str, tuple[int, int, Entry, str, str]] = {}
    for entry, match, matched in index.aliases.get(normalise_name(name), []):
        if entry.status != ZoneStatus.ACTIVE.value or not entry.valid_on(as_of):
            continue
        rank = (MATCH_ORDER[match], 0 if matched == name else 1)
        current = best.get(entry.zone_id)
        if current is None or rank < current[:2]:
            best[entry.zone_id] = (*rank, entry, match, matched)
    parts = [
        b'{"zone":' + e.json + b',"match":' + _dumps(match) + b',"matched_name":' + _dumps(matched) + b"}"
        for _m, _x, e, match, matched in sorted(best.values(), key=lambda t: (t[0], t[1], t[2].zone_id))
    ]
    return (
        b'{"name":'
        + _dumps(name)
        + b',"as_of":'
        + _dumps(as_of.isoformat())
        + b',"matches":['
        + b",".join(parts)
        + b"]}"
    )


async def counts_from(*, db: Database, index: ZoneIndex | None, as_of: date) -> ZoneCounts:
    """Zone counts, from the index when it can be trusted."""
    if index is None:
        async with db.sessions() as session:
            return await zone_counts(session=session, as_of=as_of)
    by_kind = {k.value: 0 for k in ZoneKind}
    by_level = {lv.value: 0 for lv in ZoneLevel}
    total = 0
    for zone_id in index.zone_ids:
        entry = index.at(zone_id, as_of)
        if entry is None or entry.status != ZoneStatus.ACTIVE.value:
            continue
        total += 1
        by_kind[entry.kind] = by_kind.get(entry.kind, 0) + 1
        by_level[entry.level] = by_level.get(entry.level, 0) + 1
    return ZoneCounts(as_of=as_of, total=total, by_kind=by_kind, by_level=by_level)


async def lineage_from(*, db: Database, index: ZoneIndex | None, zone_id: str) -> Lineage:
    """Lineage, from the index when it can be trusted (same rules as :func:`zone_lineage`)."""
    if index is None:
        async with db.sessions() as session:
            return await zone_lineage(session=session, zone_id=zone_id)
    if not index.exists(zone_id):
        raise NotFound(f"zone {zone_id} does not exist", zone=zone_id)

    def walk(forward: bool) -> list[LineageLink]:
        links: list[LineageLink] = []
        seen = {zone_id}
        frontier = [zone_id]
        while frontier:
            edges = sorted(
                (e for z in frontier for e in (index.out if forward else index.into).get(z, [])), key=lambda e: e.id
            )
            frontier = []
            for edge in edges:
                other = edge.target if forward else edge.source
                entry = index.at(other, edge.on if forward else edge.on - timedelta(days=1))
                if entry is None or other in seen:
                    continue
                seen.add(other)
                frontier.append(other)
                links.append(
                    LineageLink(
                        zone=entry.read,
                        on=edge.on,
                        operation="merge" if edge.operation == "merge" else "split",
                        reorganisation=edge.reorganisation,
                        via=edge.source if forward else edge.target,
                    )
                )
        return links

    return Lineage(zone=zone_id, predecessors=walk(False), successors=walk(True))


async def lineages_bulk(*, db: Database, index: ZoneIndex | None, zone_ids: list[str]) -> LineageBulk:
    """Lineages of several zones (unknown ids left out)."""
    out: dict[str, Lineage] = {}
    for zone_id in dict.fromkeys(zone_ids):
        try:
            out[zone_id] = await lineage_from(db=db, index=index, zone_id=zone_id)
        except NotFound:
            continue
    return LineageBulk(lineages=out)


async def histories_bulk(*, session: AsyncSession, zone_ids: list[str]) -> HistoryBulk:
    """Histories of several zones in one query (unknown ids left out)."""
    rows = await repo.ZoneRepository(session).histories(dict.fromkeys(zone_ids))
    grouped: dict[str, list[HistoryEntry]] = defaultdict(list)
    for state, act in rows:
        grouped[state.zone_id].append(
            HistoryEntry(
                state=zone_read(state),
                reorganisation=act.id,
                legal_basis=act.legal_basis,
                effective_on=act.effective_on,
                title=act.title,
                changes=[ZoneChange.model_validate(c) for c in state.changes],
            )
        )
    return HistoryBulk(histories={z: ZoneHistory(zone=z, entries=e) for z, e in grouped.items()})
