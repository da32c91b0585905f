"""What a push is asked to do, and what it runs with."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from libs.domain.kernel.contracts import Actor
from services.metrics.indicators.service import CatalogCache
from services.metrics.jurisdiction import Jurisdiction, Registry
from services.metrics.observations.decoding import BatchRows


@dataclass(frozen=True, slots=True)
class PushValues:
    """Check a batch and (unless ``dry_run``) store it; ``source`` (json, csv, xlsx) and ``filename``
    are recorded with it, ``skipped`` counts the file lines without a value."""

    rows: BatchRows
    dry_run: bool
    restatement_reason: str | None
    source: str
    filename: str | None = None
    skipped: int = 0


@dataclass(frozen=True, slots=True)
class PushContext:
    """A push's caller, its request's session, the registry and the app's caches; ``fast_copy``:
    whether the speculative ``COPY`` path may be tried (``METRICS_FAST_COPY``)."""

    session: AsyncSession
    actor: Actor
    registry: Registry
    jurisdiction: Jurisdiction
    catalogs: CatalogCache | None = None
    fast_copy: bool = True
