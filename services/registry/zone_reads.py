"""The hot zone reads (one zone, the list, name resolution, counts, lineage) behind one interface.

Two implementations answer them alike: :class:`SqlZoneReads`, the plain path, and the in-memory
index of :mod:`services.registry.fast_paths.index_reads`, which answers when it can be trusted.
The hot routes take them from ``services.registry.api.reads``: the index's reads while they are ready
(kept so by the read model as it changes) and otherwise the app's one :class:`SqlZoneReads`;
``tests/registry/test_index_reads_differential.py`` holds the two to identical answers.
"""

from __future__ import annotations

from datetime import date
from typing import Protocol

from libs.domain.kernel.errors import NotFound
from libs.domain.registry.contracts import Lineage, LineageBulk, ZoneCounts
from services.common.db import Database
from services.registry import zones
from services.registry.zone_json import ZonePage, page_json


class ZoneReads(Protocol):
    """The reads served from memory when possible; JSON answers are exactly the contracts' JSON."""

    async def zone_json(self, zone_id: str, as_of: date) -> bytes:
        """The ``ZoneRead`` JSON of a zone on ``as_of``; 404 if it was not in force then."""
        ...

    async def zones_page(self, as_of: date, filters: dict[str, str | None], after: str | None, limit: int) -> ZonePage:
        """Zones in force on ``as_of`` matching the filters, after the cursor."""
        ...

    async def resolve_json(self, name: str, as_of: date) -> bytes:
        """The ``ResolveResult`` JSON for ``name`` on ``as_of``."""
        ...

    async def counts(self, as_of: date) -> ZoneCounts:
        """Active zones by kind and level on ``as_of``."""
        ...

    async def lineage(self, zone_id: str) -> Lineage:
        """A zone's predecessors and successors; 404 if it does not exist."""
        ...


class SqlZoneReads:
    """The plain path: each read in a session of its own."""

    __slots__ = ("db",)

    def __init__(self, db: Database) -> None:
        self.db = db

    async def zone_json(self, zone_id: str, as_of: date) -> bytes:
        """See :class:`ZoneReads`."""
        async with self.db.sessions() as session:
            return (await zones.get_zone(session=session, zone_id=zone_id, as_of=as_of)).model_dump_json().encode()

    async def zones_page(self, as_of: date, filters: dict[str, str | None], after: str | None, limit: int) -> ZonePage:
        """See :class:`ZoneReads`."""
        async with self.db.sessions() as session:
            items, last = await zones.list_zones(
                session=session, as_of=as_of, filters=filters, after=after, limit=limit
            )
        return ZonePage([i.model_dump_json().encode() for i in items], last)

    async def resolve_json(self, name: str, as_of: date) -> bytes:
        """See :class:`ZoneReads`."""
        async with self.db.sessions() as session:
            return (await zones.resolve_name(session=session, name=name, as_of=as_of)).model_dump_json().encode()

    async def counts(self, as_of: date) -> ZoneCounts:
        """See :class:`ZoneReads`."""
        async with self.db.sessions() as session:
            return await zones.zone_counts(session=session, as_of=as_of)

    async def lineage(self, zone_id: str) -> Lineage:
        """See :class:`ZoneReads`."""
        async with self.db.sessions() as session:
            return await zones.zone_lineage(session=session, zone_id=zone_id)


async def zones_page_json(
    reads: ZoneReads, *, as_of: date, filters: dict[str, str | None], after: str | None, limit: int
) -> bytes:
    """A ``Page[ZoneRead]`` as JSON."""
    return page_json(await reads.zones_page(as_of, filters, after, limit))


async def lineages_bulk(reads: ZoneReads, zone_ids: list[str]) -> LineageBulk:
    """Lineages of several zones (unknown ids left out)."""
    out: dict[str, Lineage] = {}
    for zone_id in dict.fromkeys(zone_ids):
        try:
            out[zone_id] = await reads.lineage(zone_id)
        except NotFound:
            continue
    return LineageBulk(lineages=out)
