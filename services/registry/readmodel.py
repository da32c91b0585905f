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
this instance knows about. A reload is incremental when it can be: the change feed names the
zones every act touched, so only those zones' states, aliases and lineage links are read again
and the rest of the snapshot is shared. An unknown kind of change, or too many at once, makes
it a full load.

What answers from a snapshot (``serve(index)``) is made once per snapshot, and
:attr:`ReadModel.ready` holds it exactly while it may answer without waiting: the choice is made
again when the snapshot, the required version or the trust changes, not on every read.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import json
from collections import defaultdict
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Generic, TypeVar

import structlog
from sqlalchemy import func, select
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection

from libs.domain.registry.contracts import ZoneRead
from libs.domain.registry.names import NameMatch
from services.common.db import Database
from services.registry.tables import Change, Lineage, ZoneAlias, ZoneState

CHANNEL = "devzones_registry"
log = structlog.get_logger("devzones.registry.readmodel")
S = TypeVar("S")


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
    alias_keys: list[tuple[str, str, str]] = field(default_factory=list)  # (normalised alias, match, name)

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
    aliases: dict[str, list[NameMatch[Entry]]]
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


INCREMENTAL_MAX_CHANGES = 200
"""More changes than this since the snapshot: a full load is cheaper than following them."""
INCREMENTAL_MAX_ZONES = 400
"""More touched zones than this: a full load (also keeps ``IN`` lists short)."""
ZONE_CHANGE_TYPES = frozenset({"reorganisation.recorded", "reorganisation.annulled"})
"""Change types whose payload names every zone they touched (``zones``)."""
UNRELATED_CHANGE_TYPES = frozenset({"division.recorded"})
"""Change types that do not touch the zone projection."""


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


def _state_order(state: ZoneState) -> tuple[str, date, int, int]:
    return (state.zone_id, state.valid_from, state.reorganisation_id, state.id)


def _edge(row: Any) -> Edge:
    m = row._mapping
    return Edge(m["id"], m["source"], m["target"], m["operation"], m["on"], m["reorganisation_id"])


def _index(version: int, by_zone: dict[str, list[Entry]], edges: list[Edge]) -> ZoneIndex:
    """A snapshot from per-zone entries and every lineage link."""
    aliases: dict[str, list[NameMatch[Entry]]] = defaultdict(list)
    for zone_id in sorted(by_zone):
        for entry in by_zone[zone_id]:
            for alias, match, name in entry.alias_keys:
                aliases[alias].append(NameMatch(zone_id, entry, match, name))
    into: dict[str, list[Edge]] = defaultdict(list)
    out: dict[str, list[Edge]] = defaultdict(list)
    for edge in sorted(edges, key=lambda e: e.id):
        into[edge.target].append(edge)
        out[edge.source].append(edge)
    return ZoneIndex(
        version=version,
        by_zone=by_zone,
        starts={z: [e.valid_from for e in entries] for z, entries in by_zone.items()},
        zone_ids=sorted(by_zone),
        aliases=dict(aliases),
        into=dict(into),
        out=dict(out),
    )


async def _version(conn: AsyncConnection) -> int:
    """The newest change id (0 before any change)."""
    return int(await conn.scalar(select(func.coalesce(func.max(Change.id), 0))) or 0)


async def _rows(conn: AsyncConnection, zones: set[str] | None) -> tuple[list[Any], list[Any], list[Any]]:
    """States, alias rows and lineage links: all of them, or those touching ``zones``."""
    states = select(ZoneState)
    aliases = select(ZoneAlias.state_id, ZoneAlias.alias, ZoneAlias.name, ZoneAlias.match)
    links = select(Lineage)
    if zones is not None:
        states = states.where(ZoneState.zone_id.in_(zones))
        aliases = aliases.where(ZoneAlias.state_id.in_(select(ZoneState.id).where(ZoneState.zone_id.in_(zones))))
        links = links.where(Lineage.source.in_(zones) | Lineage.target.in_(zones))
    return (
        list((await conn.execute(states)).all()),
        list((await conn.execute(aliases)).all()),
        list((await conn.execute(links)).all()),
    )


class ReadModel(Generic[S]):
    """Holds the current :class:`ZoneIndex` and decides whether it may be used; ``serve`` makes
    what answers from a snapshot (once per snapshot)."""

    def __init__(self, db: Database, to_read: Callable[[ZoneState], ZoneRead], serve: Callable[[ZoneIndex], S]) -> None:
        self.db = db
        self.to_read = to_read
        self.serve = serve
        self._index: ZoneIndex | None = None
        self._served: S | None = None
        self.required = 0
        self._trusted = db.sqlite  # PostgreSQL: only while LISTENing
        self.ready: S | None = None
        """What answers from the snapshot while it may answer without waiting (trusted, and at
        least as new as every change known here); ``None`` otherwise."""
        self._lock = asyncio.Lock()
        self._listener: Any = None
        self._task: asyncio.Task[None] | None = None
        self.loads: dict[str, int] = {"full": 0, "incremental": 0}

    # -- freshness -------------------------------------------------------------------------

    @property
    def index(self) -> ZoneIndex | None:
        """The newest snapshot loaded (``None``: none yet, or dropped to force a fresh load)."""
        return self._index

    @index.setter
    def index(self, index: ZoneIndex | None) -> None:
        self._index = index
        self._served = self.serve(index) if index is not None else None
        self._settle()

    @property
    def trusted(self) -> bool:
        """Whether every change committed anywhere reaches this instance (see the module docstring)."""
        return self._trusted

    @trusted.setter
    def trusted(self, trusted: bool) -> None:
        self._trusted = trusted
        self._settle()

    def _settle(self) -> None:
        index = self._index
        fresh = self._trusted and index is not None and index.version >= self.required
        self.ready = self._served if fresh else None

    def require(self, version: int) -> None:
        """A change with this id has committed: older snapshots may no longer be used."""
        if version > self.required:
            self.required = version
            self._settle()

    async def current(self) -> S | None:
        """What answers from a snapshot at least as new as every change known here, loading one
        if need be; ``None``: use SQL."""
        if self.ready is not None or not self._trusted:
            return self.ready
        async with self._lock:
            index = self._index
            if index is None or index.version < self.required:
                try:
                    index = await self._load()
                except Exception:  # the SQL path will answer (or fail) properly
                    log.warning("readmodel_load_failed", exc_info=True)
                    return None
                self.index = index
        return self.ready

    async def _load(self) -> ZoneIndex:
        base = self.index
        if base is not None:
            try:
                index = await self._load_since(base)
            except Exception:  # a full load is always possible
                log.warning("readmodel_incremental_load_failed", exc_info=True)
                index = None
            if index is not None:
                self.loads["incremental"] += 1
                return index
        self.loads["full"] += 1
        return await self._load_full()

    @contextlib.asynccontextmanager
    async def _snapshot(self) -> AsyncIterator[AsyncConnection]:
        """A connection in one consistent read (REPEATABLE READ on PostgreSQL)."""
        async with self.db.engine.connect() as conn:
            if not self.db.sqlite:
                conn = await conn.execution_options(isolation_level="REPEATABLE READ")
            async with conn.begin():
                yield conn

    async def _load_full(self) -> ZoneIndex:
        async with self._snapshot() as conn:
            version = await _version(conn)
            states, alias_rows, edges = await _rows(conn, None)
        return _index(version, self._entries(states, alias_rows), [_edge(e) for e in edges])

    async def _load_since(self, base: ZoneIndex) -> ZoneIndex | None:
        """``base`` brought up to date by re-reading only the zones changed since it; ``None``: load fully."""
        async with self._snapshot() as conn:
            version = await _version(conn)
            changes = (
                await conn.execute(
                    select(Change.type, Change.payload)
                    .where(Change.id > base.version)
                    .order_by(Change.id)
                    .limit(INCREMENTAL_MAX_CHANGES + 1)
                )
            ).all()
            if len(changes) > INCREMENTAL_MAX_CHANGES:
                return None
            touched: set[str] = set()
            for type_, payload in changes:
                if type_ in UNRELATED_CHANGE_TYPES:
                    continue
                zones = payload.get("zones") if isinstance(payload, dict) else None
                if type_ not in ZONE_CHANGE_TYPES or not isinstance(zones, list):
                    return None
                touched.update(str(z) for z in zones)
            if len(touched) > INCREMENTAL_MAX_ZONES:
                return None
            states, alias_rows, edges = await _rows(conn, touched) if touched else ([], [], [])
        by_zone = {z: entries for z, entries in base.by_zone.items() if z not in touched}
        by_zone.update(self._entries(states, alias_rows))
        kept = [
            e for edges_of in base.out.values() for e in edges_of if e.source not in touched and e.target not in touched
        ]
        return _index(version, by_zone, kept + [_edge(e) for e in edges])

    def _entries(self, states: Any, alias_rows: Any) -> dict[str, list[Entry]]:
        """Entries per zone (ordered by validity), each with its names and alias keys."""
        names: dict[int, list[str]] = defaultdict(list)
        keys: dict[int, list[tuple[str, str, str]]] = defaultdict(list)
        for state_id, alias, name, match in sorted(alias_rows, key=lambda r: (r[0], r[1], r[3], r[2])):
            names[state_id].append(name)
            keys[state_id].append((alias, match, name))
        rows = sorted((ZoneState(**row._mapping) for row in states), key=_state_order)
        by_zone: dict[str, list[Entry]] = defaultdict(list)
        for state in rows:
            entry = _entry(state, names.get(state.id, []), self.to_read)
            entry.alias_keys = keys.get(state.id, [])
            by_zone[state.zone_id].append(entry)
        return dict(by_zone)

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
