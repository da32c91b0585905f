"""Whether a batch's zones existed in their periods, and its subjects are the caller's (asking the registry)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import NamedTuple, cast

from libs.domain.kernel.contracts import Actor
from libs.domain.kernel.values import Period, Role
from libs.domain.metrics import messages
from libs.domain.metrics.contracts import ConflictCode
from libs.domain.metrics.scope import existence_fault, managing_divisions, state_on
from libs.domain.registry.contracts import ZoneRead
from services.metrics.jurisdiction import Jurisdiction, Registry
from services.metrics.observations.checks import Checked, Faults

ZonePeriod = tuple[str, Period]
"""A zone id and a period pushed for it."""

MAX_ACCEPTED = 20
"""How many of the zones a caller may write for a refused row lists (with their count)."""


class Refusal(NamedTuple):
    """Why the registry refuses a zone in a period, and what the row may name instead."""

    code: ConflictCode
    message: messages.Text
    accepted: list[str] | None = None


class ZoneVerdict(NamedTuple):
    """What the registry says of a (zone, period): its refusal if any, its kind, whether the caller's,
    and the division administering it at the period's end (what a refused caller is told)."""

    refusal: Refusal | None
    kind: str | None
    allowed: bool
    division: str | None = None


class Outside(NamedTuple):
    """A row the caller may not write: its index, its subject, the division it belongs to, and the
    period pushed (what the caller may write for instead depends on it)."""

    position: int
    """The row's index in the batch."""
    subject_type: str
    subject_id: str
    division: str | None
    period: Period

    def view(
        self, lines: Mapping[int, int | None], columns: Mapping[str, str], accepted: Sequence[str]
    ) -> dict[str, object]:
        """As a 403 problem lists it: with the row as Excel shows it and the column of a row read
        from a file, a message, and the first :data:`MAX_ACCEPTED` of the ``accepted`` subjects
        with their count."""
        line = lines.get(self.position)
        column = columns.get("subject") if line is not None else None
        shown = list(accepted[:MAX_ACCEPTED])
        totals = self.subject_type == "division"
        text = messages.outside_scope(self.subject_id, self.division, len(shown), len(accepted), totals=totals)
        return {
            "index": self.position,
            "line": line,
            "column": column,
            "zone_id": self.subject_id if self.subject_type == "zone" else None,
            "division": self.division if self.subject_type == "zone" else self.subject_id,
            "msg": text.at(line, column),
            "accepted": shown,
            "accepted_count": len(accepted),
        }


async def writable_zones(actor: Actor, period: Period, *, registry: Registry, jurisdiction: Jurisdiction) -> list[str]:
    """The zones the caller may write for in ``period`` (``id name``, by name): a county's zones
    active at the period's end that it administers or manages by entrustment, a zone
    committee's own zone. (A county's own totals go under its division code.)"""
    active = await jurisdiction.active_zones(registry, period.end)
    if actor.has(Role.COUNTY) and actor.division:
        mine = [z for z in active if actor.division in (z.authority, z.entrusted_to)]
        return [f"{z.id} {z.name}" for z in sorted(mine, key=lambda z: (z.name, z.id))]
    if actor.has(Role.ZONE_COMMITTEE) and actor.zone:
        return [f"{z.id} {z.name}" for z in active if z.id == actor.zone] or [actor.zone]
    return []


def zones_by_period(rows: Sequence[Checked], into: dict[Period, set[str]]) -> None:
    """Add the zones of checked ``rows`` to ``into``, per period.

    A batch names a period or two: the rows are gathered per period's text, without a tuple
    per row (hashing a Period object, or a pair, per row costs more).
    """
    texts = {r.static.period_text for r in rows}
    for text in texts:
        period = cast(Period, next(r.static.period for r in rows if r.static.period_text == text))
        zones = into.setdefault(period, set())
        if len(texts) == 1:
            zones.update({r.subject_id for r in rows if r.subject_type == "zone"})
        else:
            zones.update({r.subject_id for r in rows if r.subject_type == "zone" and r.static.period_text == text})


async def check_zones(
    rows: Sequence[Checked],
    *,
    actor: Actor,
    registry: Registry,
    jurisdiction: Jurisdiction,
    faults: Faults,
) -> tuple[list[Outside], dict[ZonePeriod, str | None]]:
    """Existence of each zone in its period and the caller's scope.

    Returns the rows out of scope (with the division each zone belongs to) and the kind of each
    (zone, period) pushed (for locks).
    The registry is asked once per distinct zone and period, not once per row; its change feed
    is polled first.
    """
    outside: list[Outside] = []
    zone_rows = [r for r in rows if r.subject_type == "zone"]
    if not actor.has(Role.CITY_ADMIN, Role.STATISTICS_BUREAU):
        own = actor.division if actor.has(Role.COUNTY) else None
        outside.extend(
            Outside(r.index, "division", r.subject_id, r.subject_id, cast(Period, r.static.period))
            for r in rows
            if r.subject_type == "division" and r.subject_id != own
        )
    if not zone_rows:
        return outside, {}
    zones_of: dict[Period, set[str]] = {}
    zones_by_period(zone_rows, zones_of)
    refused, kinds = await zone_verdicts(
        zones_of, actor=actor, registry=registry, jurisdiction=jurisdiction, refreshed=False
    )
    if refused:  # only then a second look at the rows: which ones are refused, and why
        for r in zone_rows:
            pair = (r.subject_id, cast(Period, r.static.period))
            if pair not in refused:
                continue
            refusal = refused[pair]
            if isinstance(refusal, Refusal):
                faults.add(r.index, "subject", refusal.code, refusal.message, refusal.accepted)
            else:
                outside.append(Outside(r.index, "zone", r.subject_id, refusal, pair[1]))
    return outside, kinds


async def in_scope(
    zones_of: dict[Period, set[str]],
    divisions: set[str],
    *,
    actor: Actor,
    registry: Registry,
    jurisdiction: Jurisdiction,
) -> bool:
    """Whether every zone existed in its period and every subject is the caller's, as
    :func:`check_zones` decides (the registry's change feed was just polled)."""
    if not actor.has(Role.CITY_ADMIN, Role.STATISTICS_BUREAU):
        own = actor.division if actor.has(Role.COUNTY) else None
        if any(d != own for d in divisions):
            return False
    if not any(zones_of.values()):
        return True
    refused, _kinds = await zone_verdicts(
        zones_of, actor=actor, registry=registry, jurisdiction=jurisdiction, refreshed=True
    )
    return not refused


async def zone_verdicts(
    zones_of: dict[Period, set[str]],
    *,
    actor: Actor,
    registry: Registry,
    jurisdiction: Jurisdiction,
    refreshed: bool,
) -> tuple[dict[ZonePeriod, Refusal | str | None], dict[ZonePeriod, str | None]]:
    """Per (zone, period) pushed: the refused ones (with their refusal, or, when outside the caller's
    scope, the division administering the zone then) and the zone kind of the others. The
    registry's change feed is polled first, unless the caller has just done so (``refreshed``)."""
    unrestricted = actor.has(Role.CITY_ADMIN, Role.STATISTICS_BUREAU)
    county_scope = not unrestricted and actor.has(Role.COUNTY)
    kinds: dict[ZonePeriod, str | None] = {}
    pairs = {(zone, period) for period, zones in zones_of.items() for zone in zones}
    if not refreshed:
        await jurisdiction.refresh(registry)
    active: dict[Period, dict[str, ZoneRead]] = {}
    for _, p in pairs:
        if p not in active:
            active[p] = {z.id: z for z in await jurisdiction.active_zones(registry, p.end)}
    need = {zone for zone, p in pairs if county_scope or zone not in active[p]}
    histories = await jurisdiction.histories_of(registry, need)
    refused: dict[ZonePeriod, Refusal | str | None] = {}  # not a Refusal: outside the scope (its division)
    for zone_id, period in pairs:
        verdict = zone_verdict(
            zone_id, period, active[period].get(zone_id), histories.get(zone_id), actor, county_scope, active[period]
        )
        if verdict.refusal is not None:
            refused[(zone_id, period)] = verdict.refusal
            continue
        kinds[(zone_id, period)] = verdict.kind
        if not (unrestricted or verdict.allowed):
            refused[(zone_id, period)] = verdict.division
    return refused, kinds


def zone_verdict(
    zone_id: str,
    period: Period,
    zone: ZoneRead | None,
    states: list[ZoneRead] | None,
    actor: Actor,
    county_scope: bool,
    active: Mapping[str, ZoneRead] | None = None,
) -> ZoneVerdict:
    """The verdict on one zone in one period: ``zone`` is its state active at the period's end, if
    any, ``states`` its history (needed when it is not active, or for a county's scope), ``active``
    the zones active then (to name an ended zone's successor)."""
    kind: str | None
    if zone is None:
        if not states:
            return ZoneVerdict(Refusal("unknown_zone", messages.unknown_zone(zone_id)), None, False)
        fault = existence_fault(states, period)
        if fault == "zone_not_existing":
            return ZoneVerdict(Refusal(fault, messages.zone_not_existing(zone_id, str(period))), None, False)
        if fault is not None:
            successor = _successor(states, period, active or {})
            text = messages.zone_ended(zone_id, str(period), successor)
            return ZoneVerdict(Refusal(fault, text, [successor] if successor else None), None, False)
        at_end = state_on(states, period.end)
        kind = at_end.kind.value if at_end else None
        division = at_end.authority if at_end else None
    else:
        kind = zone.kind.value
        division = zone.authority
    allowed = bool(actor.has(Role.ZONE_COMMITTEE) and zone_id == actor.zone) or bool(
        county_scope and actor.division in managing_divisions(states or [], period)
    )
    return ZoneVerdict(None, kind, allowed, division)


def _successor(states: Sequence[ZoneRead], period: Period, active: Mapping[str, ZoneRead]) -> str | None:
    """The successor of a zone ended by the period's end, as ``id name`` (the name as active then;
    the id alone when the successor is not active then either), or ``None`` when it has none."""
    ended = [s for s in states if s.valid_from <= period.end]
    successor = next((s.successor for s in reversed(ended) if s.successor), None)
    if successor is None:
        return None
    heir = active.get(successor)
    return f"{successor} {heir.name}" if heir is not None else successor
