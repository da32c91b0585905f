"""The hot zone reads answered from the in-memory index instead of SQL.

Measured need: the as-of reads are the registry's load (every other service resolves zones
through them); from SQL a single-zone read ran at a fraction of the bare-FastAPI rate, from
memory at about a third of it (``python -m bench registry``). Each state's JSON is serialised once
when the index is loaded, so an answer is mostly splicing bytes.

One entry point, :func:`index_reads`, which declines (``None``: take the SQL path of
:class:`services.registry.zone_reads.SqlZoneReads`) when the index is switched off
(``REGISTRY_MEMORY_INDEX=false``) or cannot be trusted to include every committed write this
instance knows of (see :mod:`services.registry.readmodel`). The reads of a snapshot are made once,
when the snapshot is loaded, and kept ready by the read model while they may answer, so a read
that finds them ready costs one attribute and allocates nothing. The answers are those of the SQL
path, byte for byte: ``tests/registry/test_index_reads_differential.py`` holds them to it.
"""

from __future__ import annotations

import bisect
from datetime import date, timedelta

from libs.domain.kernel.values import ZoneKind, ZoneLevel, ZoneStatus
from libs.domain.registry.contracts import Lineage, LineageLink, ZoneCounts
from libs.domain.registry.names import normalise_name, strongest_matches
from services.registry.readmodel import Entry, ReadModel, ZoneIndex
from services.registry.zone_json import ZonePage, json_bytes
from services.registry.zones import unknown_zone, zone_missing

_ACTIVE = ZoneStatus.ACTIVE.value
_FILTERED = ("kind", "level", "status", "authority", "entrusted_to")


async def index_reads(readmodel: ReadModel[IndexZoneReads] | None) -> IndexZoneReads | None:
    """Reads over a snapshot that includes every change known here, or ``None`` (use SQL)."""
    if readmodel is None:
        return None
    ready = readmodel.ready
    if ready is not None:  # the common case: no load to wait for, nothing to make
        return ready
    return await readmodel.current()


def _matches(entry: Entry, filters: dict[str, str | None]) -> bool:
    for key in _FILTERED:
        wanted = filters.get(key)
        if wanted is not None and getattr(entry, key) != wanted:
            return False
    q = filters.get("q")
    return not q or any(q in name for name in entry.names)


class IndexZoneReads:
    """The :class:`services.registry.zone_reads.ZoneReads` of one index snapshot."""

    __slots__ = ("index",)

    def __init__(self, index: ZoneIndex) -> None:
        self.index = index

    async def zone_json(self, zone_id: str, as_of: date) -> bytes:
        """See :class:`services.registry.zone_reads.ZoneReads`."""
        entry = self.index.at(zone_id, as_of)
        if entry is None:
            raise zone_missing(zone_id, as_of, self.index.exists(zone_id))
        return entry.json

    async def zones_page(self, as_of: date, filters: dict[str, str | None], after: str | None, limit: int) -> ZonePage:
        """See :class:`services.registry.zone_reads.ZoneReads`."""
        index = self.index
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
        return ZonePage([e.json for e in entries], last)

    async def resolve_json(self, name: str, as_of: date) -> bytes:
        """See :class:`services.registry.zone_reads.ZoneReads`."""
        candidates = (
            alias
            for alias in self.index.aliases.get(normalise_name(name), ())
            if alias.found.status == _ACTIVE and alias.found.valid_on(as_of)
        )
        parts = [
            b'{"state":'
            + m.found.json
            + b',"match":'
            + json_bytes(m.match)
            + b',"matched_name":'
            + json_bytes(m.matched_name)
            + b"}"
            for m in strongest_matches(name, candidates)
        ]
        return (
            b'{"name":'
            + json_bytes(name)
            + b',"as_of":'
            + json_bytes(as_of.isoformat())
            + b',"matches":['
            + b",".join(parts)
            + b"]}"
        )

    async def counts(self, as_of: date) -> ZoneCounts:
        """See :class:`services.registry.zone_reads.ZoneReads`."""
        index = self.index
        by_kind = {k.value: 0 for k in ZoneKind}
        by_level = {lv.value: 0 for lv in ZoneLevel}
        total = 0
        for zone_id in index.zone_ids:
            entry = index.at(zone_id, as_of)
            if entry is None or entry.status != _ACTIVE:
                continue
            total += 1
            by_kind[entry.kind] = by_kind.get(entry.kind, 0) + 1
            by_level[entry.level] = by_level.get(entry.level, 0) + 1
        return ZoneCounts(as_of=as_of, total=total, by_kind=by_kind, by_level=by_level)

    async def lineage(self, zone_id: str) -> Lineage:
        """See :class:`services.registry.zone_reads.ZoneReads`."""
        if not self.index.exists(zone_id):
            raise unknown_zone(zone_id)
        return Lineage(zone_id=zone_id, predecessors=self._walk(zone_id, False), successors=self._walk(zone_id, True))

    def _walk(self, zone_id: str, forward: bool) -> list[LineageLink]:
        """Links followed transitively forwards (successors) or backwards (predecessors)."""
        index = self.index
        by_zone = index.out if forward else index.into
        links: list[LineageLink] = []
        seen = {zone_id}
        frontier = [zone_id]
        while frontier:
            edges = sorted((e for z in frontier for e in by_zone.get(z, [])), key=lambda e: e.id)
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
                        state=entry.read,
                        on=edge.on,
                        operation="merge" if edge.operation == "merge" else "split",
                        reorganisation=edge.reorganisation,
                        via=edge.source if forward else edge.target,
                    )
                )
        return links
