"""The typed permits client against the real app (over ASGI), and its Fake."""

from __future__ import annotations

from datetime import date
from typing import Any

import httpx

from libs.domain.clients.permits import FakePermitsClient, PermitsClient
from tests.permits.builders import ZONE


class TestThePermitsClient:
    async def test_reads_catalog_power_list_stats_and_deadlines(self, window: Any) -> None:
        async with window() as w:
            await w.bureau()
            await w.item()
            await w.item(code="xmba", name="企业投资项目备案")
            transport = httpx.ASGITransport(app=w.app)
            async with httpx.AsyncClient(transport=transport) as http:
                client = PermitsClient(http, "http://permits.test")
                items = await client.catalog(zone=ZONE)
                powers = await client.power_list(zone=ZONE)
                stats = await client.stats(zone=ZONE, start=date(2026, 1, 1), end=date(2026, 12, 31))
                deadline = await client.deadline(start=date(2026, 2, 12), working_days=5)
            assert sorted(i.code for i in items) == ["jsgcgh", "xmba"]
            assert {p.bureau for p in powers} == {"河北张家口经济开发区行政审批局"}
            assert stats.total.received == 0 and stats.from_ == date(2026, 1, 1)
            # Fri 13 (1), Sat 14 make-up (2), 24 (3), 25 (4), 26 (5).
            assert deadline.deadline == date(2026, 2, 26)


class TestTheFake:
    async def test_answers_what_it_was_given(self) -> None:
        fake = FakePermitsClient()
        stats = await fake.stats(zone="z", start=date(2026, 1, 1), end=date(2026, 6, 30))
        assert stats.total.received == 0 and stats.to == date(2026, 6, 30)
        assert await fake.catalog(zone="z") == []
        assert fake.calls == [("stats", "z"), ("catalog", "z")]
