"""Queries of the webhook subscribers, the outbox and the deliveries.

The fan-out cursor
==================

The fan-out turns outbox events into deliveries without writing to the events: one row of
``outbox_cursor`` (named ``webhooks``) says how far it got, and each pass moves it, holding it
locked for the pass. A pass reads at most a batch of events, so a backlog is read in pieces.

**SQLite** has one writer at a time, holding the database's write lock from its first write to
its commit: events commit in ``seq`` order and every snapshot sees a prefix of them, so the
cursor is the last ``seq`` fanned out. A pass starts with a write to the cursor row, so it holds
the write lock for the whole pass: passes never interleave, and no event commits while one reads.

**PostgreSQL** commits transactions in any order: an event with a smaller ``seq`` may commit
after one with a larger, and a cursor on ``seq`` would skip it. So each event records the
transaction that wrote it (``outbox_event.txid``, ``pg_current_xact_id()``: the top-level
transaction, one value for all its rows), and the outbox is read by snapshots, as PgQ reads its
queues. A snapshot (``pg_current_snapshot()``) tells of every transaction whether it had ended
when it was taken (``pg_visible_in_snapshot``): those below its ``xmin`` had, those from its
``xmax`` on had not, and between the two all but its in-progress list (``xip``). The cursor keeps

- ``done``: every event whose transaction is visible in ``done`` has been fanned out;
- ``target`` (between two passes of one window): the snapshot ending the window being read;
- (``txid``, ``seq``): the last event of that window fanned out.

A pass takes a new snapshot T after locking the cursor (or goes on with ``target``) and fans out
the *window*: the events whose transaction is visible in T but not in ``done``, in (txid, seq)
order, from after the remembered position, at most a batch; once the window is exhausted,
``done`` becomes T. Why every event is fanned out exactly once:

- *Windows do not overlap and leave nothing out.* Visibility only grows with time: a
  transaction visible in a snapshot (ended before it was taken) is visible in every later one.
  Each window's end is taken after the previous one: the previous pass stored it and committed
  before this pass could lock the cursor, and this pass takes its own snapshot after locking.
  So the windows partition the transactions: a transaction X belongs to the first window whose
  end sees it, and to no other; once X commits, the next window taken sees it.
- *A window is read whole, once.* Every transaction of a window had ended when its end T was
  taken, and the window is read by statements that run after T: its rows are all there and none
  is added later (an aborted transaction has none). A fixed set read in (txid, seq) order after
  a remembered position, batch by batch, yields each row exactly once.
- *Replicas.* The cursor row is locked ``FOR UPDATE SKIP LOCKED``: a replica that finds it
  locked skips its pass, the holder doing the work. A delivery is unique per (event, webhook)
  and inserted with ``ON CONFLICT DO NOTHING``, a second guard.
- *Nothing waits on unrelated transactions.* A window takes every transaction that has ended;
  a long transaction (in this database or another of the cluster, which a horizon at the
  snapshot's ``xmin`` would wait for) delays only its own events.
- *Finding a window is cheap.* The transactions not visible in ``done`` are its in-progress
  ones and those from its ``xmax`` on: two index range scans on (txid, seq), however old the
  oldest running transaction is.

**Subscribers.** They are read after the window's end is taken, so a subscriber whose
registration committed before an event's transaction began receives the event. As before the
cursor, a subscriber receives the events not yet fanned out when it registers, and never one
already fanned out. **Without subscribers** a pass is one statement: it finds none and moves the
cursor past everything its own snapshot sees (PostgreSQL: only forward, the new ``done`` must see
all that the old one or the open window's end saw; SQLite: to the last ``seq``), reading no event
row. Events written while no one subscribes are thus never delivered, as before.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.permits.sql import dialect_insert, is_sqlite
from services.permits.tables import OutboxCursor, OutboxEvent, Snapshot, Webhook, WebhookDelivery

CURSOR = "webhooks"
"""The fan-out's row of ``outbox_cursor``."""

NOTHING_DONE: Snapshot = (1, 1, ())
"""A snapshot in which no transaction is visible: a new cursor's ``done`` (real ids start at 3)."""


class EventHead(NamedTuple):
    """What the fan-out reads of an outbox event."""

    seq: int
    id: str
    zone: str
    applicant_sub: str | None
    txid: int = 0


@dataclass(frozen=True)
class Window:
    """Where a pass of the fan-out reads, from the cursor it holds locked.

    SQLite: the events after ``seq``. PostgreSQL: the events of transactions visible in
    ``target`` and not in ``done``, after (``txid``, ``seq``); ``opened`` when this pass took
    ``target`` (it is not stored yet)."""

    seq: int
    txid: int = 0
    done: Snapshot = NOTHING_DONE
    target: Snapshot | None = None
    opened: bool = False


_VISIBLE_IN_NEW_ONLY = """
    pg_snapshot_xmax(excluded.done) >= pg_snapshot_xmax(coalesce(c.target, c.done, '1:1:'))
    AND NOT EXISTS (SELECT 1 FROM pg_snapshot_xip(excluded.done) AS x
                    WHERE pg_visible_in_snapshot(x, coalesce(c.target, c.done, '1:1:')))
    AND excluded.done::text <> coalesce(c.target, c.done, '1:1:')::text"""
"""The new snapshot sees every transaction the cursor's saw, and more."""

_PG_OPEN = text(
    f"""
WITH now AS (
    SELECT EXISTS (SELECT 1 FROM webhook WHERE active) AS subscribed, pg_current_snapshot() AS snap
), unsubscribed AS (
    INSERT INTO outbox_cursor AS c (name, seq, txid, done, target)
    SELECT :name, 0, '0', snap, NULL FROM now WHERE NOT subscribed
    ON CONFLICT (name) DO UPDATE SET seq = 0, txid = '0', done = excluded.done, target = NULL
    WHERE {_VISIBLE_IN_NEW_ONLY}
), held AS (
    SELECT c.seq, c.txid, c.done, c.target FROM outbox_cursor AS c, now
    WHERE c.name = :name AND now.subscribed
    FOR UPDATE OF c SKIP LOCKED
)
SELECT now.subscribed, held.seq, held.txid, held.done, held.target,
       EXISTS (SELECT 1 FROM outbox_cursor WHERE name = :name) AS stored
FROM now LEFT JOIN held ON true
"""
)
"""Either no one subscribes, and the cursor moves past what this statement's snapshot sees, or
the cursor is locked for the pass (unless another replica holds it, or it does not exist yet)."""

_PG_NEW_CURSOR = text(
    "INSERT INTO outbox_cursor (name, seq, txid, done, target) VALUES (:name, 0, '0', '1:1:', NULL) "
    "ON CONFLICT (name) DO NOTHING RETURNING seq, txid, done, target"
)

_PG_WINDOW_EVENTS = text(
    """
SELECT txid, seq, id, zone, applicant_sub FROM (
    (SELECT txid, seq, id, zone, applicant_sub FROM outbox_event
     WHERE txid = ANY(:done_xip) AND (txid, seq) > (:txid, :seq)
       AND pg_visible_in_snapshot(txid, :target)
     ORDER BY txid, seq LIMIT :limit)
    UNION ALL
    (SELECT txid, seq, id, zone, applicant_sub FROM outbox_event
     WHERE txid >= :done_xmax AND txid < pg_snapshot_xmax(:target) AND (txid, seq) > (:txid, :seq)
       AND pg_visible_in_snapshot(txid, :target)
     ORDER BY txid, seq LIMIT :limit)
) AS w
ORDER BY txid, seq LIMIT :limit
"""
)
"""The window's next events: of the transactions in progress in ``done`` (all below its ``xmax``),
then of those from its ``xmax`` on; each part an index range scan on (txid, seq)."""

_SQLITE_UNSUBSCRIBED = text(
    "INSERT INTO outbox_cursor (name, seq, txid) "
    "SELECT :name, m, 0 FROM (SELECT coalesce(max(seq), 0) AS m FROM outbox_event) "
    "WHERE NOT EXISTS (SELECT 1 FROM webhook WHERE active) "
    "ON CONFLICT (name) DO UPDATE SET seq = excluded.seq WHERE excluded.seq > outbox_cursor.seq"
)
"""Without subscribers, the cursor moves to the last event; either way the statement is a write,
so the pass holds the database's write lock from here on."""


class WebhookRepository:
    """Subscribers, outbox events and their deliveries."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, row: Webhook) -> None:
        """Register a subscriber."""
        self.session.add(row)
        await self.session.flush()

    async def get(self, webhook_id: str) -> Webhook | None:
        """One subscriber."""
        return await self.session.get(Webhook, webhook_id)

    async def owned_by(self, owner: str) -> list[Webhook]:
        """The active subscribers ``owner`` registered."""
        q = select(Webhook).where(Webhook.owner == owner, Webhook.active.is_(True)).order_by(Webhook.created_at)
        return list(await self.session.scalars(q))

    async def flush(self) -> None:
        """Write pending changes."""
        await self.session.flush()

    async def active(self) -> list[Webhook]:
        """Every active subscriber (few: matched against events in memory)."""
        return list(await self.session.scalars(select(Webhook).where(Webhook.active.is_(True))))

    async def add_deliveries(self, pairs: list[tuple[str, str]], now: datetime) -> None:
        """One pending delivery per (event, subscriber); a second fan-out of an event adds nothing."""
        if not pairs:
            return
        rows = [{"event_id": e, "webhook_id": w, "attempts": 0, "next_attempt_at": now} for e, w in pairs]
        insert = dialect_insert(self.session)
        await self.session.execute(
            insert(WebhookDelivery).values(rows).on_conflict_do_nothing(index_elements=["event_id", "webhook_id"])
        )

    async def open_window(self) -> Window | None:
        """Lock the fan-out cursor for this pass and say where the pass reads; None when there is
        nothing to read: no active subscriber (the cursor was moved past everything written so
        far, by this one statement) or another replica holds the cursor."""
        if is_sqlite(self.session):
            moved = await self.session.execute(_SQLITE_UNSUBSCRIBED, {"name": CURSOR})
            if moved.rowcount:  # type: ignore[attr-defined]
                return None
            seq = await self.session.scalar(select(OutboxCursor.seq).where(OutboxCursor.name == CURSOR))
            if seq is None:
                self.session.add(OutboxCursor(name=CURSOR, seq=0, txid=0))
                await self.session.flush()
                seq = 0
            return Window(seq=seq)
        opened = (await self.session.execute(_PG_OPEN, {"name": CURSOR})).one()
        if not opened.subscribed:
            return None
        row: Any = opened
        if opened.seq is None:
            if opened.stored:  # another replica holds it: its pass does the work
                return None
            # A new cursor starts before every event (waiting, if another replica is creating it
            # at the same moment, for that one's pass).
            row = (await self.session.execute(_PG_NEW_CURSOR, {"name": CURSOR})).first()
            if row is None:
                return None
        window = Window(seq=row.seq, txid=row.txid, done=row.done or NOTHING_DONE, target=row.target)
        if window.target is None:  # taken now, after the lock: later than the stored ``done``
            snapshot = await self.session.scalar(text("SELECT pg_current_snapshot()"))
            window = replace(window, txid=0, seq=0, target=snapshot, opened=True)
        return window

    async def window_events(self, window: Window, limit: int) -> list[EventHead]:
        """The window's next events, oldest first (at most ``limit``).

        Only what matching needs is read (not the payload): the fan-out keeps up with the intake."""
        if is_sqlite(self.session):
            q = (
                select(OutboxEvent.seq, OutboxEvent.id, OutboxEvent.zone, OutboxEvent.applicant_sub)
                .where(OutboxEvent.seq > window.seq)
                .order_by(OutboxEvent.seq)
                .limit(limit)
            )
            return [EventHead(*row) for row in await self.session.execute(q)]
        rows = await self.session.execute(
            _PG_WINDOW_EVENTS,
            {
                "done_xip": list(window.done[2]),
                "done_xmax": window.done[1],
                "target": window.target,
                "txid": window.txid,
                "seq": window.seq,
                "limit": limit,
            },
        )
        return [EventHead(r.seq, r.id, r.zone, r.applicant_sub, r.txid) for r in rows]

    async def move_cursor(self, window: Window, events: list[EventHead], *, exhausted: bool) -> None:
        """Remember that ``events`` (the window's next, in order) were fanned out; ``exhausted``:
        nothing of the window is left after them."""
        cursor = update(OutboxCursor).where(OutboxCursor.name == CURSOR)
        if is_sqlite(self.session):
            if events:
                await self.session.execute(cursor.values(seq=events[-1].seq))
        elif exhausted:
            # A window opened by this pass and found empty need not be remembered: the next
            # pass's window, from the same ``done``, holds all it would have.
            if events or not window.opened:
                await self.session.execute(cursor.values(done=window.target, target=None, txid=0, seq=0))
        elif events:
            last = events[-1]
            await self.session.execute(cursor.values(target=window.target, txid=last.txid, seq=last.seq))

    async def due_deliveries(self, now: datetime, limit: int) -> list[WebhookDelivery]:
        """Deliveries due now, oldest first (locked, skipping rows another replica holds)."""
        q = (
            select(WebhookDelivery)
            .where(WebhookDelivery.delivered_at.is_(None), WebhookDelivery.next_attempt_at <= now)
            .order_by(WebhookDelivery.id)
            .limit(limit)
        )
        if not is_sqlite(self.session):
            q = q.with_for_update(skip_locked=True)
        return list(await self.session.scalars(q))

    async def claim(self, delivery: WebhookDelivery, lease_until: datetime) -> bool:
        """Lease a delivery to this worker (compare-and-set on its due time); False if another took it."""
        result = await self.session.execute(
            update(WebhookDelivery)
            .where(
                WebhookDelivery.id == delivery.id,
                WebhookDelivery.next_attempt_at == delivery.next_attempt_at,
                WebhookDelivery.delivered_at.is_(None),
            )
            .values(next_attempt_at=lease_until, attempts=WebhookDelivery.attempts + 1)
            .execution_options(synchronize_session=False)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def delivery(self, delivery_id: int) -> WebhookDelivery | None:
        """One delivery (fresh)."""
        row: WebhookDelivery | None = await self.session.scalar(
            select(WebhookDelivery).where(WebhookDelivery.id == delivery_id).execution_options(populate_existing=True)
        )
        return row

    async def events(self, ids: list[str]) -> dict[str, OutboxEvent]:
        """Outbox events by id."""
        if not ids:
            return {}
        rows = await self.session.scalars(select(OutboxEvent).where(OutboxEvent.id.in_(set(ids))))
        return {e.id: e for e in rows}

    async def webhooks(self, ids: list[str]) -> dict[str, Webhook]:
        """Subscribers by id."""
        if not ids:
            return {}
        rows = await self.session.scalars(select(Webhook).where(Webhook.id.in_(set(ids))))
        return {w.id: w for w in rows}
