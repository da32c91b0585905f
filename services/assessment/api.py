"""The assessment service's HTTP routes."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request

from libs.domain.clients.registry import RegistryClient
from libs.domain.contracts.assessment import OutcomeRead
from libs.domain.contracts.common import Page
from services.assessment import service as assessment_service
from services.common.auth import PUBLIC
from services.common.db import SessionDep
from services.common.problems import problems

router = APIRouter(prefix="/v1")


def registry_client(request: Request) -> RegistryClient:
    """The registry client over the app's pooled HTTP client (overridable in tests)."""
    return RegistryClient(request.app.state.http, request.app.state.settings.registry_url)


RegistryDep = Annotated[RegistryClient, Depends(registry_client)]


@router.get(
    "/zones/{zone_id}/outcomes",
    response_model=Page[OutcomeRead],
    tags=["outcomes"],
    summary="Rewards and warnings of a zone (published)",
    openapi_extra=PUBLIC,
    responses=problems(404, 503),
)
async def zone_outcomes(
    session: SessionDep, registry: RegistryDep, zone_id: Annotated[str, Path(max_length=32)]
) -> Page[OutcomeRead]:
    items = await assessment_service.zone_outcomes(session=session, registry=registry, zone_id=zone_id)
    return Page(items=items, next_cursor=None)
