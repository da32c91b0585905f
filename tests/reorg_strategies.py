"""Hypothesis strategies that build acts against the current state of a reference registry."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from hypothesis import strategies as st

from libs.domain.registry.history import InMemoryRegistry

DIVISIONS = ("130700", "130702", "130705", "130728", "130730")
NAMES = [f"{c}区" for c in "甲乙丙丁戊己庚辛壬癸子丑寅卯辰巳午未申酉"]
PARKS = ["东园", "西园", "南园", "北园"]
START = date(2010, 1, 1)


def draw_act(data: st.DataObject, reg: InMemoryRegistry, last_day: date) -> tuple[date, list[dict[str, Any]]]:
    """An act of 1-4 operations on the zones active at its date (it may still be invalid)."""
    day = last_day + timedelta(days=data.draw(st.integers(0, 400), label="gap"))
    # In the order the zones were created, not by id: ids are made by the service under test, at
    # random, so an order by id would let the same draws pick other zones when Hypothesis replays a
    # case (its FlakyStrategyDefinition), and hide the failure it was shrinking.
    created = {zone_id: i for i, zone_id in enumerate(reg.states)}
    active = sorted((s for s in reg.snapshots(day) if s.active), key=lambda s: created[s.id])
    ops: list[dict[str, Any]] = []
    n_ops = data.draw(st.integers(1, 4), label="n_ops")
    for i in range(n_ops):
        kinds = (
            ["establish"]
            if not active
            else [
                "establish",
                "rename",
                "merge",
                "add_plaque",
                "revoke_plaque",
                "add_park",
                "remove_park",
                "transfer",
                "entrust",
                "end_entrustment",
                "change_level",
                "change_kind",
                "change_area",
                "revoke",
                "split",
            ]
        )
        kind = data.draw(st.sampled_from(kinds), label=f"op{i}")
        name = data.draw(st.sampled_from(NAMES), label="name")
        if kind == "establish":
            ops.append(
                {
                    "op": "establish",
                    "ref": f"r{i}",
                    "name": name,
                    "kind": data.draw(st.sampled_from(["economic", "high_tech"])),
                    "authority": data.draw(st.sampled_from(DIVISIONS)),
                    "parks": data.draw(st.lists(st.sampled_from(PARKS), max_size=2, unique=True)),
                    "plaques": data.draw(st.lists(st.sampled_from([n + "牌" for n in NAMES[:5]]), max_size=1)),
                }
            )
            continue
        zone = data.draw(st.sampled_from(active), label="zone")
        if kind == "rename":
            ops.append(
                {"op": "rename", "zone_id": zone.id, "name": name, "keep_old_name_as_plaque": data.draw(st.booleans())}
            )
        elif kind == "merge":
            others = [s.id for s in active if s.id != zone.id]
            if not others:
                continue
            sources = data.draw(st.lists(st.sampled_from(others), min_size=1, max_size=2, unique=True))
            ops.append(
                {
                    "op": "merge",
                    "sources": sources,
                    "into": zone.id,
                    "sources_become": data.draw(st.sampled_from(["parks", "absorbed"])),
                }
            )
        elif kind == "split":
            others = [s.id for s in active if s.id != zone.id]
            if not others or not zone.parks:
                continue
            ops.append(
                {
                    "op": "split",
                    "zone_id": zone.id,
                    "parks": [zone.parks[0].name],
                    "into": data.draw(st.sampled_from(others)),
                }
            )
        elif kind == "add_plaque":
            ops.append({"op": "add_plaque", "zone_id": zone.id, "name": name + "牌"})
        elif kind == "revoke_plaque":
            if zone.plaques:
                ops.append({"op": "revoke_plaque", "zone_id": zone.id, "name": zone.plaques[0]})
        elif kind == "add_park":
            ops.append({"op": "add_park", "zone_id": zone.id, "name": data.draw(st.sampled_from(PARKS))})
        elif kind == "remove_park":
            if zone.parks:
                ops.append({"op": "remove_park", "zone_id": zone.id, "name": zone.parks[-1].name})
        elif kind == "transfer":
            ops.append({"op": "transfer", "zone_id": zone.id, "authority": data.draw(st.sampled_from(DIVISIONS))})
        elif kind == "entrust":
            ops.append({"op": "entrust", "zone_id": zone.id, "to": data.draw(st.sampled_from(DIVISIONS))})
        elif kind == "end_entrustment":
            ops.append({"op": "end_entrustment", "zone_id": zone.id})
        elif kind == "change_level":
            ops.append(
                {
                    "op": "change_level",
                    "zone_id": zone.id,
                    "level": "national" if zone.level == "provincial" else "provincial",
                }
            )
        elif kind == "change_kind":
            ops.append(
                {
                    "op": "change_kind",
                    "zone_id": zone.id,
                    "kind": "economic" if zone.kind == "high_tech" else "high_tech",
                }
            )
        elif kind == "change_area":
            ops.append(
                {"op": "change_area", "zone_id": zone.id, "approved_area_km2": str(data.draw(st.integers(1, 99)))}
            )
        elif kind == "revoke":
            ops.append({"op": "revoke", "zone_id": zone.id, "reason": "test"})
    if not ops:
        ops.append(
            {
                "op": "establish",
                "ref": "fallback",
                "name": data.draw(st.sampled_from(NAMES)),
                "kind": "economic",
                "authority": "130728",
            }
        )
    return day, ops
