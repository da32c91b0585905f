"""Who may read which raw values: the subjects a caller's current values and revisions are shown for.

The rule (docs/metrics.md#who-may-read-what), as the push's scope check decides who may write:

- the city (``city_admin``, ``commerce_bureau``, ``science_bureau``, ``statistics_bureau``) reads
  every value;
- a county reads its own division's totals, and a zone's values for the periods in which the
  county administered the zone or managed it by entrustment (a state of the zone overlapping the
  period names the county as its authority or its entrusted-to division:
  :func:`libs.domain.metrics.scope.managing_divisions`, the push's test);
- a zone committee reads its own zone's values (:mod:`services.metrics.observations.reads`).

Lists are filtered to these rows; a revision history of a value outside them is a 403 problem
(``outside_read_scope``). The zones' histories come from the registry through the cached
:class:`~services.metrics.jurisdiction.Jurisdiction`, its change feed polled first (a 503 when the
registry is down, as for a write).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from libs.domain.kernel.contracts import Actor
from libs.domain.kernel.errors import Forbidden
from libs.domain.kernel.i18n import Text
from libs.domain.kernel.values import Period, Role
from libs.domain.metrics.scope import managing_divisions
from libs.domain.registry.contracts import ZoneRead
from services.metrics.jurisdiction import Jurisdiction, Registry

CITY_READERS = (Role.CITY_ADMIN, Role.COMMERCE_BUREAU, Role.SCIENCE_BUREAU, Role.STATISTICS_BUREAU)


@dataclass(frozen=True, slots=True)
class CountyScope:
    """What one county reads: its own totals (``division``) and zones, by their states.

    ``always`` are the zones every state of which the county manages (each of their values is the
    county's); ``sometimes`` the zones it managed in some states only (a value is the county's when
    the county managed the zone during the value's period), with their histories.
    """

    division: str | None
    always: frozenset[str] = frozenset()
    sometimes: dict[str, list[ZoneRead]] = field(default_factory=dict)

    @property
    def zones(self) -> frozenset[str]:
        """Every zone the county managed at some time."""
        return self.always | frozenset(self.sometimes)

    def admits(self, subject_type: str, subject_id: str, period: str) -> bool:
        """Whether the county reads the value of ``subject_id`` for ``period``."""
        if subject_type == "division":
            return self.division is not None and subject_id == self.division
        if subject_id in self.always:
            return True
        states = self.sometimes.get(subject_id)
        if states is None or self.division is None:
            return False
        return self.division in managing_divisions(states, Period.parse(period))


def restricted_county(actor: Actor) -> bool:
    """Whether the caller reads as a county (a city role on the same token reads everything)."""
    return actor.has(Role.COUNTY) and not actor.has(*CITY_READERS)


async def county_scope(
    actor: Actor, zone_ids: Iterable[str], *, registry: Registry, jurisdiction: Jurisdiction
) -> CountyScope:
    """The county's scope over ``zone_ids`` (the zones whose values may be shown)."""
    division = actor.division
    ids = list(dict.fromkeys(zone_ids))
    if division is None or not ids:
        return CountyScope(division)
    await jurisdiction.refresh(registry)
    histories = await jurisdiction.histories_of(registry, ids)
    always: set[str] = set()
    sometimes: dict[str, list[ZoneRead]] = {}
    for zone_id, states in histories.items():
        managed = [division in (s.authority, s.entrusted_to) for s in states]
        if managed and all(managed):
            always.add(zone_id)
        elif any(managed):
            sometimes[zone_id] = states
    return CountyScope(division, frozenset(always), sometimes)


def outside(subject: tuple[str, str], period: Period) -> Forbidden:
    """The 403 of a value the caller may not read."""
    name = f"开发区 {subject[1]} " if subject[0] == "zone" else f"区划 {subject[1]} 的合计"
    return Forbidden(
        Text(
            f"{name}在 {period} 不属本县（区）管辖或托管，无权查阅其数据",
            f"{subject[0]} {subject[1]} was not administered or managed by this county in {period}; "
            "its values are not readable",
        ),
        code="outside_read_scope",
    )
