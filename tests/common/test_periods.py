"""Period parameters are parsed at the edge and documented as the strings they are on the wire."""

from __future__ import annotations

import json
from typing import Annotated

import httpx
import pytest
from fastapi import FastAPI, Query

from libs.domain.kernel.values import Period
from services.common.periods import PeriodParam
from services.common.problems import install_problem_handlers


def _app() -> FastAPI:
    app = FastAPI()
    install_problem_handlers(app)

    @app.get("/parsed")
    async def parsed(
        period: Annotated[PeriodParam, Query(description="`2025`, `2025H1` or `2025Q3`")],
        since: Annotated[PeriodParam | None, Query(alias="from")] = None,
    ) -> dict[str, str | None]:
        assert isinstance(period, Period)
        return {"period": str(period), "start": period.start.isoformat(), "from": str(since) if since else None}

    @app.get("/text")
    async def text(
        period: Annotated[str, Query(max_length=16, description="`2025`, `2025H1` or `2025Q3`")],
        since: Annotated[str | None, Query(alias="from", max_length=16)] = None,
    ) -> dict[str, str | None]:
        return {}

    return app


async def _get(path: str, **params: str) -> httpx.Response:
    transport = httpx.ASGITransport(app=_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        return await client.get(path, params=params)


class TestAPeriodParameter:
    async def test_arrives_in_the_route_as_a_period(self) -> None:
        r = await _get("/parsed", period="2025H2", **{"from": "2024"})
        assert r.json() == {"period": "2025H2", "start": "2025-07-01", "from": "2024"}

    @pytest.mark.parametrize("text", ["2025H3", "2025Q0", "25", "1800", "2025h1x", "x" * 17])
    async def test_that_is_not_a_period_is_a_422_problem_located_at_the_parameter(self, text: str) -> None:
        r = await _get("/parsed", period=text)
        assert r.status_code == 422 and r.headers["content-type"].startswith("application/problem+json")
        [error] = r.json()["errors"]
        assert error["loc"] == ["query", "period"] and error["type"] == "period" and error["msg"]

    def test_is_documented_exactly_as_the_plain_string_parameter_it_replaces(self) -> None:
        paths = _app().openapi()["paths"]
        # as text, so that the order of the keys counts too (the exported documents are compared as files)
        parsed, plain = (json.dumps(paths[p]["get"]["parameters"]) for p in ("/parsed", "/text"))
        assert parsed == plain
