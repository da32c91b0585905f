"""A service behind the gateway's prefix (``devzones serve --root-path /registry``): uvicorn then
gives the ASGI ``path`` with the prefix and ``root_path`` set to it; httpx's ASGI transport is
given the same, so these requests reach the app as they do behind the gateway."""

from __future__ import annotations

import importlib
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest

from services.common.paths import route_path


@pytest.fixture
def behind_prefix(settings_for: Callable[..., Any]) -> Callable[..., Any]:
    @asynccontextmanager
    async def _client(service: str, **settings: Any) -> AsyncIterator[httpx.AsyncClient]:
        app = importlib.import_module(f"services.{service}.main").create_app(settings_for(service, **settings))
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app, root_path=f"/{service}")
            async with httpx.AsyncClient(transport=transport, base_url="http://gateway.test") as client:
                yield client

    return _client


class TestRoutePath:
    @pytest.mark.parametrize(
        ("path", "root", "expected"),
        [
            ("/registry/v1/zones", "/registry", "/v1/zones"),
            ("/registry", "/registry", "/"),
            ("/registry/", "/registry", "/"),
            ("/registryx/v1", "/registry", "/registryx/v1"),  # another prefix that merely starts alike
            ("/v1/zones", "/registry", "/v1/zones"),  # a server that does not prefix the path
            ("/v1/zones", "", "/v1/zones"),
        ],
    )
    def test_the_prefix_is_taken_off_only_where_it_is_whole(self, path: str, root: str, expected: str) -> None:
        assert route_path({"type": "http", "path": path, "root_path": root}) == expected


class TestBehindThePrefix:
    async def test_probes_stay_exempt_from_rate_limits(self, behind_prefix: Any) -> None:
        async with behind_prefix("registry", rate_limit="1/minute") as client:
            codes = [(await client.get(p)).status_code for p in ("/registry/healthz", "/registry/metrics") * 3]
            limited = [(await client.get("/registry/v1/divisions")).status_code for _ in range(2)]
        assert codes == [200] * 6
        assert limited == [200, 429]

    async def test_openapi_servers_and_docs_name_the_prefix(self, behind_prefix: Any) -> None:
        async with behind_prefix("permits") as client:
            doc = (await client.get("/permits/openapi.json")).json()
            page = (await client.get("/permits/docs")).text
            asset = await client.get("/permits/docs/assets/swagger-ui.css")
        assert doc["servers"][0] == {"url": "/permits"}
        assert "'/permits/openapi.json'" in page
        assert "/permits/docs/assets/swagger-ui-bundle.js" in page
        assert asset.status_code == 200
