"""The assessment service's use cases."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from libs.domain.clients.registry import RegistryClient
from libs.domain.contracts.assessment import OutcomeRead


async def zone_outcomes(*, session: AsyncSession, registry: RegistryClient, zone_id: str) -> list[OutcomeRead]:
    """Rewards and warnings of a zone across runs; 404 if the registry does not know the zone."""
    await registry.get_zone(zone_id)  # NotFound / UpstreamUnavailable propagate as problems
    # Runs and their outcomes arrive with the assessment issue; until then no zone has any.
    return []
