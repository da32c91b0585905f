"""Who may push a zone's values for a period, and whether the zone could report it at all.

Zone states come from the registry's history of the zone: each state is in force from
``valid_from`` (inclusive) to ``valid_to`` (exclusive; ``None`` while in force).

- A zone reports a period when it is active on the period's last day. A zone established
  during the period reports the whole period (its predecessors' part included); a zone that
  ended during the period (merged, revoked) no longer reports it: its successor does.
- A county writes for a zone when, in some state overlapping the period, the zone's
  administering authority or its entrusted-to division is the county.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Literal

from libs.domain.kernel.values import Period, ZoneStatus
from libs.domain.registry.contracts import ZoneRead

Existence = Literal["zone_not_existing", "zone_ended"]


def state_on(states: Sequence[ZoneRead], day: date) -> ZoneRead | None:
    """The state in force on ``day``, if any."""
    for s in states:
        if s.valid_from <= day and (s.valid_to is None or s.valid_to > day):
            return s
    return None


def states_overlapping(states: Sequence[ZoneRead], start: date, end: date) -> list[ZoneRead]:
    """The states in force on at least one day of ``start``..``end`` (inclusive)."""
    return [s for s in states if s.valid_from <= end and (s.valid_to is None or s.valid_to > start)]


def existence_fault(states: Sequence[ZoneRead], period: Period) -> Existence | None:
    """Why the zone cannot report ``period`` (``None`` when it can)."""
    at_end = state_on(states, period.end)
    if at_end is not None:
        return None if at_end.status == ZoneStatus.ACTIVE else "zone_ended"
    if any(s.valid_from > period.end for s in states):
        return "zone_not_existing"
    return "zone_ended"


def managing_divisions(states: Sequence[ZoneRead], period: Period) -> set[str]:
    """Every division that administered the zone or managed it by entrustment during ``period``.

    When no state overlaps the period (the zone did not exist then), every state counts, so the
    zone's own county is told why the row is wrong instead of being refused.
    """
    pool = states_overlapping(states, period.start, period.end) or list(states)
    out: set[str] = set()
    for s in pool:
        out.add(s.authority)
        if s.entrusted_to:
            out.add(s.entrusted_to)
    return out


def reporting_division(zone: ZoneRead) -> str:
    """The division that reports for the zone: its entrusted-to division, else its authority."""
    return zone.entrusted_to or zone.authority


def city_of(division: str) -> str:
    """The prefecture-level city of a division code (``130728`` → ``130700``)."""
    return division[:4] + "00"
