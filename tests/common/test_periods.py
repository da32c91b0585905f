"""Period parameters are parsed at the edge and documented as the strings they are on the wire."""

from __future__ import annotations

import json
from typing import Annotated

import httpx
import pytest
from fastapi import FastAPI, Path, Query

from libs.domain.kernel.values import Period
from services.common.periods import PeriodParam
from services.common.problems import install_problem_handlers

DESCRIPTION = "`2025`, `2025H1` or `2025Q3`"


def _parsed_app() -> FastAPI:
    app = FastAPI()
    install_problem_handlers(app)

    @app.get("/r/{due}")
    async def route(
        due: Annotated[PeriodParam, Path(description=DESCRIPTION)],
        period: Annotated[PeriodParam, Query(description=DESCRIPTION)],
        since: Annotated[PeriodParam | None, Query(alias="from")] = None,
    ) -> dict[str, str | None]:
        assert isinstance(period, Period) and isinstance(due, Period)
        return {"period": str(period), "start": period.start.isoformat(), "from": str(since) if since else None}

    return app


def _text_app() -> FastAPI:
    """The same route as the services declared it before: periods as plain text."""
    app = FastAPI()
    install_problem_handlers(app)

    @app.get("/r/{due}")
    async def route(
        due: Annotated[str, Path(max_length=16, description=DESCRIPTION)],
        period: Annotated[str, Query(max_length=16, description=DESCRIPTION)],
        since: Annotated[str | None, Query(alias="from", max_length=16)] = None,
    ) -> dict[str, str | None]:
        return {}

    return app


async def _get(**params: str) -> httpx.Response:
    transport = httpx.ASGITransport(app=_parsed_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        return await client.get("/r/2025", params=params)


class TestAPeriodParameter:
    async def test_arrives_in_the_route_as_a_period(self) -> None:
        r = await _get(period="2025H2", **{"from": "2024"})
        assert r.json() == {"period": "2025H2", "start": "2025-07-01", "from": "2024"}

    @pytest.mark.parametrize("text", ["2025H3", "2025Q0", "25", "1800", "2025h1x", "x" * 17])
    async def test_that_is_not_a_period_is_a_422_problem_located_at_the_parameter(self, text: str) -> None:
        r = await _get(period=text)
        assert r.status_code == 422 and r.headers["content-type"].startswith("application/problem+json")
        [error] = r.json()["errors"]
        assert error["loc"] == ["query", "period"] and error["type"] == "period" and error["msg"]

    def test_leaves_the_openapi_document_exactly_as_the_plain_string_parameter_did(self) -> None:
        # as text, so that the order of keys counts too (the exported documents are compared as files);
        # the whole document, so that no schema of the Period class slips into the components
        assert json.dumps(_parsed_app().openapi()) == json.dumps(_text_app().openapi())
