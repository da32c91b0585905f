"""The docs pages of every service name no outside URL, and every file they name is served.

FastAPI's own ``/docs`` and ``/redoc`` load Swagger UI, ReDoc, ReDoc's Google fonts and a favicon
from outside hosts; on an isolated network they are blank (services/common/docs.py). The browser
half of this check is tests/test_docs_chromium.py.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from services.common.settings import SETTINGS_CLASSES

SERVICES = ("registry", "metrics", "assessment", "permits")
ABSOLUTE = re.compile(r"https?://[^\s\"'<>)]+", re.IGNORECASE)
# What the pages load: <link href>, <script src>, ReDoc's spec-url, Swagger UI's `url:` and the
# OAuth2 redirect it names (as `window.location.origin + '<path>'`).
REFERENCED = re.compile(r"""(?:href|src|spec-url)="([^"]+)"|\burl: '([^']+)'|oauth2RedirectUrl: [^']*'([^']+)'""")
CONTENT_TYPES = {
    ".js": {"text/javascript", "application/javascript"},
    ".css": {"text/css"},
    ".png": {"image/png"},
    ".json": {"application/json"},
    "oauth2-redirect": {"text/html"},
}


@pytest.fixture(params=SERVICES)
async def client(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    """The service's app over ASGI, without its lifespan: the docs read no database."""
    service: str = request.param
    settings = SETTINGS_CLASSES[service](env="test", data_dir=tmp_path, jwt_secret="d" * 48, rate_limit="off")  # type: ignore[arg-type]
    app = importlib.import_module(f"services.{service}.main").create_app(settings)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url=f"http://{service}.test") as http:
        yield http


def referenced(html: str) -> list[str]:
    return [next(g for g in m.groups() if g) for m in REFERENCED.finditer(html)]


def kind(url: str) -> str:
    return "oauth2-redirect" if url.endswith("/oauth2-redirect") else Path(url).suffix


class TestTheDocsPagesNameNothingOutside:
    @pytest.mark.parametrize("page", ["/docs", "/redoc"])
    async def test_no_absolute_url_but_the_services_own(self, client: httpx.AsyncClient, page: str) -> None:
        answer = await client.get(page)
        assert answer.status_code == 200
        assert answer.headers["content-type"].startswith("text/html")
        own = str(client.base_url).rstrip("/")
        assert [u for u in ABSOLUTE.findall(answer.text) if not u.startswith(f"{own}/")] == []

    @pytest.mark.parametrize(
        ("page", "expected"),
        [
            # Worked from the pages FastAPI builds with the URLs services/common/docs.py gives it.
            (
                "/docs",
                [
                    "/docs/assets/swagger-ui.css",
                    "/docs/assets/favicon.png",
                    "/docs/assets/swagger-ui-bundle.js",
                    "/openapi.json",
                    "/docs/oauth2-redirect",
                ],
            ),
            ("/redoc", ["/docs/assets/favicon.png", "/openapi.json", "/docs/assets/redoc.standalone.js"]),
        ],
    )
    async def test_every_file_the_page_names_is_served_with_its_type(
        self, client: httpx.AsyncClient, page: str, expected: list[str]
    ) -> None:
        html = (await client.get(page)).text
        names = referenced(html)
        assert sorted(names) == sorted(expected)
        for url in names:
            answer = await client.get(url)
            assert answer.status_code == 200, url
            media_type = answer.headers["content-type"].split(";")[0].strip()
            assert media_type in CONTENT_TYPES[kind(url)], (url, media_type)
            assert answer.content, url

    async def test_redoc_asks_for_no_web_font(self, client: httpx.AsyncClient) -> None:
        html = (await client.get("/redoc")).text
        assert "fonts.googleapis" not in html
        # FastAPI's default links Google's fonts too; here only the favicon is linked.
        assert re.findall(r"<link [^>]*>", html) == ['<link rel="shortcut icon" href="/docs/assets/favicon.png">']

    async def test_an_unknown_asset_is_a_problem_not_a_listing(self, client: httpx.AsyncClient) -> None:
        for url in ("/docs/assets/", "/docs/assets/nope.js"):
            answer = await client.get(url)
            assert answer.status_code == 404, url
            assert answer.headers["content-type"].startswith("application/problem+json"), url
