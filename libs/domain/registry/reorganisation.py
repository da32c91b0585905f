"""The reorganisation algebra: applying one legal act to the zones it touches.

An act is a list of operations with one effective date. :func:`apply_act` checks every
operation against the registry as it stood on that date (a :class:`RegistryView` the caller
fills in beforehand, so this module does no I/O), collects *every* fault, and either refuses
the whole act or returns the zones' new states, the lineage links and a readable change list.

Rules chosen where the policy text is silent (also stated in docs/registry.md#rules-chosen-where-the-policy-is-silent):

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
from collections.abc import Callable, Sequence
from datetime import date
from typing import Any

from libs.domain.kernel.i18n import Text
from libs.domain.kernel.values import ZoneStatus
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
from libs.domain.registry.operations import AttributeOperations
from libs.domain.registry.outcome import ActOutcome, ActRefused, LineageEdge
from libs.domain.registry.snapshots import ParkState, ZoneSnapshot
from libs.domain.registry.view import RegistryView


class _Act(AttributeOperations):
    """One application of an act: the operations that create, rename, merge and split zones here,
    those that change one zone's attributes in :class:`AttributeOperations`."""

    # -- operations ----------------------------------------------------------------------

    def establish(self, i: int, op: Establish) -> None:
        """Create a zone under a ref later operations of the act may name."""
        if op.ref in self.out.created:
            self.fault(
                i,
                "duplicate_ref",
                Text(f"本次调整中引用名 {op.ref!r} 被设立了两次", f"ref {op.ref!r} is established twice in this act"),
                "ref",
            )
            return
        ok = self.division(i, op.authority, "authority")
        if op.entrusted_to is not None:
            ok = self.division(i, op.entrusted_to, "entrusted_to") and ok
            if op.entrusted_to == op.authority:
                self.fault(
                    i,
                    "entrust_to_authority",
                    Text("开发区不能托管给其自身的管理主体", "a zone is not entrusted to its own authority"),
                    "entrusted_to",
                )
                ok = False
        if len(set(op.parks)) != len(op.parks):
            self.fault(i, "duplicate_park", Text("园区名称重复", "park names repeat"), "parks")
            ok = False
        if len(set(op.plaques)) != len(op.plaques) or op.name in op.plaques:
            self.fault(
                i,
                "duplicate_plaque",
                Text("牌子名称重复，或与正式名称相同", "plaques repeat or repeat the official name"),
                "plaques",
            )
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
        """Give a zone a new official name; the old one becomes a former name or, if asked, a plaque."""
        zone_id = self.resolve(i, op.zone_id, "zone_id")
        if zone_id is None:
            return
        snap = self.work[zone_id]
        if op.name == snap.name:
            self.fault(
                i,
                "no_change",
                Text(f"开发区 {zone_id} 的名称已是 {op.name}", f"zone {zone_id} is already named {op.name}"),
                "name",
            )
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
        """End the sources and fold them into the target, as parks or absorbed (see the module's rules)."""
        target = self.resolve(i, op.into, "into")
        sources = self._merge_sources(i, op, target)
        if target is None or sources is None:
            return
        source_names = {n for s in sources for n in (*self.work[s].carried_names(), *self.work[s].former_names)}
        unknown = [n for n in op.keep_names_as_plaques if n not in source_names]
        if unknown:
            self.fault(
                i,
                "unknown_name",
                Text(
                    f"以下名称不属于被合并的开发区：{', '.join(unknown)}",
                    f"not a name of the sources: {', '.join(unknown)}",
                ),
                "keep_names_as_plaques",
            )
            return
        tgt = self.with_own_park(target) if op.sources_become == "parks" else self.work[target]
        parks = list(tgt.parks)
        plaques = list(tgt.plaques)
        former = list(tgt.former_names)
        for s in sources:
            if not self._fold_in(i, op, s, target, parks, former):
                return
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

    def _merge_sources(self, i: int, op: Merge, target: str | None) -> list[str] | None:
        """The sources' zone ids, or ``None`` after recording why not all of them can be merged."""
        sources: list[str] = []
        seen: set[str] = set()
        for k, ref in enumerate(op.sources):
            zone_id = self.resolve(i, ref, f"sources[{k}]")
            if zone_id is None:
                continue
            if zone_id == target:
                self.fault(
                    i,
                    "merge_into_itself",
                    Text(f"开发区 {zone_id} 不能合并到其自身", f"zone {zone_id} cannot be merged into itself"),
                    f"sources[{k}]",
                )
                continue
            if zone_id in seen:
                self.fault(
                    i,
                    "duplicate_source",
                    Text(f"开发区 {zone_id} 被重复列出", f"zone {zone_id} is listed twice"),
                    f"sources[{k}]",
                )
                continue
            seen.add(zone_id)
            sources.append(zone_id)
        return sources if len(sources) == len(op.sources) else None

    def _fold_in(self, i: int, op: Merge, s: str, target: str, parks: list[ParkState], former: list[str]) -> bool:
        """End source ``s``, adding its parks or names to the target's lists; ``False`` on a park clash."""
        src = self.work[s]
        if op.sources_become == "parks":
            new_parks = src.parks or (ParkState(src.name, src.id),)
            for park in new_parks:
                if any(p.name == park.name for p in parks):
                    self.fault(
                        i,
                        "duplicate_park",
                        Text(
                            f"开发区 {target} 已有名为 {park.name} 的园区",
                            f"zone {target} already has a park named {park.name}",
                        ),
                        "into",
                    )
                    return False
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
        how = "as a park" if op.sources_become == "parks" else "absorbed"
        self.note(i, "merge", s, f"merged into {target} ({how})")
        return True

    def split(self, i: int, op: Split) -> None:
        """Move parks of one zone to another."""
        source = self.resolve(i, op.zone_id, "zone_id")
        target = self.resolve(i, op.into, "into")
        if source is None or target is None:
            return
        if source == target:
            self.fault(
                i,
                "merge_into_itself",
                Text("园区不能划入其原属开发区", "parks cannot be split into the zone they leave"),
                "into",
            )
            return
        src = self.work[source]
        names = {p.name: p for p in src.parks}
        missing = [n for n in op.parks if n not in names]
        if missing:
            self.fault(
                i,
                "unknown_park",
                Text(
                    f"开发区 {source} 没有名为 {', '.join(missing)} 的园区",
                    f"zone {source} has no park named {', '.join(missing)}",
                ),
                "parks",
            )
            return
        tgt = self.with_own_park(target)
        moving = [names[n] for n in op.parks]
        clash = [p.name for p in moving if any(q.name == p.name for q in tgt.parks)]
        if clash:
            self.fault(
                i,
                "duplicate_park",
                Text(
                    f"开发区 {target} 已有名为 {', '.join(clash)} 的园区",
                    f"zone {target} already has a park named {', '.join(clash)}",
                ),
                "parks",
            )
            return
        self.put(source, dataclasses.replace(src, parks=tuple(p for p in src.parks if p.name not in op.parks)))
        self.put(target, dataclasses.replace(tgt, parks=(*tgt.parks, *moving)))
        self.out.edges.append(LineageEdge(source, target, "split", i))
        self.note(i, "split", source, f"parks {', '.join(op.parks)} left for {target}")
        self.note(i, "split", target, f"received parks {', '.join(op.parks)} from {source}")


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
