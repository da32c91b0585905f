"""Zone states over time, kept in memory: the registry's projection without a database.

The registry service keeps the same projection in SQL (one row per zone state with a
validity interval). This module is the reference model: property tests check that any
sequence of acts and annulments gives the same states as a replay from scratch, and API
tests check the database projection against it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from libs.domain.registry.contracts import Operation
from libs.domain.registry.outcome import ActOutcome, LineageEdge
from libs.domain.registry.reorganisation import apply_act
from libs.domain.registry.snapshots import ZoneSnapshot, count_zones
from libs.domain.registry.view import StaticView, needs


@dataclass
class IntervalState:
    """A zone state valid on ``[valid_from, valid_to)`` (``valid_to`` ``None``: still in force)."""

    snapshot: ZoneSnapshot
    valid_from: date
    valid_to: date | None
    act: int

    def valid_on(self, day: date) -> bool:
        """True if this state is the one in force on ``day``."""
        return self.valid_from <= day and (self.valid_to is None or self.valid_to > day)


@dataclass
class RecordedAct:
    """An act as the reference model keeps it."""

    id: int
    effective_on: date
    operations: Sequence[Operation]
    outcome: ActOutcome
    annulled: bool = False


class NotLatestAct(Exception):
    """An act can be annulled only while it is the latest act on every zone it touched."""


@dataclass
class InMemoryRegistry:
    """Acts, zone states with validity intervals, and lineage edges, all in memory."""

    divisions: frozenset[str]
    states: dict[str, list[IntervalState]] = field(default_factory=dict)
    acts: list[RecordedAct] = field(default_factory=list)
    edges: list[tuple[int, date, LineageEdge]] = field(default_factory=list)

    def state(self, zone_id: str, day: date) -> ZoneSnapshot | None:
        """The state of ``zone_id`` in force on ``day``."""
        for s in self.states.get(zone_id, []):
            if s.valid_on(day):
                return s.snapshot
        return None

    def snapshots(self, day: date) -> list[ZoneSnapshot]:
        """Every zone state in force on ``day``, by zone id."""
        out = [self.state(z, day) for z in sorted(self.states)]
        return [s for s in out if s is not None]

    def counts(self, day: date) -> dict[str, Any]:
        """Active zones on ``day`` by kind and level."""
        return count_zones(self.snapshots(day))

    def last_act(self, zone_id: str) -> int | None:
        """The latest (live) act that touched ``zone_id``."""
        states = self.states.get(zone_id, [])
        return states[-1].act if states else None

    def view(self, effective_on: date, operations: Sequence[Operation]) -> StaticView:
        """What :func:`apply_act` needs, read from this registry."""
        need = needs(operations)
        snaps = {}
        last = {}
        for ref in need.zone_refs:
            states = self.states.get(ref)
            if not states:
                continue
            snap = self.state(ref, effective_on)
            if snap is not None:
                snaps[ref] = snap
            last[ref] = states[-1].valid_from
        names = {}
        for snap in self.snapshots(effective_on):
            if snap.active:
                for name in snap.carried_names():
                    if name in need.names:
                        names[name] = snap.id
        return StaticView(snaps, frozenset(self.states), last, self.divisions, names)

    def record(self, effective_on: date, operations: Sequence[Operation], new_id: Callable[[], str]) -> RecordedAct:
        """Apply and record an act (raises ``ActRefused`` like the service)."""
        outcome = apply_act(self.view(effective_on, operations), effective_on, operations, new_id)
        act = RecordedAct(len(self.acts) + 1, effective_on, operations, outcome)
        for zone_id in outcome.touched:
            states = self.states.setdefault(zone_id, [])
            if states and states[-1].valid_to is None:
                states[-1].valid_to = effective_on
            states.append(IntervalState(outcome.states[zone_id], effective_on, None, act.id))
        self.edges.extend((act.id, effective_on, e) for e in outcome.edges)
        self.acts.append(act)
        return act

    def annul(self, act_id: int) -> None:
        """Undo an act that is still the latest on every zone it touched."""
        act = next(a for a in self.acts if a.id == act_id and not a.annulled)
        if any(self.last_act(z) != act_id for z in act.outcome.touched):
            raise NotLatestAct(f"act {act_id} is not the latest act on every zone it touched")
        for zone_id in act.outcome.touched:
            states = self.states[zone_id]
            states.pop()
            if states:
                states[-1].valid_to = None
            else:
                del self.states[zone_id]
        self.edges = [e for e in self.edges if e[0] != act_id]
        act.annulled = True


def replay(divisions: frozenset[str], acts: Sequence[RecordedAct]) -> InMemoryRegistry:
    """Rebuild a registry from scratch from the live acts, reusing the ids they handed out."""
    fresh = InMemoryRegistry(divisions)
    for act in acts:
        if act.annulled:
            continue
        ids = iter(act.outcome.created.values())
        fresh.record(act.effective_on, act.operations, _next_of(ids))
    return fresh


def _next_of(ids: Iterator[str]) -> Callable[[], str]:
    return lambda: next(ids)
