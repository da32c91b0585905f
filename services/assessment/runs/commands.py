"""What creating a run takes: the command (what was asked) and the context (who asks, with what)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from libs.domain.assessment.contracts import AssessmentCreate
from libs.domain.assessment.methodology import Methodology as ParsedMethodology
from libs.domain.assessment.run import RunEvaluation
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
    registry_as_of: date
    """The registry date whose zones and lineage are assessed (default: the period's last day)."""

    @property
    def subjects_key(self) -> str:
        """What the run assesses, as the key of "one published run" (``Assessment.subjects_key``)."""
        if self.body.scope == "zones" or self.body.divisions is None:
            return self.body.scope
        return f"{self.body.scope}:{','.join(sorted(set(self.body.divisions)))}"

    @property
    def kind(self) -> str:
        """The zone kind ranked."""
        return self.body.kind.value

    @property
    def ranks_zones(self) -> bool:
        """Whether the run ranks zones (else it scores divisions without a zone by reference)."""
        return self.body.scope == "zones"


@dataclass(frozen=True, slots=True)
class Evaluated:
    """A run's inputs document, what it decides, and the notes stored with it."""

    inputs: dict[str, Any]
    evaluation: RunEvaluation
    notes: list[str]
    scored: int
    """Subjects scored: the zones, or the divisions scored by reference."""
    previous_id: int | None
    """The earlier run ranks changed from."""
