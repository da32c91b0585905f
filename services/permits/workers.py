"""The permits service's background jobs, started from the app's lifespan.

- The **sweeper** recomputes the stored deadlines of open cases (so a year the calendar comes
  to cover settles by itself, and a calendar change that raced with an acceptance is caught
  within one interval) and records one escalation per overdue event. Every replica runs one;
  ``FOR UPDATE SKIP LOCKED`` and a unique constraint make each escalation exactly-once.
- The **dispatcher** fans the outbox out to webhook subscribers and delivers at least once.

Both keep going after an error (logged): a database outage or a subscriber that is down must
not stop the service, and the next tick retries.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
from collections.abc import Callable
from datetime import date
from typing import Any
from urllib.parse import urlsplit

import httpx
import structlog
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from libs.domain.kernel.calendar import OfficialCalendar
from libs.domain.permits.webhook_policy import WebhookPolicy
from services.common.db import Database
from services.permits.calendar import service as calendar_service
from services.permits.deadlines_recompute import recompute_deadlines
from services.permits.runtime import PermitsRuntime
from services.permits.supervision import service as supervision_service
from services.permits.webhooks import service as webhook_service

log = structlog.get_logger("devzones.permits.workers")


class WorkerSettings(BaseSettings):
    """How often the background jobs run (``PERMITS_SWEEP_INTERVAL_SECONDS`` and friends)."""

    model_config = SettingsConfigDict(env_prefix="PERMITS_", extra="ignore")

    sweep_interval_seconds: float = Field(60.0, gt=0)
    dispatch_interval_seconds: float = Field(0.5, gt=0)
    delivery_timeout_seconds: float = Field(5.0, gt=0)
    workers_enabled: bool | None = Field(
        None, description="Run the background jobs; default: yes, except in the `test` environment."
    )


def worker_name() -> str:
    """This replica's name in the records it writes (host and process)."""
    return f"{socket.gethostname()}:{os.getpid()}"


async def recompute_open_deadlines(db: Database, official: OfficialCalendar, *, today: date) -> None:
    """Recompute every open case's deadlines on the current calendar (a year the calendar has
    come to cover settles by itself; an acceptance that raced a calendar change is put right)."""
    async with db.sessions() as session:
        cal = await calendar_service.calendar(session=session, official=official)
        await recompute_deadlines(session, cal, today)
        await session.commit()


async def sweep_once(
    db: Database, official: OfficialCalendar, *, today: date, worker: str
) -> supervision_service.SweepResult:
    """One sweep: recompute open deadlines on the current calendar, then escalate overdue events."""
    await recompute_open_deadlines(db, official, today=today)
    async with db.sessions() as session:
        result = await supervision_service.sweep_overdue(session=session, today=today, worker=worker)
        await session.commit()
    return result


async def _target_refusal(url: str, policy: WebhookPolicy) -> str | None:
    """Check the target's name and, unless private targets are allowed, every address it resolves to
    (the refusal is for the delivery log, in English)."""
    refusal = policy.host_refusal(url)
    if refusal is not None or policy.allow_private:
        return refusal.en if refusal is not None else None
    parts = urlsplit(url)
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(parts.hostname, parts.port or 443)
    except OSError as exc:
        return f"cannot resolve {parts.hostname}: {exc}"
    refused = policy.address_refusal(str(info[4][0]) for info in infos)
    return refused.en if refused is not None else None


async def dispatch_once(
    db: Database, http: httpx.AsyncClient, *, timeout: float = 5.0, policy: WebhookPolicy | None = None
) -> int:
    """Fan out new events, lease due deliveries, send them, record the results; returns deliveries sent.

    Without a ``policy`` every target is allowed (tests of delivery itself); the app passes its own.
    """
    policy = policy or WebhookPolicy(allow_private=True)
    while True:  # fanning out is cheap: catch up on everything written so far
        async with db.sessions() as session:
            handled = await webhook_service.fan_out(session=session, batch=webhook_service.FAN_OUT_BATCH)
            await session.commit()
        if handled < webhook_service.FAN_OUT_BATCH:
            break
    async with db.sessions() as session:
        outgoing = await webhook_service.claim_due(session=session, batch=webhook_service.CLAIM_BATCH)
        await session.commit()
    if not outgoing:
        return 0

    async def send(o: webhook_service.Outgoing) -> tuple[int, int | None, str | None]:
        refusal = await _target_refusal(o.url, policy)
        if refusal is not None:
            return o.delivery_id, None, f"refused by the webhook policy: {refusal}"
        try:
            r = await http.post(o.url, content=o.body, headers=o.headers, timeout=timeout)
            return o.delivery_id, r.status_code, None if r.is_success else r.text[:200]
        except httpx.HTTPError as exc:
            return o.delivery_id, None, f"{type(exc).__name__}: {exc}"

    results = await asyncio.gather(*(send(o) for o in outgoing))
    async with db.sessions() as session:
        for delivery_id, status, error in results:
            await webhook_service.record_result(session=session, delivery_id=delivery_id, status=status, error=error)
        await session.commit()
    return len(outgoing)


class Workers:
    """The sweeper and the dispatcher of one app."""

    def __init__(self, runtime: PermitsRuntime, settings: WorkerSettings, *, enabled: bool = True) -> None:
        self.runtime = runtime
        self.settings = settings
        self.enabled = enabled
        self.name = worker_name()
        self.tasks: list[asyncio.Task[None]] = []

    async def startup(self) -> None:
        """Recompute open deadlines once at start (the installed calendar may cover more now)."""
        rt = self.runtime
        try:
            await recompute_open_deadlines(rt.db, rt.official_calendar, today=rt.today())
        except Exception as exc:  # noqa: BLE001 - an unmigrated or unreachable database must not stop the start
            log.warning("startup_recompute_failed", error_type=type(exc).__name__, error=str(exc)[:200])

    def start(self) -> None:
        """Start both loops."""
        if not self.enabled:
            return
        self.tasks = [
            asyncio.create_task(self._loop("sweeper", self._sweep, self.settings.sweep_interval_seconds)),
            asyncio.create_task(self._loop("dispatcher", self._dispatch, self.settings.dispatch_interval_seconds)),
        ]

    async def stop(self) -> None:
        """Cancel both loops and wait for them."""
        for task in self.tasks:
            task.cancel()
        for task in self.tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self.tasks = []

    async def _sweep(self) -> None:
        rt = self.runtime
        result = await sweep_once(rt.db, rt.official_calendar, today=rt.today(), worker=self.name)
        if result.cases or result.tasks:
            log.info("overdue_escalated", cases=result.cases, tasks=result.tasks)

    async def _dispatch(self) -> None:
        while (
            await dispatch_once(
                self.runtime.db,
                self.runtime.http,
                timeout=self.settings.delivery_timeout_seconds,
                policy=self.runtime.settings.webhook_policy,
            )
            == webhook_service.CLAIM_BATCH
        ):
            pass  # more may be waiting

    async def _loop(self, name: str, job: Callable[[], Any], interval: float) -> None:
        # Polling on an interval (rather than waking per request) batches the work: under load one
        # tick handles every event written since the last, at a cost that does not grow per request.
        while True:
            await asyncio.sleep(interval)
            try:
                await job()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - logged and retried on the next tick
                log.warning(f"{name}_failed", error_type=type(exc).__name__, error=str(exc)[:300])
