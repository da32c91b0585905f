"""A zone as the registry knows it at one moment, and what is counted of many."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from libs.domain.kernel.values import ZoneKind, ZoneLevel, ZoneStatus


@dataclass(frozen=True, slots=True)
class ParkState:
    """A park of a zone; ``former_zone`` is set when the park was a zone of its own."""

    name: str
    former_zone: str | None = None


@dataclass(frozen=True, slots=True)
class ZoneSnapshot:
    """Everything the registry knows about a zone at one moment."""

    id: str
    name: str
    kind: ZoneKind
    level: ZoneLevel
    status: ZoneStatus
    authority: str
    entrusted_to: str | None = None
    parks: tuple[ParkState, ...] = ()
    plaques: tuple[str, ...] = ()
    former_names: tuple[str, ...] = ()
    approved_area_km2: Decimal | None = None
    established_on: date | None = None
    successor: str | None = None
    status_reason: str | None = None

    @property
    def active(self) -> bool:
        """True while the zone has not been merged or revoked."""
        return self.status == ZoneStatus.ACTIVE

    def carried_names(self) -> tuple[str, ...]:
        """The official name and the plaques: names that must be unique among active zones."""
        return (self.name, *self.plaques)


def count_zones(snapshots: Sequence[ZoneSnapshot]) -> dict[str, Any]:
    """Counts of active zones by kind and level; plaques and parks are never counted."""
    active = [s for s in snapshots if s.active]
    return {
        "total": len(active),
        "by_kind": {k.value: sum(1 for s in active if s.kind == k) for k in ZoneKind},
        "by_level": {lv.value: sum(1 for s in active if s.level == lv) for lv in ZoneLevel},
    }
