"""The permits service's typed application state, and the dependency that gives it to a route.

:func:`services.permits.main.create_app` passes :class:`PermitsRuntime` to
:func:`services.common.app.build_app`, which makes it; the read cache is set right after, and the
parts that exist only while the app runs (the official calendar, the idempotency policy over the
database, the group-commit writer, the background workers) by the lifespan.

It imports nothing of the cases or the supervision at run time, so that every package may depend
on it; the app factory wires those parts in (``recompute_deadlines``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING, Annotated

from fastapi import Depends, Request

from libs.domain.kernel.calendar import OfficialCalendar
from libs.domain.kernel.values import today_in_china
from services.common.idempotency import Idempotency
from services.common.runtime import Runtime, runtime_dependency, runtime_of
from services.common.settings import PermitsSettings
from services.permits.cache import ReadCache
from services.permits.calendar.service import DeadlineRecompute

if TYPE_CHECKING:
    from services.permits.cases.fast_paths.group_commit import IntakeWriter
    from services.permits.workers import Workers


@dataclass(eq=False)
class PermitsRuntime(Runtime):
    """What the permits app keeps besides the shared parts.

    ``today`` is the app's clock (tests pin it); ``zone_cache`` remembers the zones the registry
    confirmed; ``intake_writer`` is ``None`` on SQLite or with ``PERMITS_GROUP_COMMIT`` off;
    ``recompute_deadlines`` moves stored deadlines when the calendar changes (the calendar's
    port, wired to :mod:`services.permits.deadlines_recompute`)."""

    settings: PermitsSettings
    today: Callable[[], date] = today_in_china
    zone_cache: dict[str, float] = field(default_factory=dict)
    intake_writer: IntakeWriter | None = None
    workers: Workers | None = None
    read_cache: ReadCache = field(init=False)
    recompute_deadlines: DeadlineRecompute = field(init=False)
    official_calendar: OfficialCalendar = field(init=False)
    idempotency: Idempotency = field(init=False)


def permits_runtime(request: Request) -> PermitsRuntime:
    """The request's app runtime (for code that has the request but no dependency, the hot intake)."""
    return runtime_of(request.app, PermitsRuntime)


RuntimeDep = Annotated[PermitsRuntime, Depends(runtime_dependency(PermitsRuntime))]
"""The app runtime, as a route's or a dependency's parameter."""
