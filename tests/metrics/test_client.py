"""The typed metrics client against the real app (what the assessment service calls)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from libs.domain.clients.metrics import MetricsClient
from libs.domain.kernel.errors import UpstreamError
from tests.conftest import make_token
from tests.metrics.builders import CITY, XUANHUA, batch, obs


class TestTheClient:
    async def test_matrix_indicators_and_locks_round_trip(self, metrics: Any) -> None:
        async with metrics() as client:
            await client.post(
                "/v1/observations", json=batch(obs({"zone": XUANHUA}, "gdp", "2017", 7, "万元")), headers=CITY
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
