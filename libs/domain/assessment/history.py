"""A zone's previous rank across reorganisations (lineage-aware rank changes).

The rule, applied to each zone of the current run against the latest earlier run of the same
methodology code and kind:

1. the zone was ranked in the earlier run: that rank is its previous rank;
2. the zone was in the earlier run but not ranked there (excluded): ``unranked_before``;
3. otherwise, when predecessors of the zone (transitively, by the registry's lineage) that no
   longer stand as zones of their own in the current run were ranked in the earlier run, the
   **best** (numerically lowest) of their ranks is the previous rank and the result names them
   (a zone continuing through a merger keeps its history; the merged zones' best standing is
   what it continues). A predecessor that still stands (e.g. one that only gave up a park by a
   split) keeps its own history and is not inherited;
4. otherwise the zone is ``new``.

Rank change = previous rank − current rank: positive is an improvement (进位), negative a drop
(退位).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Literal

Movement = Literal["up", "down", "same", "new", "unranked_before", "unranked"]


@dataclass(frozen=True, slots=True)
class PreviousStanding:
    """A zone's previous rank, how it was found, and the change since."""

    previous_rank: int | None
    change: int | None
    movement: Movement | None
    via: tuple[str, ...] = ()


def zones_needing_lineage(current: Iterable[str], previous: Mapping[str, int | None]) -> list[str]:
    """Zones of the current run absent from the earlier run: only these need the registry's lineage."""
    return [z for z in current if z not in previous]


def previous_standings(
    current: Mapping[str, int | None],
    previous: Mapping[str, int | None] | None,
    predecessors: Mapping[str, Iterable[str]],
) -> dict[str, PreviousStanding]:
    """Each current zone's :class:`PreviousStanding`.

    ``current`` maps every zone of the current run to its rank (None: not ranked now);
    ``previous`` maps every zone of the earlier run to its rank there (None: not ranked), or is
    None when there is no earlier run (then nothing has a movement); ``predecessors`` maps a
    zone to its predecessors by lineage (only needed for zones absent from ``previous``).
    """
    out: dict[str, PreviousStanding] = {}
    for zone, rank in current.items():
        if previous is None:
            out[zone] = PreviousStanding(None, None, None)
            continue
        via: tuple[str, ...] = ()
        if zone in previous:
            before = previous[zone]
            if before is None:
                out[zone] = PreviousStanding(None, None, "unranked_before")
                continue
        else:
            candidates = sorted(
                {
                    p
                    for p in predecessors.get(zone, ())
                    if p != zone and p not in current and previous.get(p) is not None
                }
            )
            if not candidates:
                out[zone] = PreviousStanding(None, None, "new")
                continue
            before = min(previous[p] or 0 for p in candidates)
            via = tuple(candidates)
        if rank is None:
            out[zone] = PreviousStanding(before, None, "unranked", via)
            continue
        change = before - rank
        movement: Movement = "up" if change > 0 else "down" if change < 0 else "same"
        out[zone] = PreviousStanding(before, change, movement, via)
    return out


def inherited_flags(
    zones: Iterable[str], flagged: Iterable[str], predecessors: Mapping[str, Iterable[str]]
) -> dict[str, tuple[str, ...]]:
    """For each zone, the flagged zones it carries on: itself, or its (ended) predecessors.

    Used for "warned two years running": a zone formed by merging a warned zone carries the
    warning on, by the same lineage rule as previous ranks.
    """
    marked = set(flagged)
    current = set(zones)
    out: dict[str, tuple[str, ...]] = {}
    for zone in current:
        if zone in marked:
            out[zone] = (zone,)
            continue
        carried = sorted(p for p in predecessors.get(zone, ()) if p in marked and p not in current)
        if carried:
            out[zone] = tuple(carried)
    return out
