"""Webhook subscribers, and the dispatcher's use cases: fan out the outbox, claim, record results.

The fan-out reads the outbox through a cursor (one row, locked for each pass) instead of
marking every event; :mod:`services.permits.webhooks.repository` explains why it fans out every
event exactly once on both backends, with several replicas and transactions committing in any
order.

Delivery is at least once: a delivery is leased (its due time moved past the lease) and
committed before it is sent, and marked delivered after a 2xx. A worker that dies between
sending and recording leaves the lease to expire, and the delivery is sent again with the same
``event_id``, which subscribers use to deduplicate.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from libs.domain.kernel.contracts import Actor
from libs.domain.kernel.errors import Forbidden, NotFound, Unprocessable
from libs.domain.kernel.i18n import Text
from libs.domain.kernel.values import Role
from libs.domain.permits.contracts import WebhookCreate, WebhookRead
from libs.domain.permits.webhook_policy import WebhookPolicy
from services.permits.tables import Webhook
from services.permits.webhooks.repository import EventHead, WebhookRepository

MAX_ATTEMPTS = 15
LEASE = timedelta(seconds=30)
FAN_OUT_BATCH = 500
CLAIM_BATCH = 20


def _read(row: Webhook) -> WebhookRead:
    return WebhookRead(id=row.id, url=row.url, zone_id=row.zone, applicant=row.applicant, created_at=row.created_at)


async def register(
    *, session: AsyncSession, actor: Actor, body: WebhookCreate, policy: WebhookPolicy | None = None
) -> WebhookRead:
    """Register a subscriber seeing what its owner sees: the city everything (or one zone), staff
    their zone, an applicant their own cases. The target must pass the delivery policy."""
    refusal = (policy or WebhookPolicy()).host_refusal(str(body.url))
    if refusal is not None:
        raise Unprocessable(
            Text("不允许使用该回调地址", "the webhook target is not allowed"),
            errors=[{"loc": ["body", "url"], "msg": refusal, "type": "target", "code": "target_not_allowed"}],
            code="target_not_allowed",
        )
    zone: str | None = None
    applicant: str | None = None
    if Role.CITY_ADMIN in actor.roles:
        zone = body.zone_id
    elif actor.has(Role.WINDOW_CLERK, Role.BUREAU_ADMIN) and actor.zone:
        if body.zone_id is not None and body.zone_id != actor.zone:
            raise Forbidden(
                Text(f"您的令牌仅限开发区 {actor.zone}", f"your token is scoped to zone {actor.zone}"),
                code="zone_out_of_scope",
            )
        zone = actor.zone
    elif Role.APPLICANT in actor.roles:
        if body.zone_id is not None:
            raise Forbidden(
                Text(
                    "申请人的回调只接收本人办件的通知，不能订阅开发区",
                    "an applicant's webhook receives their own cases, not a zone's",
                ),
                code="applicant_webhook_zone",
            )
        applicant = actor.sub
    else:
        raise Forbidden(
            Text("该角色不能注册回调", "this role cannot register webhooks"), code="webhook_role_not_allowed"
        )
    row = Webhook(
        id=uuid.uuid4().hex,
        url=str(body.url),
        secret=body.secret,
        owner=actor.sub,
        zone=zone,
        applicant=applicant,
        active=True,
        created_at=datetime.now(UTC),
    )
    await WebhookRepository(session).add(row)
    return _read(row)


async def list_webhooks(
    *, session: AsyncSession, actor: Actor, after: tuple[str, str] | None = None, limit: int
) -> tuple[list[WebhookRead], tuple[str, str] | None]:
    """A page of the caller's subscribers, oldest first, after the one keyed ``after`` (its
    registration time and id); the second value is the next cursor."""
    rows = sorted(await WebhookRepository(session).owned_by(actor.sub), key=_webhook_key)
    rows = [w for w in rows if after is None or _webhook_key(w) > after]
    more = len(rows) > limit
    rows = rows[:limit]
    return [_read(w) for w in rows], (_webhook_key(rows[-1]) if more else None)


def _webhook_key(row: Webhook) -> tuple[str, str]:
    return (row.created_at.isoformat(), row.id)


async def delete(*, session: AsyncSession, actor: Actor, webhook_id: str) -> None:
    """Stop a subscriber (its owner, or the city)."""
    repo = WebhookRepository(session)
    row = await repo.get(webhook_id)
    if row is None or not row.active or (row.owner != actor.sub and Role.CITY_ADMIN not in actor.roles):
        raise NotFound(
            Text(f"回调 {webhook_id} 不存在", f"webhook {webhook_id} does not exist"), code="webhook_not_found"
        )
    row.active = False
    await repo.flush()


def _may_see(hook: Webhook, event: EventHead) -> bool:
    if hook.applicant is not None:
        return hook.applicant == event.applicant_sub
    return hook.zone is None or hook.zone == event.zone


async def fan_out(*, session: AsyncSession, batch: int = FAN_OUT_BATCH) -> int:
    """Turn new outbox events into one pending delivery per allowed subscriber and move the
    cursor past them (commit to keep it); returns the events handled, at most ``batch`` (fewer:
    nothing is left to read for now).

    Without an active subscriber the cursor just moves past everything written so far (events
    no one subscribed to are never delivered); when another replica holds the cursor, this
    pass does nothing."""
    repo = WebhookRepository(session)
    window = await repo.open_window()
    if window is None:
        return 0
    hooks = await repo.active()  # after the window's end was taken (see the repository)
    if not hooks:
        return 0  # unsubscribed meanwhile: the next pass moves the cursor without reading
    events = await repo.window_events(window, batch)
    pairs = [(e.id, h.id) for e in events for h in hooks if _may_see(h, e)]
    await repo.add_deliveries(pairs, datetime.now(UTC))
    await repo.move_cursor(window, events, exhausted=len(events) < batch)
    return len(events)


@dataclass(frozen=True)
class Outgoing:
    """A delivery leased to this worker, ready to send."""

    delivery_id: int
    url: str
    body: bytes
    headers: dict[str, str]


def signature(secret: str, body: bytes) -> str:
    """The ``X-Devzones-Signature`` value of ``body``."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


async def claim_due(*, session: AsyncSession, batch: int = 20) -> list[Outgoing]:
    """Lease due deliveries to this worker (commit before sending)."""
    repo = WebhookRepository(session)
    now = datetime.now(UTC)
    due = await repo.due_deliveries(now, batch)
    claimed = [d for d in due if await repo.claim(d, now + LEASE)]
    events = await repo.events([d.event_id for d in claimed])
    hooks = await repo.webhooks([d.webhook_id for d in claimed])
    out = []
    for d in claimed:
        event, hook = events[d.event_id], hooks[d.webhook_id]
        payload: dict[str, Any] = dict(event.payload)
        body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
        headers = {
            "Content-Type": "application/json",
            "X-Devzones-Event-Id": event.id,
            "X-Devzones-Event-Type": event.type,
            "X-Devzones-Delivery-Attempt": str(d.attempts + 1),
        }
        if hook.secret:
            headers["X-Devzones-Signature"] = signature(hook.secret, body)
        out.append(Outgoing(d.id, hook.url, body, headers))
    return out


async def record_result(*, session: AsyncSession, delivery_id: int, status: int | None, error: str | None) -> None:
    """Record an attempt: delivered on a 2xx; otherwise due again after a backoff (given up after
    :data:`MAX_ATTEMPTS`)."""
    repo = WebhookRepository(session)
    d = await repo.delivery(delivery_id)
    if d is None:
        return
    now = datetime.now(UTC)
    d.last_status, d.last_error = status, (error or None) and error[:500]
    if status is not None and 200 <= status < 300:
        d.delivered_at, d.next_attempt_at = now, None
    elif d.attempts >= MAX_ATTEMPTS:
        d.next_attempt_at = None
    else:
        d.next_attempt_at = now + timedelta(seconds=min(2**d.attempts, 600))
    await repo.flush()
