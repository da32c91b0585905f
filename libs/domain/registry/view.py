"""What applying an act reads of the registry on its date, and how a caller knows what to load."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Protocol

from libs.domain.registry.contracts import AddPlaque, Entrust, Establish, Merge, Operation, Rename, Transfer
from libs.domain.registry.snapshots import ZoneSnapshot


class RegistryView(Protocol):
    """What :func:`apply_act` needs to know about the registry on the effective date."""

    def snapshot(self, zone_id: str) -> ZoneSnapshot | None:
        """The zone's state in force on the effective date (``None``: not in force then)."""

    def exists(self, zone_id: str) -> bool:
        """True if the zone has ever been recorded."""

    def last_event_on(self, zone_id: str) -> date | None:
        """Effective date of the latest act recorded on the zone."""

    def division_valid(self, code: str) -> bool:
        """True if the division is in force on the effective date."""

    def carried_by_others(self, name: str) -> str | None:
        """The id of an active zone carrying ``name`` (official or plaque) on the date, if any."""


@dataclass
class StaticView:
    """A :class:`RegistryView` over plain mappings, filled by the caller before applying."""

    snapshots: Mapping[str, ZoneSnapshot]
    known: frozenset[str]
    last_events: Mapping[str, date]
    divisions: frozenset[str]
    names: Mapping[str, str]

    def snapshot(self, zone_id: str) -> ZoneSnapshot | None:
        """See :class:`RegistryView`."""
        return self.snapshots.get(zone_id)

    def exists(self, zone_id: str) -> bool:
        """See :class:`RegistryView`."""
        return zone_id in self.known

    def last_event_on(self, zone_id: str) -> date | None:
        """See :class:`RegistryView`."""
        return self.last_events.get(zone_id)

    def division_valid(self, code: str) -> bool:
        """See :class:`RegistryView`."""
        return code in self.divisions

    def carried_by_others(self, name: str) -> str | None:
        """See :class:`RegistryView`."""
        return self.names.get(name)


@dataclass(frozen=True)
class Needs:
    """What an act refers to: the caller loads these before building the view."""

    zone_refs: frozenset[str]
    divisions: frozenset[str]
    names: frozenset[str]


def needs(operations: Sequence[Operation]) -> Needs:
    """Zone references, division codes and carried names an act mentions."""
    refs: set[str] = set()
    divisions: set[str] = set()
    names: set[str] = set()
    established = {op.ref for op in operations if isinstance(op, Establish)}
    for op in operations:
        for attr in ("zone_id", "into"):
            value = getattr(op, attr, None)
            if isinstance(value, str):
                refs.add(value)
        if isinstance(op, Merge):
            refs.update(op.sources)
        if isinstance(op, Establish):
            divisions.add(op.authority)
            if op.entrusted_to:
                divisions.add(op.entrusted_to)
            names.add(op.name)
            names.update(op.plaques)
        if isinstance(op, Transfer):
            divisions.add(op.authority)
        if isinstance(op, Entrust):
            divisions.add(op.to)
        if isinstance(op, Rename | AddPlaque):
            names.add(op.name)
        if isinstance(op, Merge):
            names.update(op.keep_names_as_plaques)
        if isinstance(op, Rename) and op.keep_old_name_as_plaque:
            pass  # the old name is already carried by this zone
    return Needs(frozenset(refs - established), frozenset(divisions), frozenset(names))
