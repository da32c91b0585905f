"""The typed metrics client against the real app (what the assessment service calls)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from libs.domain.clients.metrics import FakeMetricsClient, MetricsClient
from libs.domain.kernel.errors import UpstreamError
from libs.domain.kernel.i18n import Text, reset_lang, use_lang
from tests.conftest import make_token
from tests.metrics.builders import CITY, XUANHUA, batch, obs


class TestTheClient:
    async def test_matrix_indicators_and_locks_round_trip(self, metrics: Any) -> None:
        async with metrics() as client:
            await client.post(
                "/v1/observations", json=batch(obs({"zone_id": XUANHUA}, "gdp", "2017", 7, "万元")), headers=CITY
            )
            http = httpx.AsyncClient(transport=httpx.ASGITransport(app=client.app))  # type: ignore[attr-defined]
            typed = MetricsClient(http, "http://metrics.test", token=lambda: make_token("city_admin"))
            matrix = await typed.matrix(period="2017", indicators=["gdp"], lineage="proforma")
            catalog = await typed.indicators()
            lock = await typed.lock_period(period="2017", reason="2017 assessment published", kind="economic")
            with pytest.raises(UpstreamError) as again:
                await typed.lock_period(period="2017", reason="twice", kind="economic")
        row = next(r for r in matrix.rows if r.zone == XUANHUA)
        assert row.values == {"gdp": 7.0}
        assert "gdp" in {i.code for i in catalog}
        assert lock.period == "2017" and lock.kind == "economic"
        assert again.value.extra["upstream_status"] == 409


class TestTheFakeLocksAsTheServiceDoes:
    async def test_the_same_calls_get_the_same_locks_and_the_same_refusals(self, metrics: Any) -> None:
        # A bureau's token, as the assessment service forwards its publisher's: the lock, then the
        # same lock again (409), then a period that does not parse (422).
        calls: list[dict[str, Any]] = [
            {"period": "2025", "kind": "economic", "reason": "2025 assessment published"},
            {"period": "2025", "kind": "economic", "reason": "published twice"},
            {"period": "2025H2", "kind": "economic", "reason": "half-year"},
            {"period": "2025q4", "kind": "economic", "reason": "lower-case quarter"},
        ]

        async def answers(typed: Any) -> list[Any]:
            out: list[Any] = []
            for call in calls:
                try:
                    lock = await typed.lock_period(**call)
                    out.append(("lock", lock.period, lock.kind, lock.reason, lock.created_by))
                except UpstreamError as exc:
                    out.append(("refused", type(exc), exc.code, exc.detail, exc.extra))
            return out

        # As if serving a request in English: the client asks the service for English, and the
        # fake's refusals are written in English.
        lang = use_lang("en")
        try:
            async with metrics() as client:
                http = httpx.AsyncClient(transport=httpx.ASGITransport(app=client.app))  # type: ignore[attr-defined]
                real = MetricsClient(
                    http, "http://metrics.test", token=lambda: make_token("commerce_bureau", sub="shangwu-wang")
                )
                from_service = await answers(real)
            from_fake = await answers(FakeMetricsClient(created_by="shangwu-wang"))
        finally:
            reset_lang(lang)
        assert from_fake == from_service
        assert [a[0] for a in from_service] == ["lock", "refused", "lock", "refused"]
        assert from_service[1][2] == "upstream_refused"
        assert from_service[1][3] == Text(
            "metrics 服务答复 409：period 2025 is already locked for economic zones",
            "metrics service answered 409: period 2025 is already locked for economic zones",
        )
        assert [from_service[i][4]["upstream_status"] for i in (1, 3)] == [409, 422]
