"""Typed client of the permits service (its public reads), and its test double."""

from __future__ import annotations

from datetime import date

from libs.domain.clients.base import ServiceClient
from libs.domain.kernel.contracts import Page
from libs.domain.kernel.errors import NotFound
from libs.domain.kernel.i18n import Text
from libs.domain.permits.contracts import DeadlineRead, Figures, ItemRead, PowerListEntry, StatsRead

CATALOG_PAGE = 500


class PermitsClient(ServiceClient):
    """Calls the permits service over HTTP; raises ``NotFound`` / ``UpstreamUnavailable`` / ``UpstreamError``."""

    service = "permits"

    async def stats(self, *, zone: str, start: date, end: date) -> StatsRead:
        """The single window's figures for ``zone``: cases submitted in ``[start, end]``."""
        return await self.get_model(
            "/v1/stats", StatsRead, params={"zone_id": zone, "from": start.isoformat(), "to": end.isoformat()}
        )

    async def catalog(self, *, zone: str | None = None) -> list[ItemRead]:
        """Every approval item (of ``zone``), all pages."""
        out: list[ItemRead] = []
        cursor: str | None = None
        while True:
            page = await self.get_model(
                "/v1/catalog", Page[ItemRead], params={"zone_id": zone, "limit": CATALOG_PAGE, "cursor": cursor}
            )
            out.extend(page.items)
            if not page.next_cursor:
                return out
            cursor = page.next_cursor

    async def power_list(self, *, zone: str | None = None) -> list[PowerListEntry]:
        """The public list of powers and responsibilities (of ``zone``), all pages."""
        out: list[PowerListEntry] = []
        cursor: str | None = None
        while True:
            page = await self.get_model(
                "/v1/catalog/power-list",
                Page[PowerListEntry],
                params={"zone_id": zone, "limit": CATALOG_PAGE, "cursor": cursor},
            )
            out.extend(page.items)
            if not page.next_cursor:
                return out
            cursor = page.next_cursor

    async def deadline(self, *, start: date, working_days: int) -> DeadlineRead:
        """The ``working_days``-th working day after ``start`` on the service's calendar."""
        return await self.get_model(
            "/v1/calendar/deadline", DeadlineRead, params={"start": start.isoformat(), "working_days": working_days}
        )


def empty_figures() -> Figures:
    """Figures of a period without cases."""
    return Figures(
        received=0,
        accepted=0,
        decided=0,
        approved=0,
        on_time_rate=None,
        working_days_median=None,
        working_days_p90=None,
        overdue=0,
        days_stopped=0,
    )


class FakePermitsClient:
    """In-memory stand-in for :class:`PermitsClient`: answers the statistics and catalog it is given."""

    def __init__(
        self,
        *,
        stats: dict[str, StatsRead] | None = None,
        items: list[ItemRead] | None = None,
        deadlines: dict[tuple[date, int], DeadlineRead] | None = None,
    ) -> None:
        self.stats_by_zone = dict(stats or {})
        self.items = list(items or [])
        self.deadlines = dict(deadlines or {})
        self.calls: list[tuple[str, object]] = []

    async def stats(self, *, zone: str, start: date, end: date) -> StatsRead:
        """The statistics given for ``zone`` (with the asked period), or empty figures."""
        self.calls.append(("stats", zone))
        given = self.stats_by_zone.get(zone)
        if given is not None:
            return given.model_copy(update={"from_": start, "to": end})
        return StatsRead(zone_id=zone, from_=start, to=end, as_of=end, total=empty_figures(), items=[], departments=[])

    async def catalog(self, *, zone: str | None = None) -> list[ItemRead]:
        """The items given (of ``zone``)."""
        self.calls.append(("catalog", zone))
        return [i for i in self.items if zone is None or i.zone_id == zone]

    async def power_list(self, *, zone: str | None = None) -> list[PowerListEntry]:
        """The power list derived from the items given (no bureau names)."""
        self.calls.append(("power_list", zone))
        out = []
        for i in await self.catalog(zone=zone):
            departments: list[str] = []
            for stage in i.stages:
                departments += [d for d in stage.departments if d not in departments]
            out.append(
                PowerListEntry(
                    zone_id=i.zone_id,
                    bureau=None,
                    code=i.code,
                    name=i.name,
                    legal_basis=i.legal_basis,
                    statutory_limit_days=i.statutory_limit_days,
                    promised_limit_days=i.promised_limit_days,
                    departments=departments,
                    fee=i.fee,
                    responsibility=i.responsibility,
                )
            )
        return out

    async def deadline(self, *, start: date, working_days: int) -> DeadlineRead:
        """The deadline given for ``(start, working_days)``; ``NotFound`` if none was given."""
        self.calls.append(("deadline", (start, working_days)))
        answer = self.deadlines.get((start, working_days))
        if answer is None:
            raise NotFound(
                Text("未向测试替身提供这组参数的期限", "no deadline given to the fake for these arguments"),
                code="deadline_not_found",
                service="permits",
            )
        return answer
