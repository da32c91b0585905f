"""What the metrics service asks the registry, cached per app and kept fresh from its change feed.

The cache lives in the app's runtime (``MetricsRuntime.jurisdiction``, made in the lifespan; nothing module-level).
Before serving a write, and before the reads that choose zones (matrix, completeness,
quality), the service polls the registry's change feed from the last cursor and drops every
cached answer an event may have changed: the histories of the zones a reorganisation touched,
and every zone list, lineage and name resolution. So a cached answer is never older than the
last poll, and a write is checked against the registry as it stands when the write begins.
If the registry cannot be reached the poll raises ``UpstreamUnavailable`` and the write fails
closed with a 503 problem.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterable
from datetime import date
from typing import Protocol

from libs.domain.kernel.errors import NotFound, UpstreamUnavailable
from libs.domain.kernel.i18n import Text
from libs.domain.kernel.values import ZoneKind, ZoneStatus
from libs.domain.registry.contracts import ChangeFeed, ChangeRead, Lineage, ResolveResult, ZoneHistory, ZoneRead

FEED_PAGE = 500
CONCURRENT_CALLS = 16
MAX_CACHED_LISTS = 64


class Registry(Protocol):
    """The part of the registry client (real or fake) this service uses."""

    async def list_zones(
        self,
        *,
        as_of: date | None = None,
        kind: ZoneKind | None = None,
        status: ZoneStatus | None = None,
        authority: str | None = None,
    ) -> list[ZoneRead]: ...

    async def history(self, zone_id: str) -> ZoneHistory: ...

    async def lineage(self, zone_id: str) -> Lineage: ...

    async def lineages(self, zone_ids: Iterable[str]) -> dict[str, Lineage]: ...

    async def histories(self, zone_ids: Iterable[str]) -> dict[str, ZoneHistory]: ...

    async def resolve(self, name: str, *, as_of: date | None = None) -> ResolveResult: ...

    async def changes(self, *, after: str | None = None, limit: int = 500) -> ChangeFeed: ...


class Jurisdiction:
    """Cached registry answers: zone histories, zone lists by date, lineages, name resolutions."""

    def __init__(self) -> None:
        self.histories: dict[str, list[ZoneRead]] = {}
        self.lists: OrderedDict[tuple[date, str | None], list[ZoneRead]] = OrderedDict()
        self.lineages: dict[str, Lineage] = {}
        self.resolutions: dict[tuple[str, date], ResolveResult] = {}
        self.cursor: str | None = None
        self.last_change_id = 0
        self._poll_lock = asyncio.Lock()

    # --- the change feed -------------------------------------------------------------------

    async def refresh(self, registry: Registry) -> None:
        """Apply the registry's change feed since the last poll; raises when the registry is down."""
        async with self._poll_lock:
            while True:
                try:
                    feed = await registry.changes(after=self.cursor, limit=FEED_PAGE)
                except NotFound as exc:
                    raise UpstreamUnavailable(
                        Text(
                            "登记系统没有提供变更记录，无法核对开发区数据",
                            "the registry has no change feed; zone data cannot be checked",
                        ),
                        code="registry_feed_missing",
                        service="registry",
                    ) from exc
                for item in feed.items:
                    if item.id > self.last_change_id:
                        self._apply(item)
                        self.last_change_id = item.id
                moved = bool(feed.next_cursor) and feed.next_cursor != self.cursor
                if feed.next_cursor:
                    self.cursor = feed.next_cursor
                if len(feed.items) < FEED_PAGE or not moved:  # a short page: the end of the feed for now
                    return

    def _apply(self, change: ChangeRead) -> None:
        if change.type.startswith("reorganisation."):
            zones = change.payload.get("zone_ids") or []
            touched = {str(z) for z in zones} if isinstance(zones, list) else set()
            for zone_id in touched:
                self.histories.pop(zone_id, None)
            # A lineage changes when its zone or any zone on it is touched (a merge touches both sides).
            for zone_id, lineage in list(self.lineages.items()):
                links = [*lineage.predecessors, *lineage.successors]
                linked = {link.state.id for link in links} | {link.via for link in links}
                if not touched or zone_id in touched or linked & touched:
                    del self.lineages[zone_id]
        self.lists.clear()
        self.resolutions.clear()

    # --- cached reads -----------------------------------------------------------------------

    async def history(self, registry: Registry, zone_id: str) -> list[ZoneRead]:
        """Every state of the zone, oldest first; empty when the registry does not know it."""
        cached = self.histories.get(zone_id)
        if cached is not None:
            return cached
        try:
            states = [e.state for e in (await registry.history(zone_id)).entries]
        except NotFound:
            states = []
        states.sort(key=lambda s: s.valid_from)
        self.histories[zone_id] = states
        return states

    async def histories_of(self, registry: Registry, zone_ids: Iterable[str]) -> dict[str, list[ZoneRead]]:
        """:meth:`history` of several zones, asking the registry for the missing ones concurrently."""
        ids = list(dict.fromkeys(zone_ids))
        missing = [z for z in ids if z not in self.histories]
        if len(missing) > 1:  # one bulk call instead of one call per zone
            got = await registry.histories(missing)
            for z in missing:
                history = got.get(z)
                states = [e.state for e in history.entries] if history is not None else []
                self.histories[z] = sorted(states, key=lambda s: s.valid_from)
        else:
            await _bounded(missing, lambda z: self.history(registry, z))
        return {z: self.histories.get(z, []) for z in ids}

    async def active_zones(self, registry: Registry, day: date, kind: ZoneKind | None = None) -> list[ZoneRead]:
        """The zones active on ``day`` (of ``kind``), as the registry lists them."""
        key = (day, kind.value if kind else None)
        cached = self.lists.get(key)
        if cached is not None:
            self.lists.move_to_end(key)
            return cached
        zones = await registry.list_zones(as_of=day, kind=kind, status=ZoneStatus.ACTIVE)
        zones = [z for z in zones if z.status == ZoneStatus.ACTIVE and (kind is None or z.kind == kind)]
        self.lists[key] = zones
        while len(self.lists) > MAX_CACHED_LISTS:
            self.lists.popitem(last=False)
        return zones

    async def lineage(self, registry: Registry, zone_id: str) -> Lineage:
        """Predecessors and successors of the zone."""
        cached = self.lineages.get(zone_id)
        if cached is not None:
            return cached
        try:
            lineage = await registry.lineage(zone_id)
        except NotFound:
            lineage = Lineage(zone_id=zone_id, predecessors=[], successors=[])
        self.lineages[zone_id] = lineage
        return lineage

    async def lineage_of(self, registry: Registry, zone_ids: Iterable[str]) -> dict[str, Lineage]:
        """:meth:`lineage` of several zones, the missing ones fetched concurrently."""
        ids = list(dict.fromkeys(zone_ids))
        missing = [z for z in ids if z not in self.lineages]
        if len(missing) > 1:  # one bulk call instead of one call per zone
            got = await registry.lineages(missing)
            for z in missing:
                self.lineages[z] = got.get(z, Lineage(zone_id=z, predecessors=[], successors=[]))
        else:
            await _bounded(missing, lambda z: self.lineage(registry, z))
        return {z: self.lineages[z] for z in ids}

    async def resolve(self, registry: Registry, name: str, day: date) -> ResolveResult:
        """The zones carrying ``name`` on ``day`` (official, former, plaque or park name)."""
        key = (name, day)
        cached = self.resolutions.get(key)
        if cached is None:
            cached = await registry.resolve(name, as_of=day)
            self.resolutions[key] = cached
        return cached


async def _bounded(items: list[str], call: Callable[[str], Awaitable[object]]) -> None:
    """Run ``call`` on every item, at most CONCURRENT_CALLS at a time; the first error propagates."""
    if not items:
        return
    semaphore = asyncio.Semaphore(CONCURRENT_CALLS)

    async def one(item: str) -> None:
        async with semaphore:
            await call(item)

    await asyncio.gather(*(one(item) for item in items))
