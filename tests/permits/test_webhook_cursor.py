"""The webhook fan-out reads the outbox through a cursor instead of marking each event: every
event fanned out exactly once (transactions committing out of ``seq`` order on PostgreSQL,
racing fan-outs, a backlog read in batches), a subscriber gets only what was not fanned out
before it registered, and without subscribers a pass only moves the cursor, in one statement.
The migration from 20261126_0001 keeps fanned-out events behind the cursor and pending ones
ahead of it."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import event, select, text
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from services.common.db import Database, UtcDateTime
from services.common.migrations import downgrade, upgrade
from services.permits.tables import OutboxCursor, OutboxEvent, Webhook, WebhookDelivery
from services.permits.webhooks import service as webhook_service
from tests.helpers import engine_at, fetch
from tests.permits.builders import ZONE

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def new_event() -> OutboxEvent:
    return OutboxEvent(
        id=uuid.uuid4().hex,
        application_id="case-1",
        zone=ZONE,
        applicant_sub=None,
        type="application.state_changed",
        payload={},
        created_at=NOW,
    )


async def write_events(db: Any, n: int = 1) -> list[str]:
    """``n`` events in one committed transaction; their ids in ``seq`` order."""
    async with db.sessions() as s:
        rows = [new_event() for _ in range(n)]
        for row in rows:  # one flush each: seq follows the list
            s.add(row)
            await s.flush()
        await s.commit()
    return [r.id for r in rows]


async def subscribe(db: Any, owner: str = "city") -> str:
    """An active subscriber seeing every event (as the city's)."""
    hook_id = uuid.uuid4().hex
    async with db.sessions() as s:
        s.add(
            Webhook(
                id=hook_id,
                url="http://127.0.0.1:9/hook",
                secret=None,
                owner=owner,
                zone=None,
                applicant=None,
                active=True,
                created_at=NOW,
            )
        )
        await s.commit()
    return hook_id


async def fan_out(db: Any, batch: int = webhook_service.FAN_OUT_BATCH) -> int:
    async with db.sessions() as s:
        handled = await webhook_service.fan_out(session=s, batch=batch)
        await s.commit()
    return handled


async def deliveries(db: Any) -> Counter[tuple[str, str]]:
    """How many deliveries each (event, webhook) has."""
    async with db.sessions() as s:
        rows = await s.execute(select(WebhookDelivery.event_id, WebhookDelivery.webhook_id))
        return Counter((e, w) for e, w in rows)


class TestExactlyOnce:
    async def test_a_backlog_is_read_in_batches_each_event_once(self, window: Any, backend: str) -> None:
        async with window() as w:
            db = w.runtime.db
            hook = await subscribe(db)
            first = await write_events(db, 7)
            assert await fan_out(db, batch=3) == 3
            late = await write_events(db, 1)  # written while the backlog is being read
            passes = [await fan_out(db, batch=3) for _ in range(4)]
            if backend == "postgresql":
                # The late event committed after the first window's end was taken: it is the
                # second window's (3 + 3 + 1 in the first window, then 1).
                assert passes == [3, 1, 1, 0]
            else:
                assert passes == [3, 2, 0, 0]  # SQLite, one cursor on seq: 4 to 6, then 7 and the late 8
            assert await deliveries(db) == Counter({(e, hook): 1 for e in first + late})

    async def test_a_backlog_of_whole_batches_ends_and_the_next_event_comes(self, window: Any) -> None:
        async with window() as w:
            db = w.runtime.db
            hook = await subscribe(db)
            first = await write_events(db, 4)
            assert [await fan_out(db, batch=2) for _ in range(3)] == [2, 2, 0]
            (later,) = await write_events(db)
            assert await fan_out(db, batch=2) == 1
            assert await deliveries(db) == Counter({(e, hook): 1 for e in [*first, later]})

    async def test_two_fan_outs_racing_deliver_once(self, window: Any) -> None:
        async with window() as w:
            db = w.runtime.db
            hook = await subscribe(db)
            events = await write_events(db, 5)

            async def catch_up() -> int:
                handled, last = 0, 2
                while last == 2:
                    last = await fan_out(db, batch=2)
                    handled += last
                return handled

            done = await asyncio.gather(catch_up(), catch_up())
            assert sum(done) == 5  # every event handled by exactly one of them
            assert await deliveries(db) == Counter({(e, hook): 1 for e in events})

    async def test_a_fan_out_finding_the_cursor_held_does_nothing(self, window: Any, backend: str) -> None:
        async with window() as w:
            db = w.runtime.db
            hook = await subscribe(db)
            assert await fan_out(db) == 0  # the cursor row exists (a new one would be waited for)
            events = await write_events(db, 2)
            async with db.sessions() as holder:
                assert await webhook_service.fan_out(session=holder) == 2
                if backend == "postgresql":  # SQLite would wait for the write lock instead
                    assert await fan_out(db) == 0
                await holder.commit()
            assert await fan_out(db) == 0
            assert await deliveries(db) == Counter({(e, hook): 1 for e in events})


@pytest.mark.parametrize("backend", ["postgresql"])  # SQLite has one writer: commits follow seq
class TestOutOfOrderCommits:
    async def test_an_event_committed_after_a_later_seq_is_still_fanned_out(self, window: Any, backend: str) -> None:
        async with window() as w:
            db = w.runtime.db
            hook = await subscribe(db)
            async with db.sessions() as a:
                early = new_event()
                a.add(early)
                await a.flush()  # transaction A holds seq 1, not committed
                (late,) = await write_events(db)  # B: seq 2, committed
                assert await fan_out(db) == 1  # B's, not waiting for A
                assert await deliveries(db) == Counter({(late, hook): 1})
                await a.commit()
            assert await fan_out(db) == 1
            assert await fan_out(db) == 0
            assert await deliveries(db) == Counter({(late, hook): 1, (early.id, hook): 1})
            async with db.sessions() as s:
                seqs = dict((await s.execute(select(OutboxEvent.id, OutboxEvent.seq))).tuples().all())
            assert seqs[early.id] < seqs[late]

    async def test_an_older_transaction_writing_a_higher_seq_is_still_fanned_out(
        self, window: Any, backend: str
    ) -> None:
        async with window() as w:
            db = w.runtime.db
            hook = await subscribe(db)
            async with db.sessions() as a:
                await a.execute(text("SELECT pg_current_xact_id()"))  # A's transaction id comes first
                (first,) = await write_events(db)  # B: a later transaction id, seq 1, committed
                assert await fan_out(db) == 1
                older = new_event()
                a.add(older)
                await a.flush()  # seq 2 under the older transaction id
                await a.commit()
            assert await fan_out(db) == 1
            assert await deliveries(db) == Counter({(first, hook): 1, (older.id, hook): 1})


class TestSubscribers:
    async def test_a_subscriber_registered_later_gets_only_later_events(self, window: Any) -> None:
        async with window() as w:
            db = w.runtime.db
            city = await subscribe(db)
            before = await write_events(db, 2)
            assert await fan_out(db) == 2
            newcomer = await subscribe(db, owner="newcomer")
            after = await write_events(db, 1)
            assert await fan_out(db) == 1
            assert await deliveries(db) == Counter(
                {**{(e, city): 1 for e in before + after}, **{(e, newcomer): 1 for e in after}}
            )

    async def test_without_subscribers_one_statement_moves_the_cursor_past_the_events(
        self, window: Any, backend: str
    ) -> None:
        async with window() as w:
            db = w.runtime.db
            old = await write_events(db, 2)
            statements: list[str] = []

            def seen(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
                statements.append(statement)

            engine: AsyncEngine = db.engine
            event.listen(engine.sync_engine, "before_cursor_execute", seen)
            try:
                assert await fan_out(db) == 0
            finally:
                event.remove(engine.sync_engine, "before_cursor_execute", seen)
            assert len(statements) == 1, statements
            async with db.sessions() as s:
                if backend == "sqlite":
                    cursor = await s.scalar(select(OutboxCursor.seq))
                    assert cursor == await s.scalar(select(OutboxEvent.seq).where(OutboxEvent.id == old[1]))
                else:
                    passed = await s.scalars(
                        text(
                            "SELECT pg_visible_in_snapshot(e.txid, c.done) FROM outbox_event e, outbox_cursor c "
                            "WHERE c.target IS NULL"
                        )
                    )
                    assert list(passed) == [True, True]
            hook = await subscribe(db)
            new = await write_events(db, 1)
            assert await fan_out(db) == 1
            assert await deliveries(db) == Counter({(new[0], hook): 1})

    async def test_a_quiet_outbox_without_subscribers_reads_no_event(self, window: Any) -> None:
        async with window() as w:
            db = w.runtime.db
            await write_events(db, 1)
            assert await fan_out(db) == 0
            assert await fan_out(db) == 0  # nothing new: still nothing read
            hook = await subscribe(db)
            assert await fan_out(db) == 0
            assert await deliveries(db) == Counter()
            (new,) = await write_events(db)
            assert await fan_out(db) == 1
            assert await deliveries(db) == Counter({(new, hook): 1})


# --- migration 20261126_0002 -----------------------------------------------------------------

EVENTS = sa.table(
    "outbox_event",
    sa.column("seq", sa.BigInteger()),
    sa.column("id", sa.String()),
    sa.column("application_id", sa.String()),
    sa.column("zone", sa.String()),
    sa.column("applicant_sub", sa.String()),
    sa.column("type", sa.String()),
    sa.column("payload", sa.JSON()),
    sa.column("created_at", UtcDateTime()),
    sa.column("fanned_out_at", UtcDateTime()),
)
HOOKS = sa.table(
    "webhook",
    sa.column("id", sa.String()),
    sa.column("url", sa.String()),
    sa.column("secret", sa.String()),
    sa.column("owner", sa.String()),
    sa.column("zone", sa.String()),
    sa.column("applicant", sa.String()),
    sa.column("active", sa.Boolean()),
    sa.column("created_at", UtcDateTime()),
)


def seeded(fanned: dict[str, bool]) -> list[dict[str, Any]]:
    return [
        {
            "id": name,
            "application_id": "case-1",
            "zone": ZONE,
            "applicant_sub": None,
            "type": "application.state_changed",
            "payload": {},
            "created_at": NOW,
            "fanned_out_at": NOW if done else None,
        }
        for name, done in fanned.items()
    ]


@pytest.fixture
def empty_url(backend: str, databases: Any, tmp_path: Path) -> str:
    if backend == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'permits-migration.db'}"
    return str(databases.new_pg_database("permits_mig"))


async def _indexes(engine: AsyncEngine) -> set[str]:
    async with engine.connect() as conn:
        return await conn.run_sync(lambda c: {str(i["name"]) for i in sa.inspect(c).get_indexes("outbox_event")})


class TestMigration0002:
    async def test_fanned_out_events_stay_behind_the_cursor_and_pending_ones_are_sent(
        self, empty_url: str, backend: str
    ) -> None:
        await upgrade("permits", empty_url, "20261126_0001")
        # Before the cursor, fan-out passes skipped locked rows on PostgreSQL, so a pending event
        # may sit below a fanned-out one there; on SQLite the fanned-out ones are a seq prefix.
        if backend == "postgresql":
            fanned = {"e1": True, "e2": False, "e3": True, "e4": False}
        else:
            fanned = {"e1": True, "e2": True, "e3": False, "e4": False}
        async with engine_at(empty_url) as engine:
            async with engine.begin() as conn:
                await conn.execute(
                    HOOKS.insert().values(
                        id="h1", url="http://127.0.0.1:9/h", secret=None, owner="city", zone=None, applicant=None,
                        active=True, created_at=NOW,
                    )
                )  # fmt: skip
                for row in seeded(fanned):  # one by one: seq in this order
                    await conn.execute(EVENTS.insert().values(row))
                # e1 was delivered to h1; e3 was fanned out before h1 registered.
                await conn.execute(
                    text("INSERT INTO webhook_delivery (event_id, webhook_id, attempts) VALUES ('e1', 'h1', 1)")
                )
            await upgrade("permits", empty_url)
            assert "ix_outbox_event_fanned_out_at" not in await _indexes(engine)
            db = Database(empty_url, engine, async_sessionmaker(engine, expire_on_commit=False))
            assert await fan_out(db) == 2
            pending = [name for name, done in fanned.items() if not done]
            assert await deliveries(db) == Counter({(e, "h1"): 1 for e in ["e1", *pending]})
            (later,) = await write_events(db)
            assert await fan_out(db) == 1
            assert await deliveries(db) == Counter({(e, "h1"): 1 for e in ["e1", *pending, later]})
            async with db.sessions() as s:  # the fan-out no longer marks events
                marked = await s.scalar(select(sa.func.count()).where(OutboxEvent.fanned_out_at.is_not(None)))
            assert marked == 2
        await downgrade("permits", empty_url, "20261126_0001")
        async with engine_at(empty_url) as engine:
            assert "ix_outbox_event_fanned_out_at" in await _indexes(engine)
        unmarked = await fetch(empty_url, "SELECT id FROM outbox_event WHERE fanned_out_at IS NULL")
        assert unmarked == []  # everything the cursor passed is marked for the old fan-out

    async def test_a_downgrade_leaves_what_the_cursor_did_not_pass_pending(self, empty_url: str) -> None:
        await upgrade("permits", empty_url)
        async with engine_at(empty_url) as engine:
            db = Database(empty_url, engine, async_sessionmaker(engine, expire_on_commit=False))
            await subscribe(db)
            passed = await write_events(db, 3)
            assert await fan_out(db, batch=2) == 2  # the third is not passed yet
        await downgrade("permits", empty_url, "20261126_0001")
        rows = await fetch(empty_url, "SELECT id, fanned_out_at IS NULL FROM outbox_event")
        assert {r[0]: bool(r[1]) for r in rows} == {passed[0]: False, passed[1]: False, passed[2]: True}
