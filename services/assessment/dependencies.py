"""Dependencies shared by the assessment routes: the other services' clients, a setting, and who may write what."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from libs.domain.clients.metrics import MetricsClient
from libs.domain.clients.registry import RegistryClient
from libs.domain.kernel.contracts import Actor
from libs.domain.kernel.errors import Forbidden
from libs.domain.kernel.i18n import Text
from libs.domain.kernel.values import Role, ZoneKind
from services.assessment.runtime import RuntimeDep
from services.common.auth import require


async def registry_client(runtime: RuntimeDep) -> RegistryClient:
    """The registry client over the app's pooled HTTP client (overridable in tests)."""
    return RegistryClient(runtime.http, runtime.settings.registry_url)


async def metrics_client(runtime: RuntimeDep) -> MetricsClient:
    """The metrics client over the app's pooled HTTP client (overridable in tests)."""
    return MetricsClient(runtime.http, runtime.settings.metrics_url)


async def metrics_as_caller(runtime: RuntimeDep, request: Request) -> MetricsClient:
    """The metrics client sending the caller's own bearer token (a write made on their behalf, such as
    the period lock of a publication, is attributed to them; overridable in tests)."""
    token = request.headers.get("authorization", "").partition(" ")[2].strip()
    return MetricsClient(runtime.http, runtime.settings.metrics_url, token=lambda: token)


async def fast_canonical_json(runtime: RuntimeDep) -> bool:
    """Whether canonical JSON may take its orjson fast path (the ``fast_canonical_json`` setting)."""
    return runtime.settings.fast_canonical_json


RegistryDep = Annotated[RegistryClient, Depends(registry_client)]
MetricsDep = Annotated[MetricsClient, Depends(metrics_client)]
MetricsAsCaller = Annotated[MetricsClient, Depends(metrics_as_caller)]
FastCanonicalJson = Annotated[bool, Depends(fast_canonical_json)]

WRITERS = (Role.CITY_ADMIN, Role.COMMERCE_BUREAU, Role.SCIENCE_BUREAU)
Writer = Annotated[Actor, Depends(require(*WRITERS))]
"""City admin, or the bureau leading the assessment of a kind (checked per kind by the use case)."""

BUREAU_KIND = {Role.COMMERCE_BUREAU: ZoneKind.ECONOMIC, Role.SCIENCE_BUREAU: ZoneKind.HIGH_TECH}


def kinds_of(actor: Actor) -> set[str]:
    """The zone kinds ``actor`` may publish methods, runs and policies for."""
    if actor.has(Role.CITY_ADMIN):
        return {k.value for k in ZoneKind}
    return {BUREAU_KIND[r].value for r in actor.roles if r in BUREAU_KIND}


def authorise_kinds(actor: Actor, kinds: set[str] | list[str]) -> None:
    """403 unless ``actor`` may write for every kind in ``kinds``."""
    allowed = kinds_of(actor)
    refused = sorted(set(kinds) - allowed)
    if refused:
        named = ", ".join(refused)
        raise Forbidden(
            Text(
                f"经济开发区由商务局考评，高新技术产业开发区由科技局考评：此令牌无权为 {named} 写入",
                f"the commerce bureau assesses economic zones and the science bureau high-tech zones: "
                f"this token may not write for {named}",
            ),
            code="kind_not_allowed",
            allowed_kinds=sorted(allowed),
        )
