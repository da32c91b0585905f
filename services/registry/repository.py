"""All of the registry's queries. Repositories flush; the request's session commits."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime
from typing import Any, NamedTuple

from sqlalchemy import and_, delete, func, or_, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from libs.domain.registry.names import NameMatch
from services.common.db import serialise_writes
from services.registry.readmodel import notify_sql
from services.registry.tables import Change, Division, Lineage, Reorganisation, Zone, ZoneAlias, ZoneState

ACTIVE = "active"


class AliasRow(NamedTuple):
    """A look-up row of a state: the normalised alias, the name as enacted, the kind of match."""

    alias: str
    name: str
    match: str


class LastEvent(NamedTuple):
    """The effective date and id of the latest act recorded on a zone."""

    on: date
    act: int


class KindLevelCount(NamedTuple):
    """How many active zones have one kind and level."""

    kind: str
    level: str
    n: int


class StateWithAct(NamedTuple):
    """A zone state and the act that produced it."""

    state: ZoneState
    act: Reorganisation


def valid_on(model: Any, as_of: date) -> ColumnElement[bool]:
    """Rows whose validity interval ``[valid_from, valid_to)`` contains ``as_of``."""
    return and_(model.valid_from <= as_of, or_(model.valid_to.is_(None), model.valid_to > as_of))


async def lock_registry(session: AsyncSession) -> None:
    """Serialise registry writes for the rest of the transaction."""
    await serialise_writes(session, "write_lock", "registry")


class DivisionRepository:
    """Divisions and their validity intervals."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def versions(self, code: str) -> list[Division]:
        """Every recorded state of ``code``, oldest first."""
        rows = await self.session.scalars(select(Division).where(Division.code == code).order_by(Division.valid_from))
        return list(rows)

    async def valid_on(self, as_of: date, *, after_code: str | None = None, limit: int | None = None) -> list[Division]:
        """Divisions in force on ``as_of``, ordered by code, after the cursor."""
        stmt = select(Division).where(valid_on(Division, as_of)).order_by(Division.code)
        if after_code is not None:
            stmt = stmt.where(Division.code > after_code)
        if limit is not None:
            stmt = stmt.limit(limit)
        return list(await self.session.scalars(stmt))

    async def get_valid(self, code: str, as_of: date) -> Division | None:
        """The state of ``code`` in force on ``as_of``."""
        stmt = select(Division).where(Division.code == code, valid_on(Division, as_of))
        return (await self.session.scalars(stmt)).first()

    async def codes_valid(self, codes: Iterable[str], as_of: date) -> set[str]:
        """Which of ``codes`` are in force on ``as_of``."""
        wanted = list(set(codes))
        if not wanted:
            return set()
        stmt = select(Division.code).where(Division.code.in_(wanted), valid_on(Division, as_of))
        return set(await self.session.scalars(stmt))

    async def add(self, division: Division) -> None:
        """Insert a division state."""
        self.session.add(division)
        await self.session.flush()


class ZoneRepository:
    """Zone identities and the projection of their states."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, zone_id: str, as_of: date) -> ZoneState | None:
        """The state of ``zone_id`` in force on ``as_of``."""
        stmt = select(ZoneState).where(ZoneState.zone_id == zone_id, valid_on(ZoneState, as_of))
        return (await self.session.scalars(stmt)).first()

    async def states_on(self, zone_ids: Iterable[str], as_of: date) -> dict[str, ZoneState]:
        """States of several zones in force on ``as_of``."""
        ids = list(set(zone_ids))
        if not ids:
            return {}
        stmt = select(ZoneState).where(ZoneState.zone_id.in_(ids), valid_on(ZoneState, as_of))
        return {row.zone_id: row for row in await self.session.scalars(stmt)}

    async def exists(self, zone_id: str) -> bool:
        """True if ``zone_id`` has been recorded (and not annulled away)."""
        return (await self.session.get(Zone, zone_id)) is not None

    async def known(self, zone_ids: Iterable[str]) -> set[str]:
        """Which of ``zone_ids`` are recorded."""
        ids = list(set(zone_ids))
        if not ids:
            return set()
        return set(await self.session.scalars(select(Zone.id).where(Zone.id.in_(ids))))

    async def last_events(self, zone_ids: Iterable[str]) -> dict[str, LastEvent]:
        """For each zone, the effective date and id of the latest act recorded on it."""
        ids = list(set(zone_ids))
        if not ids:
            return {}
        stmt = (
            select(ZoneState.zone_id, func.max(ZoneState.valid_from), func.max(ZoneState.reorganisation_id))
            .where(ZoneState.zone_id.in_(ids))
            .group_by(ZoneState.zone_id)
        )
        return {zone_id: LastEvent(day, act) for zone_id, day, act in (await self.session.execute(stmt)).all()}

    async def carriers(self, names: Iterable[str], as_of: date) -> dict[str, str]:
        """Active zones carrying any of ``names`` as official name or plaque on ``as_of``."""
        wanted = list(set(names))
        if not wanted:
            return {}
        stmt = (
            select(ZoneAlias.name, ZoneState.zone_id)
            .join(ZoneState, ZoneState.id == ZoneAlias.state_id)
            .where(
                ZoneAlias.name.in_(wanted),
                ZoneAlias.match.in_(("official", "plaque")),
                ZoneState.status == ACTIVE,
                valid_on(ZoneState, as_of),
            )
        )
        return {name: zone_id for name, zone_id in (await self.session.execute(stmt)).all()}

    async def list_on(
        self,
        as_of: date,
        *,
        kind: str | None = None,
        level: str | None = None,
        status: str | None = None,
        authority: str | None = None,
        entrusted_to: str | None = None,
        q: str | None = None,
        after: str | None = None,
        limit: int,
    ) -> list[ZoneState]:
        """States in force on ``as_of`` matching the filters, ordered by zone id, after the cursor."""
        stmt = select(ZoneState).where(valid_on(ZoneState, as_of))
        for column, value in (
            (ZoneState.kind, kind),
            (ZoneState.level, level),
            (ZoneState.status, status),
            (ZoneState.authority, authority),
            (ZoneState.entrusted_to, entrusted_to),
        ):
            if value is not None:
                stmt = stmt.where(column == value)
        if q:
            pattern = "%" + q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
            stmt = stmt.where(
                ZoneState.id.in_(select(ZoneAlias.state_id).where(ZoneAlias.name.like(pattern, escape="\\")))
            )
        if after is not None:
            stmt = stmt.where(ZoneState.zone_id > after)
        stmt = stmt.order_by(ZoneState.zone_id).limit(limit)
        return list(await self.session.scalars(stmt))

    async def active_on(self, as_of: date) -> list[ZoneState]:
        """Every active zone state in force on ``as_of``."""
        stmt = select(ZoneState).where(valid_on(ZoneState, as_of), ZoneState.status == ACTIVE)
        return list(await self.session.scalars(stmt.order_by(ZoneState.zone_id)))

    async def counts(self, as_of: date) -> list[KindLevelCount]:
        """(kind, level, number) of active zones on ``as_of``."""
        stmt = (
            select(ZoneState.kind, ZoneState.level, func.count())
            .where(valid_on(ZoneState, as_of), ZoneState.status == ACTIVE)
            .group_by(ZoneState.kind, ZoneState.level)
        )
        return [KindLevelCount(k, lv, int(n)) for k, lv, n in (await self.session.execute(stmt)).all()]

    async def resolve(self, normalised: str, as_of: date) -> list[NameMatch[ZoneState]]:
        """Active zones' states answering to the normalised name, and how."""
        stmt = (
            select(ZoneState, ZoneAlias.match, ZoneAlias.name)
            .join(ZoneAlias, ZoneAlias.state_id == ZoneState.id)
            .where(ZoneAlias.alias == normalised, ZoneState.status == ACTIVE, valid_on(ZoneState, as_of))
        )
        return [NameMatch(s.zone_id, s, m, n) for s, m, n in (await self.session.execute(stmt)).all()]

    async def history(self, zone_id: str) -> list[StateWithAct]:
        """Every state of the zone with its act, oldest first."""
        stmt = (
            select(ZoneState, Reorganisation)
            .join(Reorganisation, Reorganisation.id == ZoneState.reorganisation_id)
            .where(ZoneState.zone_id == zone_id)
            .order_by(ZoneState.valid_from, ZoneState.reorganisation_id)
        )
        return [StateWithAct(s, r) for s, r in (await self.session.execute(stmt)).all()]

    async def histories(self, zone_ids: Iterable[str]) -> list[StateWithAct]:
        """Every state of several zones with their acts, by zone then oldest first."""
        ids = list(set(zone_ids))
        if not ids:
            return []
        stmt = (
            select(ZoneState, Reorganisation)
            .join(Reorganisation, Reorganisation.id == ZoneState.reorganisation_id)
            .where(ZoneState.zone_id.in_(ids))
            .order_by(ZoneState.zone_id, ZoneState.valid_from, ZoneState.reorganisation_id)
        )
        return [StateWithAct(s, r) for s, r in (await self.session.execute(stmt)).all()]

    async def open_states(self, zone_ids: Iterable[str]) -> dict[str, ZoneState]:
        """The open-ended (latest) state of each zone."""
        ids = list(set(zone_ids))
        if not ids:
            return {}
        stmt = select(ZoneState).where(ZoneState.zone_id.in_(ids), ZoneState.valid_to.is_(None))
        return {row.zone_id: row for row in await self.session.scalars(stmt)}

    async def add_zone(self, zone: Zone) -> None:
        """Record a new zone identity."""
        self.session.add(zone)

    async def add_state(self, state: ZoneState, aliases: Sequence[AliasRow]) -> None:
        """Insert a state and its look-up rows."""
        self.session.add(state)
        await self.session.flush()
        self.session.add_all(ZoneAlias(state_id=state.id, alias=a.alias, name=a.name, match=a.match) for a in aliases)

    async def delete_act_projection(self, act_id: int) -> None:
        """Remove the states, aliases, lineage and zones an act produced."""
        state_ids = select(ZoneState.id).where(ZoneState.reorganisation_id == act_id)
        await self.session.execute(delete(ZoneAlias).where(ZoneAlias.state_id.in_(state_ids)))
        await self.session.execute(delete(ZoneState).where(ZoneState.reorganisation_id == act_id))
        await self.session.execute(delete(Lineage).where(Lineage.reorganisation_id == act_id))
        await self.session.execute(delete(Zone).where(Zone.created_by == act_id))

    async def reopen_latest(self, zone_ids: Iterable[str]) -> None:
        """Make each zone's latest remaining state open-ended again."""
        for zone_id in set(zone_ids):
            latest = await self.session.scalar(
                select(ZoneState.id)
                .where(ZoneState.zone_id == zone_id)
                .order_by(ZoneState.valid_from.desc(), ZoneState.reorganisation_id.desc())
                .limit(1)
            )
            if latest is not None:
                await self.session.execute(update(ZoneState).where(ZoneState.id == latest).values(valid_to=None))

    async def add_edges(self, edges: Sequence[Lineage]) -> None:
        """Record lineage links."""
        self.session.add_all(edges)

    async def edges_into(self, targets: Iterable[str]) -> list[Lineage]:
        """Links whose target is one of ``targets``."""
        ids = list(set(targets))
        if not ids:
            return []
        return list(await self.session.scalars(select(Lineage).where(Lineage.target.in_(ids)).order_by(Lineage.id)))

    async def edges_from(self, sources: Iterable[str]) -> list[Lineage]:
        """Links whose source is one of ``sources``."""
        ids = list(set(sources))
        if not ids:
            return []
        return list(await self.session.scalars(select(Lineage).where(Lineage.source.in_(ids)).order_by(Lineage.id)))


class ReorganisationRepository:
    """The log of acts."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, act_id: int) -> Reorganisation | None:
        """One act."""
        return await self.session.get(Reorganisation, act_id)

    async def add(self, act: Reorganisation) -> None:
        """Insert an act (assigns its id)."""
        self.session.add(act)
        await self.session.flush()

    async def page(self, *, zone: str | None, after: int | None, limit: int) -> list[Reorganisation]:
        """Acts in recording order, optionally those that touched ``zone``."""
        stmt = select(Reorganisation).order_by(Reorganisation.id).limit(limit)
        if after is not None:
            stmt = stmt.where(Reorganisation.id > after)
        if zone is not None:
            stmt = stmt.where(
                Reorganisation.id.in_(select(ZoneState.reorganisation_id).where(ZoneState.zone_id == zone))
            )
        return list(await self.session.scalars(stmt))


class ChangeRepository:
    """The change feed."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def append(self, type_: str, payload: dict[str, Any], at: datetime) -> int:
        """Record a change in the current transaction and announce it (on PostgreSQL, at commit)."""
        change = Change(type=type_, payload=payload, occurred_at=at)
        self.session.add(change)
        await self.session.flush()
        if self.session.bind.dialect.name == "postgresql":
            sql, params = notify_sql(change.id)
            await self.session.execute(text(sql), params)
        return change.id

    async def after(self, after_id: int, limit: int) -> list[Change]:
        """Changes after ``after_id``, oldest first."""
        rows = await self.session.scalars(select(Change).where(Change.id > after_id).order_by(Change.id).limit(limit))
        return list(rows)
