"""Typed client of the registry service, and the test double consumers use in unit tests."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from typing import Any, TypeVar
from urllib.parse import quote

from libs.domain.clients.base import M, ServiceClient
from libs.domain.kernel.contracts import Page
from libs.domain.kernel.errors import NotFound
from libs.domain.kernel.i18n import Text
from libs.domain.kernel.values import ZoneKind, ZoneStatus
from libs.domain.registry.contracts import (
    ChangeFeed,
    DivisionList,
    DivisionWithZones,
    HistoryBulk,
    Lineage,
    LineageBulk,
    ResolveMatch,
    ResolveResult,
    ZoneCounts,
    ZoneHistory,
    ZoneRead,
)

ZONE_PAGE = 5000
BULK = 1000
Bulk = TypeVar("Bulk", LineageBulk, HistoryBulk)


def _seg(value: str) -> str:
    """One path segment, percent-encoded (ids come from callers and may hold any character)."""
    return quote(value, safe="")


def _iso(d: date | None) -> str | None:
    return d.isoformat() if d else None


class RegistryClient(ServiceClient):
    """Calls the registry over HTTP; raises ``NotFound`` / ``UpstreamUnavailable`` / ``UpstreamError``."""

    service = "registry"

    async def get_zone(self, zone_id: str, *, as_of: date | None = None) -> ZoneRead:
        """The zone as it stood on ``as_of`` (registry's default: today)."""
        return await self._zone(zone_id, "", ZoneRead, params={"as_of": _iso(as_of)})

    async def list_zones(
        self,
        *,
        as_of: date | None = None,
        kind: ZoneKind | None = None,
        status: ZoneStatus | None = None,
        authority: str | None = None,
    ) -> list[ZoneRead]:
        """Every zone in force on ``as_of`` matching the filters (all pages)."""
        out: list[ZoneRead] = []
        cursor: str | None = None
        while True:
            page = await self.get_model(
                "/v1/zones",
                Page[ZoneRead],
                params={
                    "as_of": _iso(as_of),
                    "kind": kind,
                    "status": status,
                    "authority": authority,
                    "limit": ZONE_PAGE,
                    "cursor": cursor,
                },
            )
            out.extend(page.items)
            if not page.next_cursor:
                return out
            cursor = page.next_cursor

    async def history(self, zone_id: str) -> ZoneHistory:
        """Every state the zone has had."""
        return await self._zone(zone_id, "/history", ZoneHistory)

    async def lineage(self, zone_id: str) -> Lineage:
        """Predecessors (transitively) and successors of the zone."""
        return await self._zone(zone_id, "/lineage", Lineage)

    async def _zone(self, zone_id: str, sub: str, model: type[M], params: dict[str, Any] | None = None) -> M:
        response = await self.request("GET", f"/v1/zones/{_seg(zone_id)}{sub}", params=params)
        if response.status_code == 422:  # the registry refuses the id itself: no zone has it
            raise NotFound(
                Text(
                    f"开发区 {zone_id!r} 不存在（不是有效的开发区 id）",
                    f"zone {zone_id!r} does not exist (not a valid zone id)",
                ),
                code="zone_not_found",
                service=self.service,
                zone_id=zone_id,
            )
        return self._parse(response, model)

    async def _bulk(self, path: str, zone_ids: Iterable[str], model: type[Bulk]) -> list[Bulk]:
        """The answers of ``POST path`` for ``zone_ids`` (deduplicated) in calls of :data:`BULK` zones."""
        ids = list(dict.fromkeys(zone_ids))
        answers = []
        for start in range(0, len(ids), BULK):
            r = await self.request("POST", path, json={"zone_ids": ids[start : start + BULK]}, idempotent=True)
            answers.append(self._parse(r, model))
        return answers

    async def lineages(self, zone_ids: Iterable[str]) -> dict[str, Lineage]:
        """Lineages of many zones in bulk calls (unknown ids are left out)."""
        parts = await self._bulk("/v1/zones/lineages", zone_ids, LineageBulk)
        return {k: v for part in parts for k, v in part.lineages.items()}

    async def histories(self, zone_ids: Iterable[str]) -> dict[str, ZoneHistory]:
        """Histories of many zones in bulk calls (unknown ids are left out)."""
        parts = await self._bulk("/v1/zones/histories", zone_ids, HistoryBulk)
        return {k: v for part in parts for k, v in part.histories.items()}

    async def resolve(self, name: str, *, as_of: date | None = None) -> ResolveResult:
        """Which zones carry ``name`` (official, former, plaque or park) on ``as_of``."""
        return await self.get_model("/v1/zones/resolve", ResolveResult, params={"name": name, "as_of": _iso(as_of)})

    async def counts(self, *, as_of: date | None = None) -> ZoneCounts:
        """Active zones on ``as_of`` by kind and level."""
        return await self.get_model("/v1/zones/counts", ZoneCounts, params={"as_of": _iso(as_of)})

    async def divisions(self, *, as_of: date | None = None) -> list[DivisionWithZones]:
        """Every division in force on ``as_of`` with its zones (all pages)."""
        out: list[DivisionWithZones] = []
        cursor: str | None = None
        while True:
            page = await self.get_model(
                "/v1/divisions", DivisionList, params={"as_of": _iso(as_of), "limit": 500, "cursor": cursor}
            )
            out.extend(page.items)
            if not page.next_cursor:
                return out
            cursor = page.next_cursor

    async def changes(self, *, after: str | None = None, limit: int = 500) -> ChangeFeed:
        """The change feed after the cursor ``after`` (from the start if ``None``).

        ``next_cursor`` is always set; a page with fewer than ``limit`` items is the end for now."""
        return await self.get_model("/v1/changes", ChangeFeed, params={"cursor": after, "limit": limit})


class FakeRegistryClient:
    """In-memory stand-in for :class:`RegistryClient` in consumers' unit tests.

    Holds zone states (several per zone for history), lineages and a change feed; answers
    like the real registry does for the same data, including ``NotFound``.
    """

    def __init__(
        self,
        zones: Iterable[ZoneRead] = (),
        *,
        lineages: dict[str, Lineage] | None = None,
        changes: ChangeFeed | None = None,
    ) -> None:
        self.states: dict[str, list[ZoneRead]] = {}
        for z in zones:
            self.states.setdefault(z.id, []).append(z)
        for states in self.states.values():
            states.sort(key=lambda s: s.valid_from)
        self.lineage_map = lineages or {}
        self.feed = changes or ChangeFeed(items=[], next_cursor="")
        self.calls: list[tuple[str, object]] = []

    def _at(self, zone_id: str, as_of: date | None) -> ZoneRead | None:
        states = self.states.get(zone_id, [])
        if as_of is None:
            return states[-1] if states else None
        for s in states:
            if s.valid_from <= as_of and (s.valid_to is None or s.valid_to > as_of):
                return s
        return None

    async def get_zone(self, zone_id: str, *, as_of: date | None = None) -> ZoneRead:
        """Answer from the in-memory zones."""
        self.calls.append(("get_zone", zone_id))
        zone = self._at(zone_id, as_of)
        if zone is None:
            raise NotFound(
                Text(f"开发区 {zone_id} 不存在", f"zone {zone_id} does not exist"),
                code="zone_not_found",
                service="registry",
            )
        return zone

    async def list_zones(
        self,
        *,
        as_of: date | None = None,
        kind: ZoneKind | None = None,
        status: ZoneStatus | None = None,
        authority: str | None = None,
    ) -> list[ZoneRead]:
        """Zones in force on ``as_of`` matching the filters."""
        self.calls.append(("list_zones", as_of))
        out = []
        for zone_id in sorted(self.states):
            z = self._at(zone_id, as_of)
            if z is None:
                continue
            if (kind and z.kind != kind) or (status and z.status != status) or (authority and z.authority != authority):
                continue
            out.append(z)
        return out

    async def history(self, zone_id: str) -> ZoneHistory:
        """A history built from the in-memory states (act fields left generic)."""
        from libs.domain.registry.contracts import HistoryEntry

        self.calls.append(("history", zone_id))
        if zone_id not in self.states:
            raise NotFound(
                Text(f"开发区 {zone_id} 不存在", f"zone {zone_id} does not exist"),
                code="zone_not_found",
                service="registry",
            )
        return ZoneHistory(
            zone_id=zone_id,
            entries=[
                HistoryEntry(
                    state=s,
                    reorganisation=s.reorganisation or 1,
                    legal_basis=s.legal_basis or "",
                    effective_on=s.valid_from,
                    title="",
                    changes=[],
                )
                for s in self.states[zone_id]
            ],
        )

    async def lineage(self, zone_id: str) -> Lineage:
        """The lineage given to the fake (empty if none)."""
        self.calls.append(("lineage", zone_id))
        if zone_id not in self.states:
            raise NotFound(
                Text(f"开发区 {zone_id} 不存在", f"zone {zone_id} does not exist"),
                code="zone_not_found",
                service="registry",
            )
        return self.lineage_map.get(zone_id, Lineage(zone_id=zone_id, predecessors=[], successors=[]))

    async def lineages(self, zone_ids: Iterable[str]) -> dict[str, Lineage]:
        """Bulk :meth:`lineage` (unknown ids left out)."""
        out: dict[str, Lineage] = {}
        for zone_id in dict.fromkeys(zone_ids):
            if zone_id in self.states:
                out[zone_id] = await self.lineage(zone_id)
        return out

    async def histories(self, zone_ids: Iterable[str]) -> dict[str, ZoneHistory]:
        """Bulk :meth:`history` (unknown ids left out)."""
        out: dict[str, ZoneHistory] = {}
        for zone_id in dict.fromkeys(zone_ids):
            if zone_id in self.states:
                out[zone_id] = await self.history(zone_id)
        return out

    async def resolve(self, name: str, *, as_of: date | None = None) -> ResolveResult:
        """Exact-name matching over official names, former names, plaques and parks."""
        self.calls.append(("resolve", name))
        day = as_of or date.today()
        matches: list[ResolveMatch] = []
        for zone_id in sorted(self.states):
            z = self._at(zone_id, day)
            if z is None or z.status != ZoneStatus.ACTIVE:
                continue
            if z.name == name:
                matches.append(ResolveMatch(state=z, match="official", matched_name=name))
            elif name in z.plaques:
                matches.append(ResolveMatch(state=z, match="plaque", matched_name=name))
            elif name in z.former_names:
                matches.append(ResolveMatch(state=z, match="former_name", matched_name=name))
            elif any(p.name == name for p in z.parks):
                matches.append(ResolveMatch(state=z, match="park", matched_name=name))
        return ResolveResult(name=name, as_of=day, matches=matches)

    async def counts(self, *, as_of: date | None = None) -> ZoneCounts:
        """Counts over the in-memory active zones."""
        zones = await self.list_zones(as_of=as_of, status=ZoneStatus.ACTIVE)
        by_kind = {k.value: sum(1 for z in zones if z.kind == k) for k in ZoneKind}
        by_level: dict[str, int] = {}
        for z in zones:
            by_level[z.level.value] = by_level.get(z.level.value, 0) + 1
        return ZoneCounts(as_of=as_of or date.today(), total=len(zones), by_kind=by_kind, by_level=by_level)

    async def divisions(self, *, as_of: date | None = None) -> list[DivisionWithZones]:
        """No divisions unless a test subclass provides them."""
        return []

    async def changes(self, *, after: str | None = None, limit: int = 500) -> ChangeFeed:
        """The feed given to the fake, after the cursor (this fake's cursors are change ids as text)."""
        self.calls.append(("changes", after))
        start = int(after) if after and after.isdigit() else 0
        items = [c for c in self.feed.items if c.id > start]
        page = items[:limit]
        last = page[-1].id if page else start
        return ChangeFeed(items=page, next_cursor=str(last))
