"""Read-mostly data the intake needs on every call, kept in memory: catalog items and the
effective calendar (the official one with the loaded notices and the bureau's overrides).

Freshness:

- **This replica** sees its own edits at once: the routes that change the calendar or the
  catalog call :meth:`ReadCache.invalidate_on_commit`, which empties the cache when (and only
  when) their transaction commits. A generation counter keeps a read that started before the
  commit from storing what it read afterwards.
- **Other replicas** see an edit within :attr:`ReadCache.ttl` seconds (``PERMITS_CACHE_SECONDS``,
  default 2; 0 turns the cache off). A case accepted on another replica inside that window
  gets its deadlines put right by the sweeper's recompute (every ``PERMITS_SWEEP_INTERVAL_SECONDS``),
  the same path that already settles an acceptance racing a calendar change; an item edited
  inside that window applies to cases submitted after it, as an edit always did.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date
from typing import Any, Protocol, TypeVar

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from libs.domain.kernel.calendar import DayInfo, Deadline, OfficialCalendar
from services.common.db import on_commit
from services.permits.tables import CatalogItem

T = TypeVar("T")

SessionSource = Callable[[], AsyncSession]
"""Where a read gets its session, asked only when the cache misses (the intake opens none when it hits)."""


class CalendarLoader(Protocol):
    """Loads the effective calendar (:func:`services.permits.calendar.service.calendar`)."""

    def __call__(self, *, session: AsyncSession, official: OfficialCalendar) -> Awaitable[OfficialCalendar]: ...


class CacheSettings(BaseSettings):
    """How long another replica's edit may take to show here (``PERMITS_CACHE_SECONDS``)."""

    model_config = SettingsConfigDict(env_prefix="PERMITS_", extra="ignore")

    cache_seconds: float = Field(2.0, ge=0, le=300)


@dataclass(frozen=True, slots=True)
class ItemSnapshot:
    """What a new case copies from its catalog item (read-only)."""

    id: str
    zone: str
    code: str
    name: str
    version: int
    stages: list[Any]
    materials: list[Any]
    accept_pending_minor: bool
    land_use_check: bool
    max_extension_days: int
    promised_limit_days: int
    statutory_limit_days: int

    def case_snapshot(self) -> dict[str, Any]:
        """The item as a case keeps it (``application.item_snapshot``)."""
        return {
            "version": self.version,
            "stages": self.stages,
            "materials": self.materials,
            "accept_pending_minor": self.accept_pending_minor,
            "max_extension_days": self.max_extension_days,
            "promised_limit_days": self.promised_limit_days,
            "statutory_limit_days": self.statutory_limit_days,
        }


_ITEM_COLUMNS = (
    CatalogItem.id,
    CatalogItem.zone,
    CatalogItem.code,
    CatalogItem.name,
    CatalogItem.version,
    CatalogItem.stages,
    CatalogItem.materials,
    CatalogItem.accept_pending_minor,
    CatalogItem.land_use_check,
    CatalogItem.max_extension_days,
    CatalogItem.promised_limit_days,
    CatalogItem.statutory_limit_days,
)


@dataclass(frozen=True)
class RememberingCalendar(OfficialCalendar):
    """The effective calendar, remembering what it said about each day asked, and each working-day
    count it made (it never changes: an edit makes a new calendar). Deadlines and readings ask about
    the same few weeks again and again: every case accepted today has the same deadlines."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "_said", {})
        object.__setattr__(self, "_counted", {})

    def info(self, day: date) -> DayInfo:
        said: dict[date, DayInfo] = self._said  # type: ignore[attr-defined]
        known = said.get(day)
        if known is None:
            known = said[day] = OfficialCalendar.info(self, day)
        return known

    def add_working_days(self, start: date, working_days: int) -> Deadline:
        due: Deadline = self._count(OfficialCalendar.add_working_days, start, working_days)
        return due

    def working_days_between(self, start: date, end: date) -> int:
        days: int = self._count(OfficialCalendar.working_days_between, start, end)
        return days

    def _count(self, how: Callable[[OfficialCalendar, date, Any], Any], start: date, other: Any) -> Any:
        counted: dict[tuple[object, date, Any], Any] = self._counted  # type: ignore[attr-defined]
        key = (how, start, other)
        known = counted.get(key)
        if known is None:
            known = counted[key] = how(self, start, other)
        return known


def remembering(cal: OfficialCalendar) -> RememberingCalendar:
    """``cal`` as a :class:`RememberingCalendar`."""
    return RememberingCalendar(cal.holidays, cal.makeup_workdays, cal.covered_years, cal.overrides)


class ReadCache:
    """Catalog items and the effective calendar, each kept for at most ``ttl`` seconds; the
    calendar is loaded by ``load_calendar`` (given by the app, so this module needs no feature's)."""

    def __init__(
        self, ttl: float, *, load_calendar: CalendarLoader, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.ttl = ttl
        self.load_calendar = load_calendar
        self.clock = clock
        self.generation = 0
        self._items: dict[str, tuple[float, ItemSnapshot]] = {}
        self._calendar: tuple[float, OfficialCalendar, OfficialCalendar] | None = None
        self._loading: dict[object, asyncio.Future[Any]] = {}

    async def _once(self, key: object, load: Callable[[], Awaitable[T]]) -> T:
        """``load()``, unless a load of ``key`` is already running: then its answer (single flight).

        When an entry expires under load, every request asks for it at once; without this each
        would read it (and open a database connection) for the same answer. A load that failed
        or was cancelled is not shared: the waiter loads for itself."""
        pending = self._loading.get(key)
        if pending is not None:
            await asyncio.wait([pending])
            if not pending.cancelled() and pending.exception() is None:
                answer: T = pending.result()
                return answer
            return await load()
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        future.add_done_callback(lambda f: f.cancelled() or f.exception())  # a failure is re-raised below
        self._loading[key] = future
        try:
            value = await load()
        except BaseException as exc:
            if isinstance(exc, Exception):
                future.set_exception(exc)
            else:
                future.cancel()
            raise
        finally:
            if self._loading.get(key) is future:
                del self._loading[key]
        future.set_result(value)
        return value

    def invalidate(self) -> None:
        """Forget everything (and refuse to store reads that started before now)."""
        self.generation += 1
        self._items.clear()
        self._calendar = None

    def invalidate_on_commit(self, session: AsyncSession) -> None:
        """Forget everything once ``session``'s transaction commits (a rollback changes nothing)."""
        on_commit(session, self.invalidate)

    async def item(self, sessions: SessionSource, item_id: str) -> ItemSnapshot | None:
        """The catalog item ``item_id`` (``None`` if there is none; absence is not remembered)."""
        now = self.clock()
        hit = self._items.get(item_id)
        if hit is not None and hit[0] > now:
            return hit[1]
        generation = self.generation

        async def load() -> ItemSnapshot | None:
            row = (await sessions().execute(select(*_ITEM_COLUMNS).where(CatalogItem.id == item_id))).one_or_none()
            if row is None:
                return None
            snap = ItemSnapshot(*row)
            if self.ttl > 0 and generation == self.generation:
                self._items[item_id] = (now + self.ttl, snap)
            return snap

        return await self._once(("item", item_id, generation), load)

    async def calendar(self, sessions: SessionSource, official: OfficialCalendar) -> OfficialCalendar:
        """The effective calendar (see :func:`services.permits.calendar.service.calendar`)."""
        now = self.clock()
        hit = self._calendar
        if hit is not None and hit[0] > now and hit[1] is official:
            return hit[2]
        generation = self.generation

        async def effective() -> OfficialCalendar:
            cal = remembering(await self.load_calendar(session=sessions(), official=official))
            if self.ttl > 0 and generation == self.generation:
                self._calendar = (now + self.ttl, official, cal)
            return cal

        return await self._once(("calendar", id(official), generation), effective)
