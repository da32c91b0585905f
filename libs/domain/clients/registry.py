"""Typed client of the registry service, and the test double consumers use in unit tests."""

from __future__ import annotations

from datetime import date

from libs.domain.clients.base import ServiceClient
from libs.domain.contracts.registry import ZoneRead
from libs.domain.errors import NotFound


class RegistryClient(ServiceClient):
    """Calls the registry over HTTP; raises ``NotFound`` / ``UpstreamUnavailable`` / ``UpstreamError``."""

    service = "registry"

    async def get_zone(self, zone_id: str, *, as_of: date | None = None) -> ZoneRead:
        """The zone as it stood on ``as_of`` (registry's default: today)."""
        return await self.get_model(
            f"/v1/zones/{zone_id}", ZoneRead, params={"as_of": as_of.isoformat() if as_of else None}
        )


class FakeRegistryClient:
    """In-memory stand-in for :class:`RegistryClient` in consumers' unit tests."""

    def __init__(self, zones: list[ZoneRead] | None = None) -> None:
        self.zones = {z.id: z for z in zones or []}
        self.calls: list[tuple[str, object]] = []

    async def get_zone(self, zone_id: str, *, as_of: date | None = None) -> ZoneRead:
        """Answer from the in-memory zones, like the real registry would."""
        self.calls.append(("get_zone", zone_id))
        zone = self.zones.get(zone_id)
        if zone is None:
            raise NotFound(f"zone {zone_id} does not exist", service="registry")
        return zone
