"""The interactive docs (``/docs``: Swagger UI, ``/redoc``: ReDoc) served from files installed with the project.

FastAPI's own docs pages load Swagger UI, ReDoc, ReDoc's Google fonts and a favicon from outside
hosts, so on an isolated government network they are blank pages. The files come instead from the
``fastapi-offline`` package (MIT; it ships Swagger UI's bundle, Apache-2.0, and ReDoc's standalone
bundle, MIT), are served by each service under ``/docs/assets/``, and the pages FastAPI builds name
nothing else: no script, style, font or icon from another host (tests/test_docs.py,
tests/test_docs_chromium.py).
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

DOCS_URL = "/docs"
REDOC_URL = "/redoc"
ASSETS_URL = "/docs/assets"
OAUTH2_REDIRECT_URL = "/docs/oauth2-redirect"
ASSETS = Path(str(files("fastapi_offline") / "static"))
"""``swagger-ui-bundle.js``, ``swagger-ui.css``, ``redoc.standalone.js`` and ``favicon.png``."""


def install_docs(app: FastAPI) -> None:
    """Serve the docs pages and their assets on ``app``, built with ``docs_url=None, redoc_url=None``.

    Every URL a page names is relative to the service (prefixed with the ASGI ``root_path``, as
    FastAPI's own pages do, so the docs also work behind a proxy that mounts the service on a path)."""
    app.mount(ASSETS_URL, StaticFiles(directory=ASSETS), name="docs-assets")

    @app.get(DOCS_URL, include_in_schema=False, operation_id="getSwaggerUi")
    async def swagger_ui(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return get_swagger_ui_html(
            openapi_url=f"{root}{app.openapi_url}",
            title=f"{app.title} - Swagger UI",
            swagger_js_url=f"{root}{ASSETS_URL}/swagger-ui-bundle.js",
            swagger_css_url=f"{root}{ASSETS_URL}/swagger-ui.css",
            swagger_favicon_url=f"{root}{ASSETS_URL}/favicon.png",
            oauth2_redirect_url=f"{root}{OAUTH2_REDIRECT_URL}",
            init_oauth=app.swagger_ui_init_oauth,
            swagger_ui_parameters=app.swagger_ui_parameters,
        )

    @app.get(OAUTH2_REDIRECT_URL, include_in_schema=False, operation_id="getSwaggerOauth2Redirect")
    async def swagger_ui_oauth2_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()

    @app.get(REDOC_URL, include_in_schema=False, operation_id="getRedoc")
    async def redoc(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return get_redoc_html(
            openapi_url=f"{root}{app.openapi_url}",
            title=f"{app.title} - ReDoc",
            redoc_js_url=f"{root}{ASSETS_URL}/redoc.standalone.js",
            redoc_favicon_url=f"{root}{ASSETS_URL}/favicon.png",
            with_google_fonts=False,  # ReDoc falls back to the system's fonts (CJK included)
        )
