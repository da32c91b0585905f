"""Zone reads answered by SQL: the plain path of the hot reads, and the reads only SQL answers."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from libs.domain.kernel.errors import NotFound
from libs.domain.kernel.i18n import Text
from libs.domain.kernel.values import ZoneKind, ZoneLevel
from libs.domain.registry.contracts import (
    HistoryBulk,
    HistoryEntry,
    Lineage,
    LineageLink,
    ResolveMatch,
    ResolveResult,
    ZoneCounts,
    ZoneHistory,
    ZoneRead,
)
from libs.domain.registry.names import normalise_name, strongest_matches
from services.registry import repository as repo
from services.registry.conversions import history_entry, zone_read


def zone_missing(zone_id: str, as_of: date, exists: bool) -> NotFound:
    """The 404 for a zone with no state on ``as_of``: out of force then, or never recorded."""
    if exists:
        return NotFound(
            Text(
                f"开发区 {zone_id} 在 {as_of.isoformat()} 不在有效期内",
                f"zone {zone_id} was not in force on {as_of.isoformat()}",
            ),
            code="zone_not_in_force",
            zone_id=zone_id,
        )
    return unknown_zone(zone_id)


def unknown_zone(zone_id: str) -> NotFound:
    """The 404 for a zone id never recorded."""
    return NotFound(
        Text(f"开发区 {zone_id} 不存在", f"zone {zone_id} does not exist"), code="zone_not_found", zone_id=zone_id
    )


async def get_zone(*, session: AsyncSession, zone_id: str, as_of: date) -> ZoneRead:
    """A zone as it stood on ``as_of``; 404 if it was not in force then."""
    zones = repo.ZoneRepository(session)
    row = await zones.get(zone_id, as_of)
    if row is None:
        raise zone_missing(zone_id, as_of, await zones.exists(zone_id))
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
        raise unknown_zone(zone_id)
    return ZoneHistory(zone_id=zone_id, entries=[history_entry(row.state, row.act) for row in rows])


async def histories_bulk(*, session: AsyncSession, zone_ids: list[str]) -> HistoryBulk:
    """Histories of several zones in one query (unknown ids left out)."""
    rows = await repo.ZoneRepository(session).histories(dict.fromkeys(zone_ids))
    grouped: dict[str, list[HistoryEntry]] = defaultdict(list)
    for row in rows:
        grouped[row.state.zone_id].append(history_entry(row.state, row.act))
    return HistoryBulk(histories={z: ZoneHistory(zone_id=z, entries=e) for z, e in grouped.items()})


async def zone_lineage(*, session: AsyncSession, zone_id: str) -> Lineage:
    """All predecessors of a zone (transitively) and its successors (transitively)."""
    zones = repo.ZoneRepository(session)
    if not await zones.exists(zone_id):
        raise unknown_zone(zone_id)

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
                        state=zone_read(state),
                        on=edge.on,
                        operation="merge" if edge.operation == "merge" else "split",
                        reorganisation=edge.reorganisation_id,
                        via=edge.source if forward else edge.target,
                    )
                )
        return links

    return Lineage(zone_id=zone_id, predecessors=await walk(False), successors=await walk(True))


async def resolve_name(*, session: AsyncSession, name: str, as_of: date) -> ResolveResult:
    """Every active zone that carries ``name`` on ``as_of``, with the strongest way it does."""
    rows = await repo.ZoneRepository(session).resolve(normalise_name(name), as_of)
    matches = [
        ResolveMatch(state=zone_read(m.found), match=m.match, matched_name=m.matched_name)
        for m in strongest_matches(name, rows)
    ]
    return ResolveResult(name=name, as_of=as_of, matches=matches)


async def zone_counts(*, session: AsyncSession, as_of: date) -> ZoneCounts:
    """Active zones on ``as_of`` by kind and level (plaques and parks are not zones)."""
    rows = await repo.ZoneRepository(session).counts(as_of)
    by_kind = {k.value: 0 for k in ZoneKind}
    by_level = {lv.value: 0 for lv in ZoneLevel}
    for row in rows:
        by_kind[row.kind] = by_kind.get(row.kind, 0) + row.n
        by_level[row.level] = by_level.get(row.level, 0) + row.n
    return ZoneCounts(as_of=as_of, total=sum(row.n for row in rows), by_kind=by_kind, by_level=by_level)
