"""The operations of an act that change one zone's attributes: plaques, parks, authority and
entrustment, level, kind, approved area, and revocation."""

from __future__ import annotations

import dataclasses

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
    RemovePark,
    Revoke,
    RevokePlaque,
    Transfer,
)
from libs.domain.registry.snapshots import ParkState
from libs.domain.registry.working import WorkingAct


class AttributeOperations(WorkingAct):
    """Each method applies one operation of its name to the working state (faults recorded, not raised)."""

    def add_plaque(self, i: int, op: AddPlaque) -> None:
        """Give a zone one more plaque (a name it also carries)."""
        zone_id = self.resolve(i, op.zone_id, "zone_id")
        if zone_id is None:
            return
        snap = self.work[zone_id]
        if op.name in snap.carried_names():
            self.fault(
                i,
                "duplicate_plaque",
                Text(f"开发区 {zone_id} 已使用名称 {op.name}", f"zone {zone_id} already carries the name {op.name}"),
                "name",
            )
            return
        self.put(zone_id, dataclasses.replace(snap, plaques=(*snap.plaques, op.name)))
        self.carry(i, zone_id, op.name)
        self.note(i, "add_plaque", zone_id, f"plaque {op.name} added")

    def revoke_plaque(self, i: int, op: RevokePlaque) -> None:
        """Take a plaque off a zone."""
        zone_id = self.resolve(i, op.zone_id, "zone_id")
        if zone_id is None:
            return
        snap = self.work[zone_id]
        if op.name not in snap.plaques:
            self.fault(
                i,
                "unknown_plaque",
                Text(f"开发区 {zone_id} 未挂 {op.name} 牌子", f"zone {zone_id} carries no plaque {op.name}"),
                "name",
            )
            return
        self.put(zone_id, dataclasses.replace(snap, plaques=tuple(p for p in snap.plaques if p != op.name)))
        self.note(i, "revoke_plaque", zone_id, f"plaque {op.name} revoked")

    def add_park(self, i: int, op: AddPark) -> None:
        """Give a zone one more park (its own area becomes the first one if it had none)."""
        zone_id = self.resolve(i, op.zone_id, "zone_id")
        if zone_id is None:
            return
        snap = self.with_own_park(zone_id)
        if any(p.name == op.name for p in snap.parks):
            self.fault(
                i,
                "duplicate_park",
                Text(
                    f"开发区 {zone_id} 已有名为 {op.name} 的园区", f"zone {zone_id} already has a park named {op.name}"
                ),
                "name",
            )
            return
        self.put(zone_id, dataclasses.replace(snap, parks=(*snap.parks, ParkState(op.name))))
        self.note(i, "add_park", zone_id, f"park {op.name} added")

    def remove_park(self, i: int, op: RemovePark) -> None:
        """Take a park off a zone."""
        zone_id = self.resolve(i, op.zone_id, "zone_id")
        if zone_id is None:
            return
        snap = self.work[zone_id]
        if not any(p.name == op.name for p in snap.parks):
            self.fault(
                i,
                "unknown_park",
                Text(f"开发区 {zone_id} 没有名为 {op.name} 的园区", f"zone {zone_id} has no park named {op.name}"),
                "name",
            )
            return
        self.put(zone_id, dataclasses.replace(snap, parks=tuple(p for p in snap.parks if p.name != op.name)))
        self.note(i, "remove_park", zone_id, f"park {op.name} removed")

    def transfer(self, i: int, op: Transfer) -> None:
        """Hand a zone to another administering division (ending an entrustment to that division)."""
        zone_id = self.resolve(i, op.zone_id, "zone_id")
        if zone_id is None or not self.division(i, op.authority, "authority"):
            return
        snap = self.work[zone_id]
        if snap.authority == op.authority:
            self.fault(
                i,
                "no_change",
                Text(
                    f"开发区 {zone_id} 已由 {op.authority} 管理",
                    f"zone {zone_id} is already administered by {op.authority}",
                ),
                "authority",
            )
            return
        entrusted = None if snap.entrusted_to == op.authority else snap.entrusted_to
        self.put(zone_id, dataclasses.replace(snap, authority=op.authority, entrusted_to=entrusted))
        ended = f"; entrustment to {snap.entrusted_to} ended" if entrusted != snap.entrusted_to else ""
        self.note(i, "transfer", zone_id, f"transferred from {snap.authority} to {op.authority}{ended}")

    def entrust(self, i: int, op: Entrust) -> None:
        """Entrust a zone to a division other than its authority."""
        zone_id = self.resolve(i, op.zone_id, "zone_id")
        if zone_id is None or not self.division(i, op.to, "to"):
            return
        snap = self.work[zone_id]
        if op.to == snap.authority:
            self.fault(
                i,
                "entrust_to_authority",
                Text("开发区不能托管给其自身的管理主体", "a zone is not entrusted to its own authority"),
                "to",
            )
            return
        if op.to == snap.entrusted_to:
            self.fault(
                i,
                "no_change",
                Text(f"开发区 {zone_id} 已托管给 {op.to}", f"zone {zone_id} is already entrusted to {op.to}"),
                "to",
            )
            return
        self.put(zone_id, dataclasses.replace(snap, entrusted_to=op.to))
        self.note(i, "entrust", zone_id, f"entrusted to {op.to}")

    def end_entrustment(self, i: int, op: EndEntrustment) -> None:
        """End the entrustment of a zone."""
        zone_id = self.resolve(i, op.zone_id, "zone_id")
        if zone_id is None:
            return
        snap = self.work[zone_id]
        if snap.entrusted_to is None:
            self.fault(
                i, "not_entrusted", Text(f"开发区 {zone_id} 未实行托管", f"zone {zone_id} is not entrusted"), "zone_id"
            )
            return
        self.put(zone_id, dataclasses.replace(snap, entrusted_to=None))
        self.note(i, "end_entrustment", zone_id, f"entrustment to {snap.entrusted_to} ended")

    def change_level(self, i: int, op: ChangeLevel) -> None:
        """Change a zone's approval level."""
        zone_id = self.resolve(i, op.zone_id, "zone_id")
        if zone_id is None:
            return
        snap = self.work[zone_id]
        if snap.level == op.level:
            self.fault(
                i,
                "no_change",
                Text(f"开发区 {zone_id} 的级别已是 {op.level}", f"zone {zone_id} is already {op.level}"),
                "level",
            )
            return
        self.put(zone_id, dataclasses.replace(snap, level=op.level))
        self.note(i, "change_level", zone_id, f"level changed from {snap.level} to {op.level}")

    def change_kind(self, i: int, op: ChangeKind) -> None:
        """Change a zone's kind."""
        zone_id = self.resolve(i, op.zone_id, "zone_id")
        if zone_id is None:
            return
        snap = self.work[zone_id]
        if snap.kind == op.kind:
            self.fault(
                i,
                "no_change",
                Text(f"开发区 {zone_id} 的类型已是 {op.kind}", f"zone {zone_id} is already {op.kind}"),
                "kind",
            )
            return
        self.put(zone_id, dataclasses.replace(snap, kind=op.kind))
        self.note(i, "change_kind", zone_id, f"kind changed from {snap.kind} to {op.kind}")

    def change_area(self, i: int, op: ChangeArea) -> None:
        """Change a zone's approved area."""
        zone_id = self.resolve(i, op.zone_id, "zone_id")
        if zone_id is None:
            return
        snap = self.work[zone_id]
        if snap.approved_area_km2 == op.approved_area_km2:
            self.fault(
                i,
                "no_change",
                Text(f"开发区 {zone_id} 的核准面积已是该值", f"zone {zone_id} already has that approved area"),
                "approved_area_km2",
            )
            return
        self.put(zone_id, dataclasses.replace(snap, approved_area_km2=op.approved_area_km2))
        self.note(i, "change_area", zone_id, f"approved area {snap.approved_area_km2} → {op.approved_area_km2} km²")

    def revoke(self, i: int, op: Revoke) -> None:
        """Revoke a zone (it ends; its names may then be carried by others)."""
        zone_id = self.resolve(i, op.zone_id, "zone_id")
        if zone_id is None:
            return
        snap = self.work[zone_id]
        self.put(
            zone_id, dataclasses.replace(snap, status=ZoneStatus.REVOKED, status_reason=op.reason, entrusted_to=None)
        )
        self.ended_at[zone_id] = i
        self.note(i, "revoke", zone_id, f"revoked: {op.reason}")
