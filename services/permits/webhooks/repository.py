"""Queries of the webhook subscribers, the outbox and the deliveries."""

from __future__ import annotations

from datetime import datetime
from typing import NamedTuple

from sqlalchemy import BigInteger, ColumnElement, any_, bindparam, select, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession

from services.permits.sql import dialect_insert, is_sqlite
from services.permits.tables import OutboxEvent, Webhook, WebhookDelivery


class EventHead(NamedTuple):
    """What the fan-out reads of an outbox event."""

    seq: int
    id: str
    zone: str
    applicant_sub: str | None


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

    async def events_to_fan_out(self, limit: int) -> list[EventHead]:
        """Outbox events not yet fanned out, oldest first, locked (skipping rows another replica holds).

        Only what matching needs is read (not the payload): the fan-out keeps up with the intake."""
        q = (
            select(OutboxEvent.seq, OutboxEvent.id, OutboxEvent.zone, OutboxEvent.applicant_sub)
            .where(OutboxEvent.fanned_out_at.is_(None))
            .order_by(OutboxEvent.seq)
            .limit(limit)
        )
        if not is_sqlite(self.session):
            q = q.with_for_update(skip_locked=True)
        return [EventHead(*row) for row in await self.session.execute(q)]

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

    async def mark_fanned_out(self, seqs: list[int], now: datetime) -> None:
        """Remember the events were fanned out.

        On PostgreSQL the keys go as one array (``= ANY``): the statement is the same whatever
        their number, so it is parsed and planned once, not once per batch size as ``IN`` would be."""
        match: ColumnElement[bool]
        if is_sqlite(self.session):
            match = OutboxEvent.seq.in_(seqs)
        else:
            match = OutboxEvent.seq == any_(bindparam("seqs", seqs, type_=ARRAY(BigInteger)))
        await self.session.execute(
            update(OutboxEvent).where(match).values(fanned_out_at=now).execution_options(synchronize_session=False)
        )

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
