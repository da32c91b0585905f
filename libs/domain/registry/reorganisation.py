"""The reorganisation algebra: applying one legal act to the zones it touches.

An act is a list of operations with one effective date. :func:`apply_act` checks every
operation against the registry as it stood on that date (a :class:`RegistryView` the caller
fills in beforehand, so this module does no I/O), collects *every* fault, and either refuses
the whole act or returns the zones' new states, the lineage links and a readable change list.

Rules chosen where the policy text is silent (also stated in the README):

- A zone without parks that gains a park (``add_park``, ``split`` into it, or ``merge`` with
  ``sources_become="parks"``) first gets its own existing area as a park named after itself,
  because "一区两园" after a merger counts the original zone as one of the two parks. A zone
  established in the same act has no area of its own yet, so it gets no such park.
- In a ``merge`` with ``sources_become="parks"`` a source without parks becomes one park named
  after it; a source with parks hands over its parks. Approved areas are not added up: two
  designations of one body (e.g. 西山高新 and 西山经开) share one area, so an act that changes
  the approved area says so with ``change_area``.
- Names of absorbed sources (and the former names of every source) become former names of the
  target, unless kept as plaques; plaques of sources not kept are revoked by the merge.
- ``transfer`` to the division a zone is entrusted to ends the entrustment (a division does
  not entrust a zone to itself).
- Official names and plaques of active zones must be unique on the effective date; parks and
  former names need not be.
- Several acts may share an effective date; the one recorded later wins for that date.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any, Literal, Protocol

from libs.domain.kernel.values import ZoneKind, ZoneLevel, ZoneStatus
from libs.domain.registry.contracts import (
    AddPark,
    AddPlaque,
    ChangeArea,
    ChangeKind,
    ChangeLevel,
    EndEntrustment,
    Entrust,
    Establish,
    Merge,
    Operation,
    RemovePark,
    Rename,
    Revoke,
    RevokePlaque,
    Split,
    Transfer,
)


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


@dataclass(frozen=True, slots=True)
class Fault:
    """Why one operation of an act cannot be applied."""

    index: int
    code: str
    message: str
    field: str | None = None

    def as_error(self) -> dict[str, Any]:
        """The fault as an entry of a problem's ``errors`` list."""
        loc: list[str | int] = ["body", "operations", self.index]
        if self.field:
            loc.append(self.field)
        return {"loc": loc, "index": self.index, "type": self.code, "msg": self.message}


@dataclass(frozen=True, slots=True)
class LineageEdge:
    """``source`` became (part of) ``target`` by ``operation`` in this act."""

    source: str
    target: str
    operation: Literal["merge", "split"]
    op_index: int


@dataclass(frozen=True, slots=True)
class ChangeNote:
    """A readable account of what one operation did to one zone."""

    op_index: int
    op: str
    zone: str
    description: str


@dataclass
class ActOutcome:
    """What an act does: new states (one per touched zone), ids of established zones, lineage."""

    effective_on: date
    created: dict[str, str] = field(default_factory=dict)
    states: dict[str, ZoneSnapshot] = field(default_factory=dict)
    touched: list[str] = field(default_factory=list)
    edges: list[LineageEdge] = field(default_factory=list)
    changes: list[ChangeNote] = field(default_factory=list)


class ActRefused(Exception):
    """The act is invalid on its effective date; ``faults`` lists every failing operation."""

    def __init__(self, faults: list[Fault]) -> None:
        super().__init__(f"{len(faults)} operation fault(s)")
        self.faults = faults


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
        for attr in ("zone", "into"):
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


class _Act:
    """Mutable working state of one application of an act."""

    def __init__(self, view: RegistryView, effective_on: date, new_id: Callable[[], str]) -> None:
        self.view = view
        self.on = effective_on
        self.new_id = new_id
        self.work: dict[str, ZoneSnapshot] = {}
        self.pre_existing: set[str] = set()
        self.ended_at: dict[str, int] = {}
        self.faults: list[Fault] = []
        self.out = ActOutcome(effective_on=effective_on)
        self.name_origin: dict[tuple[str, str], int] = {}

    # -- helpers -------------------------------------------------------------------------

    def fault(self, index: int, code: str, message: str, field_: str | None = None) -> None:
        self.faults.append(Fault(index, code, message, field_))

    def touch(self, zone_id: str) -> None:
        if zone_id not in self.out.touched:
            self.out.touched.append(zone_id)

    def note(self, index: int, op: str, zone_id: str, text: str) -> None:
        self.out.changes.append(ChangeNote(index, op, zone_id, text))

    def resolve(self, index: int, ref: str, field_: str) -> str | None:
        """The zone id behind ``ref``, or ``None`` after recording why it cannot be used."""
        if ref in self.out.created:
            zone_id = self.out.created[ref]
        elif self.view.exists(ref):
            zone_id = ref
        else:
            self.fault(index, "unknown_zone", f"no zone or earlier `establish` ref named {ref!r}", field_)
            return None
        if zone_id in self.ended_at:
            self.fault(
                index,
                "ended_in_this_act",
                f"zone {zone_id} already ended by operation {self.ended_at[zone_id]} of this act",
                field_,
            )
            return None
        if zone_id not in self.work:
            snap = self.view.snapshot(zone_id)
            if snap is None:
                self.fault(index, "inactive_zone", f"zone {zone_id} is not in force on {self.on}", field_)
                return None
            last = self.view.last_event_on(zone_id)
            if last is not None and last > self.on:
                self.fault(
                    index,
                    "effective_date_before_later_event",
                    f"zone {zone_id} has an act effective {last}, after this act's {self.on}",
                    field_,
                )
                return None
            self.work[zone_id] = snap
            self.pre_existing.add(zone_id)
        if not self.work[zone_id].active:
            self.fault(index, "inactive_zone", f"zone {zone_id} is {self.work[zone_id].status} on {self.on}", field_)
            return None
        return zone_id

    def division(self, index: int, code: str, field_: str) -> bool:
        if not self.view.division_valid(code):
            self.fault(index, "unknown_division", f"division {code} is not in force on {self.on}", field_)
            return False
        return True

    def put(self, zone_id: str, snap: ZoneSnapshot) -> None:
        self.work[zone_id] = snap
        self.touch(zone_id)

    def carry(self, index: int, zone_id: str, name: str) -> None:
        self.name_origin[(zone_id, name)] = index

    def with_own_park(self, zone_id: str) -> ZoneSnapshot:
        """The zone, given its own area as a first park if it has none and existed before the act."""
        snap = self.work[zone_id]
        if not snap.parks and zone_id in self.pre_existing:
            return dataclasses.replace(snap, parks=(ParkState(snap.name, None),))
        return snap

    # -- operations ----------------------------------------------------------------------

    def establish(self, i: int, op: Establish) -> None:
        if op.ref in self.out.created:
            self.fault(i, "duplicate_ref", f"ref {op.ref!r} is established twice in this act", "ref")
            return
        ok = self.division(i, op.authority, "authority")
        if op.entrusted_to is not None:
            ok = self.division(i, op.entrusted_to, "entrusted_to") and ok
            if op.entrusted_to == op.authority:
                self.fault(i, "entrust_to_authority", "a zone is not entrusted to its own authority", "entrusted_to")
                ok = False
        if len(set(op.parks)) != len(op.parks):
            self.fault(i, "duplicate_park", "park names repeat", "parks")
            ok = False
        if len(set(op.plaques)) != len(op.plaques) or op.name in op.plaques:
            self.fault(i, "duplicate_plaque", "plaques repeat or repeat the official name", "plaques")
            ok = False
        zone_id = self.new_id()
        self.out.created[op.ref] = zone_id
        if not ok:
            return
        snap = ZoneSnapshot(
            id=zone_id,
            name=op.name,
            kind=op.kind,
            level=op.level,
            status=ZoneStatus.ACTIVE,
            authority=op.authority,
            entrusted_to=op.entrusted_to,
            parks=tuple(ParkState(p) for p in op.parks),
            plaques=tuple(op.plaques),
            approved_area_km2=op.approved_area_km2,
            established_on=self.on,
        )
        self.put(zone_id, snap)
        for name in snap.carried_names():
            self.carry(i, zone_id, name)
        self.note(i, "establish", zone_id, f"established {op.name} ({op.kind}, {op.level}, authority {op.authority})")

    def rename(self, i: int, op: Rename) -> None:
        zone_id = self.resolve(i, op.zone, "zone")
        if zone_id is None:
            return
        snap = self.work[zone_id]
        if op.name == snap.name:
            self.fault(i, "no_change", f"zone {zone_id} is already named {op.name}", "name")
            return
        plaques = tuple(p for p in snap.plaques if p != op.name)
        former = tuple(n for n in snap.former_names if n != op.name)
        if op.keep_old_name_as_plaque:
            plaques = (*plaques, snap.name)
            self.carry(i, zone_id, snap.name)
        elif snap.name not in former:
            former = (*former, snap.name)
        self.put(zone_id, dataclasses.replace(snap, name=op.name, plaques=plaques, former_names=former))
        self.carry(i, zone_id, op.name)
        kept = " (old name kept as a plaque)" if op.keep_old_name_as_plaque else ""
        self.note(i, "rename", zone_id, f"renamed from {snap.name} to {op.name}{kept}")

    def merge(self, i: int, op: Merge) -> None:
        target = self.resolve(i, op.into, "into")
        sources: list[str] = []
        seen: set[str] = set()
        for k, ref in enumerate(op.sources):
            zone_id = self.resolve(i, ref, f"sources[{k}]")
            if zone_id is None:
                continue
            if zone_id == target:
                self.fault(i, "merge_into_itself", f"zone {zone_id} cannot be merged into itself", f"sources[{k}]")
                continue
            if zone_id in seen:
                self.fault(i, "duplicate_source", f"zone {zone_id} is listed twice", f"sources[{k}]")
                continue
            seen.add(zone_id)
            sources.append(zone_id)
        if target is None or len(sources) != len(op.sources):
            return
        source_names = {n for s in sources for n in (*self.work[s].carried_names(), *self.work[s].former_names)}
        unknown = [n for n in op.keep_names_as_plaques if n not in source_names]
        if unknown:
            self.fault(i, "unknown_name", f"not a name of the sources: {', '.join(unknown)}", "keep_names_as_plaques")
            return
        tgt = self.with_own_park(target) if op.sources_become == "parks" else self.work[target]
        parks = list(tgt.parks)
        plaques = list(tgt.plaques)
        former = list(tgt.former_names)
        for s in sources:
            src = self.work[s]
            if op.sources_become == "parks":
                new_parks = src.parks or (ParkState(src.name, src.id),)
                for park in new_parks:
                    if any(p.name == park.name for p in parks):
                        self.fault(i, "duplicate_park", f"zone {target} already has a park named {park.name}", "into")
                        return
                    parks.append(park)
            elif src.name not in op.keep_names_as_plaques:
                former.append(src.name)
            former.extend(src.former_names)
            self.put(
                s,
                dataclasses.replace(
                    src,
                    status=ZoneStatus.MERGED,
                    successor=target,
                    entrusted_to=None,
                    status_reason=f"merged into {target}",
                ),
            )
            self.ended_at[s] = i
            self.out.edges.append(LineageEdge(s, target, "merge", i))
            self.note(
                i, "merge", s, f"merged into {target} ({'as a park' if op.sources_become == 'parks' else 'absorbed'})"
            )
        for name in op.keep_names_as_plaques:
            if name not in plaques and name != tgt.name:
                plaques.append(name)
                self.carry(i, target, name)
        former = [n for n in dict.fromkeys(former) if n not in plaques and n != tgt.name]
        self.put(
            target,
            dataclasses.replace(
                tgt,
                parks=tuple(parks),
                plaques=tuple(plaques),
                former_names=tuple(former),
            ),
        )
        self.note(i, "merge", target, f"took in {', '.join(sources)} ({op.sources_become})")

    def split(self, i: int, op: Split) -> None:
        source = self.resolve(i, op.zone, "zone")
        target = self.resolve(i, op.into, "into")
        if source is None or target is None:
            return
        if source == target:
            self.fault(i, "merge_into_itself", "parks cannot be split into the zone they leave", "into")
            return
        src = self.work[source]
        names = {p.name: p for p in src.parks}
        missing = [n for n in op.parks if n not in names]
        if missing:
            self.fault(i, "unknown_park", f"zone {source} has no park named {', '.join(missing)}", "parks")
            return
        tgt = self.with_own_park(target)
        moving = [names[n] for n in op.parks]
        clash = [p.name for p in moving if any(q.name == p.name for q in tgt.parks)]
        if clash:
            self.fault(i, "duplicate_park", f"zone {target} already has a park named {', '.join(clash)}", "parks")
            return
        self.put(source, dataclasses.replace(src, parks=tuple(p for p in src.parks if p.name not in op.parks)))
        self.put(target, dataclasses.replace(tgt, parks=(*tgt.parks, *moving)))
        self.out.edges.append(LineageEdge(source, target, "split", i))
        self.note(i, "split", source, f"parks {', '.join(op.parks)} left for {target}")
        self.note(i, "split", target, f"received parks {', '.join(op.parks)} from {source}")

    def add_plaque(self, i: int, op: AddPlaque) -> None:
        zone_id = self.resolve(i, op.zone, "zone")
        if zone_id is None:
            return
        snap = self.work[zone_id]
        if op.name in snap.carried_names():
            self.fault(i, "duplicate_plaque", f"zone {zone_id} already carries the name {op.name}", "name")
            return
        self.put(zone_id, dataclasses.replace(snap, plaques=(*snap.plaques, op.name)))
        self.carry(i, zone_id, op.name)
        self.note(i, "add_plaque", zone_id, f"plaque {op.name} added")

    def revoke_plaque(self, i: int, op: RevokePlaque) -> None:
        zone_id = self.resolve(i, op.zone, "zone")
        if zone_id is None:
            return
        snap = self.work[zone_id]
        if op.name not in snap.plaques:
            self.fault(i, "unknown_plaque", f"zone {zone_id} carries no plaque {op.name}", "name")
            return
        self.put(zone_id, dataclasses.replace(snap, plaques=tuple(p for p in snap.plaques if p != op.name)))
        self.note(i, "revoke_plaque", zone_id, f"plaque {op.name} revoked")

    def add_park(self, i: int, op: AddPark) -> None:
        zone_id = self.resolve(i, op.zone, "zone")
        if zone_id is None:
            return
        snap = self.with_own_park(zone_id)
        if any(p.name == op.name for p in snap.parks):
            self.fault(i, "duplicate_park", f"zone {zone_id} already has a park named {op.name}", "name")
            return
        self.put(zone_id, dataclasses.replace(snap, parks=(*snap.parks, ParkState(op.name))))
        self.note(i, "add_park", zone_id, f"park {op.name} added")

    def remove_park(self, i: int, op: RemovePark) -> None:
        zone_id = self.resolve(i, op.zone, "zone")
        if zone_id is None:
            return
        snap = self.work[zone_id]
        if not any(p.name == op.name for p in snap.parks):
            self.fault(i, "unknown_park", f"zone {zone_id} has no park named {op.name}", "name")
            return
        self.put(zone_id, dataclasses.replace(snap, parks=tuple(p for p in snap.parks if p.name != op.name)))
        self.note(i, "remove_park", zone_id, f"park {op.name} removed")

    def transfer(self, i: int, op: Transfer) -> None:
        zone_id = self.resolve(i, op.zone, "zone")
        if zone_id is None or not self.division(i, op.authority, "authority"):
            return
        snap = self.work[zone_id]
        if snap.authority == op.authority:
            self.fault(i, "no_change", f"zone {zone_id} is already administered by {op.authority}", "authority")
            return
        entrusted = None if snap.entrusted_to == op.authority else snap.entrusted_to
        self.put(zone_id, dataclasses.replace(snap, authority=op.authority, entrusted_to=entrusted))
        ended = f"; entrustment to {snap.entrusted_to} ended" if entrusted != snap.entrusted_to else ""
        self.note(i, "transfer", zone_id, f"transferred from {snap.authority} to {op.authority}{ended}")

    def entrust(self, i: int, op: Entrust) -> None:
        zone_id = self.resolve(i, op.zone, "zone")
        if zone_id is None or not self.division(i, op.to, "to"):
            return
        snap = self.work[zone_id]
        if op.to == snap.authority:
            self.fault(i, "entrust_to_authority", "a zone is not entrusted to its own authority", "to")
            return
        if op.to == snap.entrusted_to:
            self.fault(i, "no_change", f"zone {zone_id} is already entrusted to {op.to}", "to")
            return
        self.put(zone_id, dataclasses.replace(snap, entrusted_to=op.to))
        self.note(i, "entrust", zone_id, f"entrusted to {op.to}")

    def end_entrustment(self, i: int, op: EndEntrustment) -> None:
        zone_id = self.resolve(i, op.zone, "zone")
        if zone_id is None:
            return
        snap = self.work[zone_id]
        if snap.entrusted_to is None:
            self.fault(i, "not_entrusted", f"zone {zone_id} is not entrusted", "zone")
            return
        self.put(zone_id, dataclasses.replace(snap, entrusted_to=None))
        self.note(i, "end_entrustment", zone_id, f"entrustment to {snap.entrusted_to} ended")

    def change_level(self, i: int, op: ChangeLevel) -> None:
        zone_id = self.resolve(i, op.zone, "zone")
        if zone_id is None:
            return
        snap = self.work[zone_id]
        if snap.level == op.level:
            self.fault(i, "no_change", f"zone {zone_id} is already {op.level}", "level")
            return
        self.put(zone_id, dataclasses.replace(snap, level=op.level))
        self.note(i, "change_level", zone_id, f"level changed from {snap.level} to {op.level}")

    def change_kind(self, i: int, op: ChangeKind) -> None:
        zone_id = self.resolve(i, op.zone, "zone")
        if zone_id is None:
            return
        snap = self.work[zone_id]
        if snap.kind == op.kind:
            self.fault(i, "no_change", f"zone {zone_id} is already {op.kind}", "kind")
            return
        self.put(zone_id, dataclasses.replace(snap, kind=op.kind))
        self.note(i, "change_kind", zone_id, f"kind changed from {snap.kind} to {op.kind}")

    def change_area(self, i: int, op: ChangeArea) -> None:
        zone_id = self.resolve(i, op.zone, "zone")
        if zone_id is None:
            return
        snap = self.work[zone_id]
        if snap.approved_area_km2 == op.approved_area_km2:
            self.fault(i, "no_change", f"zone {zone_id} already has that approved area", "approved_area_km2")
            return
        self.put(zone_id, dataclasses.replace(snap, approved_area_km2=op.approved_area_km2))
        self.note(i, "change_area", zone_id, f"approved area {snap.approved_area_km2} → {op.approved_area_km2} km²")

    def revoke(self, i: int, op: Revoke) -> None:
        zone_id = self.resolve(i, op.zone, "zone")
        if zone_id is None:
            return
        snap = self.work[zone_id]
        self.put(
            zone_id, dataclasses.replace(snap, status=ZoneStatus.REVOKED, status_reason=op.reason, entrusted_to=None)
        )
        self.ended_at[zone_id] = i
        self.note(i, "revoke", zone_id, f"revoked: {op.reason}")

    # -- whole act -----------------------------------------------------------------------

    def check_names(self) -> None:
        """Official names and plaques of active zones are unique on the effective date."""
        holders: dict[str, str] = {}
        for zone_id in self.out.touched:
            snap = self.work[zone_id]
            if not snap.active:
                continue
            for name in snap.carried_names():
                index = self.name_origin.get((zone_id, name))
                other = holders.get(name)
                if other is not None and other != zone_id:
                    self.fault(
                        index if index is not None else 0,
                        "duplicate_name",
                        f"{name} would be carried by both {other} and {zone_id}",
                    )
                    continue
                holders[name] = zone_id
                if index is None:
                    continue  # carried before this act: not this act's doing
                elsewhere = self.view.carried_by_others(name)
                if elsewhere is not None and elsewhere not in self.out.touched:
                    self.fault(index, "duplicate_name", f"{name} is already carried by active zone {elsewhere}")


_HANDLERS: dict[type, Callable[[_Act, int, Any], None]] = {
    Establish: _Act.establish,
    Rename: _Act.rename,
    Merge: _Act.merge,
    Split: _Act.split,
    AddPlaque: _Act.add_plaque,
    RevokePlaque: _Act.revoke_plaque,
    AddPark: _Act.add_park,
    RemovePark: _Act.remove_park,
    Transfer: _Act.transfer,
    Entrust: _Act.entrust,
    EndEntrustment: _Act.end_entrustment,
    ChangeLevel: _Act.change_level,
    ChangeKind: _Act.change_kind,
    ChangeArea: _Act.change_area,
    Revoke: _Act.revoke,
}


def apply_act(
    view: RegistryView, effective_on: date, operations: Sequence[Operation], new_id: Callable[[], str]
) -> ActOutcome:
    """Apply an act's operations in order; raise :class:`ActRefused` listing every fault."""
    act = _Act(view, effective_on, new_id)
    for index, op in enumerate(operations):
        _HANDLERS[type(op)](act, index, op)
    act.check_names()
    if act.faults:
        raise ActRefused(sorted(act.faults, key=lambda f: f.index))
    act.out.states = {zone_id: act.work[zone_id] for zone_id in act.out.touched}
    return act.out


def count_zones(snapshots: Sequence[ZoneSnapshot]) -> dict[str, Any]:
    """Counts of active zones by kind and level; plaques and parks are never counted."""
    active = [s for s in snapshots if s.active]
    return {
        "total": len(active),
        "by_kind": {k.value: sum(1 for s in active if s.kind == k) for k in ZoneKind},
        "by_level": {lv.value: sum(1 for s in active if s.level == lv) for lv in ZoneLevel},
    }
