"""Conversions between the registry's rows, its contracts and the pure domain snapshots."""

from __future__ import annotations

from datetime import date
from typing import Any

from libs.domain.kernel.values import ZoneKind, ZoneLevel, ZoneStatus
from libs.domain.registry.contracts import DivisionRead, HistoryEntry, Park, ZoneBrief, ZoneChange, ZoneRead
from libs.domain.registry.names import normalise_name
from libs.domain.registry.snapshots import ParkState, ZoneSnapshot
from services.registry.repository import AliasRow
from services.registry.tables import Division, Reorganisation, ZoneState


def division_read(row: Division) -> DivisionRead:
    """Contract view of a division row."""
    return DivisionRead(
        code=row.code,
        name=row.name,
        valid_from=row.valid_from,
        valid_to=row.valid_to,
        successor=row.successor,
        is_city=row.is_city,
        note=row.note,
    )


def zone_read(row: ZoneState) -> ZoneRead:
    """Contract view of a zone state row."""
    return ZoneRead(
        id=row.zone_id,
        name=row.name,
        kind=ZoneKind(row.kind),
        level=ZoneLevel(row.level),
        status=ZoneStatus(row.status),
        authority=row.authority,
        entrusted_to=row.entrusted_to,
        parks=[Park.model_validate(p) for p in row.parks],
        plaques=list(row.plaques),
        former_names=list(row.former_names),
        approved_area_km2=row.approved_area_km2,
        established_on=row.established_on,
        legal_basis=row.legal_basis,
        reorganisation=row.reorganisation_id or None,  # 0: a dry run's state, recorded by no act
        successor=row.successor,
        status_reason=row.status_reason,
        valid_from=row.valid_from,
        valid_to=row.valid_to,
    )


def zone_brief(row: ZoneState) -> ZoneBrief:
    """The short reference to a zone that division lists and compliance findings carry."""
    return ZoneBrief(id=row.zone_id, name=row.name, kind=ZoneKind(row.kind), level=ZoneLevel(row.level))


def history_entry(state: ZoneState, act: Reorganisation) -> HistoryEntry:
    """One state of a zone with the act that produced it."""
    return HistoryEntry(
        state=zone_read(state),
        reorganisation=act.id,
        legal_basis=act.legal_basis,
        effective_on=act.effective_on,
        title=act.title,
        changes=[ZoneChange.model_validate(c) for c in state.changes],
    )


def snapshot_of(row: ZoneState) -> ZoneSnapshot:
    """The pure domain snapshot of a state row."""
    return ZoneSnapshot(
        id=row.zone_id,
        name=row.name,
        kind=ZoneKind(row.kind),
        level=ZoneLevel(row.level),
        status=ZoneStatus(row.status),
        authority=row.authority,
        entrusted_to=row.entrusted_to,
        parks=tuple(ParkState(p["name"], p.get("former_zone")) for p in row.parks),
        plaques=tuple(row.plaques),
        former_names=tuple(row.former_names),
        approved_area_km2=row.approved_area_km2,
        established_on=row.established_on,
        successor=row.successor,
        status_reason=row.status_reason,
    )


def state_row(snap: ZoneSnapshot, act: Reorganisation | None, on: date, changes: list[dict[str, Any]]) -> ZoneState:
    """A new (open-ended) state row for ``snap`` as of ``on``; ``act`` ``None``: a dry run's."""
    return ZoneState(
        zone_id=snap.id,
        reorganisation_id=act.id if act is not None else 0,
        legal_basis=act.legal_basis if act is not None else "",
        valid_from=on,
        valid_to=None,
        name=snap.name,
        kind=snap.kind.value,
        level=snap.level.value,
        status=snap.status.value,
        authority=snap.authority,
        entrusted_to=snap.entrusted_to,
        parks=[{"name": p.name, "former_zone": p.former_zone} for p in snap.parks],
        plaques=list(snap.plaques),
        former_names=list(snap.former_names),
        approved_area_km2=snap.approved_area_km2,
        established_on=snap.established_on,
        successor=snap.successor,
        status_reason=snap.status_reason,
        changes=changes,
    )


def alias_rows(snap: ZoneSnapshot) -> list[AliasRow]:
    """The look-up rows of every name a state answers to, each (name, kind of match) once."""
    out: dict[tuple[str, str], AliasRow] = {}
    for match, names in (
        ("official", [snap.name]),
        ("plaque", list(snap.plaques)),
        ("former_name", list(snap.former_names)),
        ("park", [p.name for p in snap.parks]),
    ):
        for name in names:
            out.setdefault((name, match), AliasRow(normalise_name(name), name, match))
    return list(out.values())
