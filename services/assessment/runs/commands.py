"""What creating a run takes: the command (what was asked) and the context (who asks, with what)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from libs.domain.assessment.contracts import AssessmentCreate
from libs.domain.assessment.methodology import Methodology as ParsedMethodology
from libs.domain.clients.metrics import MetricsClient
from libs.domain.clients.registry import RegistryClient
from libs.domain.kernel.contracts import Actor
from libs.domain.kernel.values import Period
from services.assessment.tables import Methodology


def utc_now() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class CreateRun:
    """Compute a run and store it."""

    body: AssessmentCreate


@dataclass(frozen=True, slots=True)
class RunContext:
    """The request's session, the clients of the services a run reads, the caller and the clock."""

    session: AsyncSession
    registry: RegistryClient
    metrics: MetricsClient
    actor: Actor
    clock: Callable[[], datetime] = utc_now
    fast_canonical_json: bool = True
    """Whether canonical JSON may be written by orjson where it gives the same bytes (the setting)."""


@dataclass(frozen=True, slots=True)
class RunRequest:
    """A create request checked against its methodology: what the rest of the use case reads."""

    body: AssessmentCreate
    period: Period
    method_row: Methodology
    method: ParsedMethodology

    @property
    def kind(self) -> str:
        """The zone kind ranked."""
        return self.body.kind.value

    @property
    def ranks_zones(self) -> bool:
        """Whether the run ranks zones (else it scores divisions without a zone by reference)."""
        return self.body.subjects == "zones"
