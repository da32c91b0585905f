"""What the read side is asked, and what it reads with."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Literal

from sqlalchemy.ext.asyncio import AsyncSession

from libs.domain.kernel.values import Period, ZoneKind
from services.metrics.jurisdiction import Jurisdiction, Registry


@dataclass(frozen=True, slots=True)
class ReadContext:
    """A read's request session, the registry and the app's cache of its answers."""

    session: AsyncSession
    registry: Registry
    jurisdiction: Jurisdiction


@dataclass(frozen=True, slots=True)
class ZoneMatrixQuery:
    """Every zone of ``kind`` (all kinds: ``None``) active on ``as_of`` (default: the period's end)
    with its values of ``indicators`` (default: every indicator); ``lineage="proforma"`` adds the
    components of the zones merged into each row after the period."""

    period: Period
    indicators: Sequence[str] | None = None
    kind: ZoneKind | None = None
    as_of: date | None = None
    lineage: Literal["none", "proforma"] = "none"


@dataclass(frozen=True, slots=True)
class DivisionMatrixQuery:
    """The own totals of ``divisions`` (6-digit codes, as sent) for ``period``."""

    period: Period
    divisions: Sequence[str]
    indicators: Sequence[str] | None = None
    as_of: date | None = None


@dataclass(frozen=True, slots=True)
class CompletenessQuery:
    """The zones expected to report ``period`` (of ``kind``, of ``division``) and what they lack."""

    period: Period
    kind: ZoneKind | None = None
    division: str | None = None
