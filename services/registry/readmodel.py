"""An in-memory copy of the zone projection, for the hot as-of reads.

The database projection (``zone_state``, ``zone_alias``, ``lineage``) stays the truth; this is
a read-through cache of it, with each state's JSON serialised once. It is trusted only while
it can know it is current:

- every registry write records its change id; after the write commits, the local model is
  told that version is required (read-your-writes on this instance);
- on PostgreSQL each write also ``NOTIFY``s the change id, and every instance ``LISTEN``s on a
  dedicated connection, so other replicas learn of it within milliseconds; while that
  connection is down the model is not trusted and reads go to the database;
- on SQLite (the embedded default: one registry process per database file) local writes
  are the only writes.

A model older than the required version is reloaded (one load at a time); until a load
catches up, reads fall back to the SQL path, so no read is ever older than a committed write
this instance knows about.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import json
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import structlog
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from libs.domain.contracts.registry import ZoneRead
from services.common.db import Database
from services.registry.tables import Change, Lineage, ZoneAlias, ZoneState

CHANNEL = "devzones_registry"
log = structlog.get_logger("devzones.registry.readmodel")


@dataclass(slots=True)
class Entry:
    """One zone state, with its contract view and JSON serialised once."""

    zone_id: str
    valid_from: date
    valid_to: date | None
    status: str
    kind: str
    level: str
    authority: str
    entrusted_to: str | None
    read: ZoneRead
    json: bytes
    names: list[str] = field(default_factory=list)

    def valid_on(self, day: date) -> bool:
        """True if this state is in force on ``day``."""
        return self.valid_from <= day and (self.valid_to is None or self.valid_to > day)


@dataclass(slots=True)
class Edge:
    """A lineage link."""

    id: int
    source: str
    target: str
    operation: str
    on: date
    reorganisation: int


@dataclass
class ZoneIndex:
    """An immutable snapshot of the projection at ``version`` (the last change id it includes)."""

    version: int
    by_zone: dict[str, list[Entry]]
    starts: dict[str, list[date]]
    zone_ids: list[str]
    aliases: dict[str, list[tuple[Entry, str, str]]]
    into: dict[str, list[Edge]]
    out: dict[str, list[Edge]]

    def at(self, zone_id: str, day: date) -> Entry | None:
        """The state of ``zone_id`` in force on ``day``."""
        starts = self.starts.get(zone_id)
        if not starts:
            return None
        i = bisect.bisect_right(starts, day) - 1
        while i >= 0:
            entry = self.by_zone[zone_id][i]
            if entry.valid_on(day):
                return entry
            if entry.valid_from < day:
                return None
            i -= 1  # same-day states with an empty interval
        return None

    def exists(self, zone_id: str) -> bool:
        """True if the zone has any state."""
        return zone_id in self.by_zone


def _entry(row: ZoneState, names: list[str], to_read: Callable[[ZoneState], ZoneRead]) -> Entry:
    read = to_read(row)
    return Entry(
        zone_id=row.zone_id,
        valid_from=row.valid_from,
        valid_to=row.valid_to,
        status=row.status,
        kind=row.kind,
        level=row.level,
        authority=row.authority,
        entrusted_to=row.entrusted_to,
        read=read,
        json=read.model_dump_json().encode(),
        names=names,
    )


class ReadModel:
    """Holds the current :class:`ZoneIndex` and decides whether it may be used."""

    def __init__(self, db: Database, to_read: Callable[[ZoneState], ZoneRead]) -> None:
        self.db = db
        self.to_read = to_read
        self.index: ZoneIndex | None = None
        self.required = 0
        self.trusted = db.sqlite  # PostgreSQL: only while LISTENing
        self._lock = asyncio.Lock()
        self._listener: Any = None
        self._task: asyncio.Task[None] | None = None

    # -- freshness -------------------------------------------------------------------------

    def require(self, version: int) -> None:
        """A change with this id has committed: older snapshots may no longer be used."""
        self.required = max(self.required, version)

    async def current(self) -> ZoneIndex | None:
        """A snapshot at least as new as every change known here, or ``None`` (use SQL)."""
        if not self.trusted:
            return None
        index = self.index
        if index is not None and index.version >= self.required:
            return index
        async with self._lock:
            index = self.index
            if index is None or index.version < self.required:
                try:
                    index = await self._load()
                except Exception:  # the SQL path will answer (or fail) properly
                    log.warning("readmodel_load_failed", exc_info=True)
                    return None
                self.index = index
        return index if index.version >= self.required else None

    async def _load(self) -> ZoneIndex:
        async with self.db.engine.connect() as conn:
            if not self.db.sqlite:
                conn = await conn.execution_options(isolation_level="REPEATABLE READ")
            async with conn.begin():
                version = int(await conn.scalar(select(func.coalesce(func.max(Change.id), 0))) or 0)
                names: dict[int, list[str]] = defaultdict(list)
                alias_rows = (
                    await conn.execute(select(ZoneAlias.state_id, ZoneAlias.alias, ZoneAlias.name, ZoneAlias.match))
                ).all()
                for state_id, _alias, name, _match in alias_rows:
                    names[state_id].append(name)
                states = (
                    await conn.execute(
                        select(ZoneState).order_by(ZoneState.zone_id, ZoneState.valid_from, ZoneState.reorganisation_id)
                    )
                ).all()
                edges = (await conn.execute(select(Lineage).order_by(Lineage.id))).all()
        by_zone: dict[str, list[Entry]] = defaultdict(list)
        by_state: dict[int, Entry] = {}
        for row in states:
            state = ZoneState(**row._mapping)
            entry = _entry(state, names.get(state.id, []), self.to_read)
            by_zone[state.zone_id].append(entry)
            by_state[state.id] = entry
        aliases: dict[str, list[tuple[Entry, str, str]]] = defaultdict(list)
        for state_id, alias, name, match in alias_rows:
            holder = by_state.get(state_id)
            if holder is not None:
                aliases[alias].append((holder, match, name))
        into: dict[str, list[Edge]] = defaultdict(list)
        out: dict[str, list[Edge]] = defaultdict(list)
        for e in edges:
            m = e._mapping
            edge = Edge(m["id"], m["source"], m["target"], m["operation"], m["on"], m["reorganisation_id"])
            into[edge.target].append(edge)
            out[edge.source].append(edge)
        return ZoneIndex(
            version=version,
            by_zone=dict(by_zone),
            starts={z: [e.valid_from for e in entries] for z, entries in by_zone.items()},
            zone_ids=sorted(by_zone),
            aliases=dict(aliases),
            into=dict(into),
            out=dict(out),
        )

    # -- PostgreSQL notifications ------------------------------------------------------------

    async def start(self) -> None:
        """Begin listening for other instances' changes (PostgreSQL only)."""
        if not self.db.sqlite:
            self._task = asyncio.create_task(self._listen_forever())

    async def stop(self) -> None:
        """Stop listening."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        await self._close_listener()

    async def _close_listener(self) -> None:
        if self._listener is not None:
            with contextlib.suppress(Exception):
                await self._listener.close(timeout=2)
            self._listener = None

    def _on_notify(self, _conn: Any, _pid: int, _channel: str, payload: str) -> None:
        with contextlib.suppress(ValueError):
            self.require(int(payload))

    def _on_lost(self, _conn: Any) -> None:
        self.trusted = False

    async def _listen_forever(self) -> None:
        import asyncpg

        dsn = make_url(self.db.url).set(drivername="postgresql").render_as_string(hide_password=False)
        while True:
            try:
                if self._listener is None or self._listener.is_closed():
                    self.trusted = False
                    await self._close_listener()
                    self._listener = await asyncpg.connect(dsn, timeout=3)
                    self._listener.add_termination_listener(self._on_lost)
                    await self._listener.add_listener(CHANNEL, self._on_notify)
                    # Anything may have changed while nobody listened: demand a fresh load.
                    self.index = None
                    self.trusted = True
                else:
                    # A cheap liveness probe: a dead connection is noticed within a couple of seconds.
                    await self._listener.execute("SELECT 1", timeout=2)
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - any failure: untrusted until reconnected
                self.trusted = False
                await self._close_listener()
            await asyncio.sleep(1.0)


def notify_sql(version: int) -> tuple[str, dict[str, Any]]:
    """SQL announcing a change to every listening instance (delivered on commit)."""
    return "SELECT pg_notify(:channel, :payload)", {"channel": CHANNEL, "payload": json.dumps(version)}
