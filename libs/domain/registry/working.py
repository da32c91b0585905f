"""The working state of one application of an act: resolving references, recording faults,
carried names, and the check of the whole act once every operation has run."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import date

from libs.domain.kernel.i18n import Text
from libs.domain.registry.outcome import ActOutcome, ChangeNote, Fault
from libs.domain.registry.snapshots import ParkState, ZoneSnapshot
from libs.domain.registry.view import RegistryView


class WorkingAct:
    """Mutable working state of one application of an act, and what every operation needs of it."""

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

    def fault(self, index: int, code: str, message: Text, field_: str | None = None) -> None:
        """Record why operation ``index`` cannot be applied."""
        self.faults.append(Fault(index, code, message, field_))

    def touch(self, zone_id: str) -> None:
        """Count ``zone_id`` among the zones the act changes (in first-touched order)."""
        if zone_id not in self.out.touched:
            self.out.touched.append(zone_id)

    def note(self, index: int, op: str, zone_id: str, text: str) -> None:
        """Add a readable account of what operation ``index`` did to ``zone_id``."""
        self.out.changes.append(ChangeNote(index, op, zone_id, text))

    def resolve(self, index: int, ref: str, field_: str) -> str | None:
        """The zone id behind ``ref``, or ``None`` after recording why it cannot be used."""
        if ref in self.out.created:
            zone_id = self.out.created[ref]
        elif self.view.exists(ref):
            zone_id = ref
        else:
            self.fault(
                index,
                "unknown_zone",
                Text(
                    f"没有 id 为 {ref!r} 的开发区，本次调整此前的 `establish` 中也没有这个引用名",
                    f"no zone or earlier `establish` ref named {ref!r}",
                ),
                field_,
            )
            return None
        if zone_id in self.ended_at:
            self.fault(
                index,
                "ended_in_this_act",
                Text(
                    f"开发区 {zone_id} 已被本次调整的操作 {self.ended_at[zone_id]} 终止",
                    f"zone {zone_id} already ended by operation {self.ended_at[zone_id]} of this act",
                ),
                field_,
            )
            return None
        if zone_id not in self.work:
            snap = self.view.snapshot(zone_id)
            if snap is None:
                self.fault(
                    index,
                    "inactive_zone",
                    Text(f"开发区 {zone_id} 在 {self.on} 不在有效期内", f"zone {zone_id} is not in force on {self.on}"),
                    field_,
                )
                return None
            last = self.view.last_event_on(zone_id)
            if last is not None and last > self.on:
                self.fault(
                    index,
                    "effective_date_before_later_event",
                    Text(
                        f"开发区 {zone_id} 有一项 {last} 生效的调整，晚于本次调整的生效日期 {self.on}",
                        f"zone {zone_id} has an act effective {last}, after this act's {self.on}",
                    ),
                    field_,
                )
                return None
            self.work[zone_id] = snap
            self.pre_existing.add(zone_id)
        if not self.work[zone_id].active:
            status = self.work[zone_id].status
            self.fault(
                index,
                "inactive_zone",
                Text(f"开发区 {zone_id} 在 {self.on} 的状态为 {status}", f"zone {zone_id} is {status} on {self.on}"),
                field_,
            )
            return None
        return zone_id

    def division(self, index: int, code: str, field_: str) -> bool:
        """True if division ``code`` is in force on the date; else record the fault."""
        if not self.view.division_valid(code):
            self.fault(
                index,
                "unknown_division",
                Text(f"行政区划 {code} 在 {self.on} 不在有效期内", f"division {code} is not in force on {self.on}"),
                field_,
            )
            return False
        return True

    def put(self, zone_id: str, snap: ZoneSnapshot) -> None:
        """The new working state of ``zone_id``."""
        self.work[zone_id] = snap
        self.touch(zone_id)

    def carry(self, index: int, zone_id: str, name: str) -> None:
        """Remember that operation ``index`` gave ``zone_id`` the name ``name`` (for the uniqueness check)."""
        self.name_origin[(zone_id, name)] = index

    def with_own_park(self, zone_id: str) -> ZoneSnapshot:
        """The zone, given its own area as a first park if it has none and existed before the act."""
        snap = self.work[zone_id]
        if not snap.parks and zone_id in self.pre_existing:
            return dataclasses.replace(snap, parks=(ParkState(snap.name, None),))
        return snap

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
                        Text(
                            f"名称 {name} 将同时由 {other} 和 {zone_id} 使用",
                            f"{name} would be carried by both {other} and {zone_id}",
                        ),
                    )
                    continue
                holders[name] = zone_id
                if index is None:
                    continue  # carried before this act: not this act's doing
                elsewhere = self.view.carried_by_others(name)
                if elsewhere is not None and elsewhere not in self.out.touched:
                    self.fault(
                        index,
                        "duplicate_name",
                        Text(
                            f"名称 {name} 已由有效的开发区 {elsewhere} 使用",
                            f"{name} is already carried by active zone {elsewhere}",
                        ),
                    )
