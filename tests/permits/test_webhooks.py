"""Webhooks: every state change reaches subscribers at least once, with an event id, written
through an outbox in the same transaction as the change. The receiver is a real HTTP server on
127.0.0.1 (uvicorn serving a Starlette app in the test's event loop)."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import func, select, update

from services.permits.tables import OutboxEvent, Transition, WebhookDelivery
from services.permits.workers import dispatch_once
from tests.helpers import assert_problem
from tests.permits.builders import CITY, CLERK, ENTERPRISE, OTHER_CLERK, OTHER_ENTERPRISE
from tests.permits.webhook_receiver import receiver

SECRET = "s3cret-for-tests-0123456789"


async def dispatch(w: Any) -> int:
    return await dispatch_once(w.runtime.db, w.runtime.http)


class TestDelivery:
    async def test_each_state_change_reaches_the_applicants_webhook_signed_with_an_event_id(self, window: Any) -> None:
        async with window() as w, receiver() as hook:
            await w.ok("POST", "/v1/webhooks", ENTERPRISE, 201, json={"url": hook.url, "secret": SECRET})
            await w.ok("POST", "/v1/webhooks", OTHER_ENTERPRISE, 201, json={"url": hook.url + "?other"})
            item = await w.item()
            case = await w.accept(await w.apply(item))
            assert await dispatch(w) == 2
            events = hook.events()
            assert [(e["from_state"], e["to_state"]) for e in events] == [
                (None, "submitted"),
                ("submitted", "in_review"),
            ]
            assert all(e["application"] == case["id"] and e["type"] == "application.state_changed" for e in events)
            assert all(e["zone_id"] == item["zone_id"] and "zone" not in e for e in events)
            assert len({e["event_id"] for e in events}) == 2
            for headers, body in hook.received:
                assert headers["x-devzones-event-id"] == json.loads(body)["event_id"]
                expected = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
                assert headers["x-devzones-signature"] == expected
            assert await dispatch(w) == 0  # nothing twice once acknowledged

    async def test_a_failed_delivery_is_retried_with_the_same_event_id(self, window: Any) -> None:
        async with window() as w, receiver(fail=1) as hook:
            await w.ok("POST", "/v1/webhooks", CLERK, 201, json={"url": hook.url})
            item = await w.item()
            await w.apply(item)
            assert await dispatch(w) == 1
            async with w.runtime.db.sessions() as s:
                d = await s.scalar(select(WebhookDelivery))
                assert d.delivered_at is None and d.last_status == 500 and d.attempts == 1
                # Skip the backoff rather than wait for it.
                await s.execute(update(WebhookDelivery).values(next_attempt_at=datetime.now(UTC)))
                await s.commit()
            assert await dispatch(w) == 1
            ids = [e["event_id"] for e in hook.events()]
            assert len(ids) == 2 and ids[0] == ids[1]
            assert [h["x-devzones-delivery-attempt"] for h, _ in hook.received] == ["1", "2"]

    async def test_a_zone_webhook_sees_only_its_zone_and_the_city_sees_all(self, window: Any) -> None:
        async with window() as w, receiver() as hook:
            await w.ok("POST", "/v1/webhooks", CITY, 201, json={"url": hook.url + "?city"})
            await w.ok("POST", "/v1/webhooks", CLERK, 201, json={"url": hook.url + "?zone"})
            await w.ok("POST", "/v1/webhooks", OTHER_CLERK, 201, json={"url": hook.url + "?other-zone"})
            forbidden = await w.client.post("/v1/webhooks", headers=CLERK, json={"url": hook.url, "zone_id": "xh-econ"})
            assert_problem(forbidden, 403)
            item = await w.item()
            await w.apply(item)
            assert await dispatch(w) == 2  # the city's and the zone's, not the other zone's
            assert sorted(q for q, _ in hook.queries) == ["city", "zone"]
            assert len({e["event_id"] for e in hook.events()}) == 1
            listed = (await w.ok("GET", "/v1/webhooks", CITY))["items"]
            await w.ok("DELETE", f"/v1/webhooks/{listed[0]['id']}", CITY, 204)
            assert (await w.ok("GET", "/v1/webhooks", CITY))["items"] == []


class TestTheOutbox:
    async def test_an_event_is_written_with_every_state_change_and_never_with_a_refused_one(self, window: Any) -> None:
        async with window() as w:
            item = await w.item()
            case = await w.apply(item)
            assert_problem(await w.client.post(f"/v1/applications/{case['id']}/decision", headers=CLERK, json={}), 409)
            await w.accept(case)
            async with w.runtime.db.sessions() as s:
                events = await s.scalar(select(func.count()).select_from(OutboxEvent))
                changes = await s.scalar(
                    select(func.count())
                    .select_from(Transition)
                    .where(Transition.from_state.is_distinct_from(Transition.to_state))
                )
            assert events == changes == 2


class TestTheBackgroundDispatcher:
    async def test_the_lifespan_dispatcher_delivers_by_itself(
        self, window: Any, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv("PERMITS_WORKERS_ENABLED", "true")
        monkeypatch.setenv("PERMITS_DISPATCH_INTERVAL_SECONDS", "0.2")
        monkeypatch.setenv("PERMITS_SWEEP_INTERVAL_SECONDS", "600")
        async with window() as w, receiver() as hook:
            try:
                await w.ok("POST", "/v1/webhooks", ENTERPRISE, 201, json={"url": hook.url})
                item = await w.item()
                await w.apply(item)
                for _ in range(100):  # bounded wait for the background job, not a timing assertion
                    if hook.received:
                        break
                    await asyncio.sleep(0.1)
                assert [e["to_state"] for e in hook.events()] == ["submitted"]
            finally:
                assert w.runtime.workers is not None
                await w.runtime.workers.stop()  # before the fixture empties the tables


class TestTargetPolicy:
    async def test_production_refuses_internal_targets_when_registering(self, window: Any) -> None:
        async with window(webhook_private_targets=False) as w:
            r = await w.client.post(
                "/v1/webhooks", headers=ENTERPRISE, json={"url": "http://169.254.169.254/latest/meta-data"}
            )
            allowed = await w.client.post("/v1/webhooks", headers=ENTERPRISE, json={"url": "https://8.8.8.8/hook"})
        body = assert_problem(r, 422)
        assert body["errors"][0]["loc"] == ["body", "url"]
        assert allowed.status_code == 201

    async def test_an_allow_list_limits_the_hosts(self, window: Any) -> None:
        async with window(webhook_allowed_hosts=["hooks.example.com"]) as w:
            r = await w.client.post("/v1/webhooks", headers=ENTERPRISE, json={"url": "https://other.example.org/h"})
        assert_problem(r, 422)

    async def test_delivery_rechecks_the_target_and_records_the_refusal(self, window: Any) -> None:
        from libs.domain.permits.webhook_policy import WebhookPolicy

        async with window() as w, receiver() as hook:
            await w.ok("POST", "/v1/webhooks", ENTERPRISE, 201, json={"url": hook.url})
            await w.bureau()
            await w.apply(await w.item())
            sent = await dispatch_once(w.runtime.db, w.runtime.http, policy=WebhookPolicy())
            async with w.runtime.db.sessions() as session:
                errors = list(await session.scalars(select(WebhookDelivery.last_error)))
        assert sent >= 1
        assert hook.received == []
        assert errors
        assert all("refused by the webhook policy" in (e or "") for e in errors)
