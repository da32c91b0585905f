"""``/docs`` and ``/redoc`` render in a real browser that can reach nothing but the service.

Each service runs as ``devzones serve`` would run it (uvicorn on a free port). Headless Chromium
resolves no host name but 127.0.0.1 and sends everything else to a proxy on a port nobody
listens on, so a page that needed a CDN, a web font or an outside favicon would stay blank or
ask for it: the test requires the operations drawn and every request the page made to have
gone to the service.

Without ``/usr/bin/chromium`` these tests fail under CI (``.ci/run`` installs it and exports
``CI=true``) and are skipped elsewhere, with the command that installs it (docs/testing.md).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.chromium import CHROMIUM, INSTALL_HINT, Chromium
from tests.helpers import free_port

SERVICES = ("registry", "metrics", "assessment", "permits")
METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}

# Swagger UI draws one .opblock per operation (FastAPI's default "list" expansion: every tag open,
# every operation folded), with its summary in .opblock-summary-description.
SWAGGER_OPERATIONS = """
[...document.querySelectorAll('#swagger-ui .opblock')].map(b => ({
  method: (b.querySelector('.opblock-summary-method') || {}).textContent,
  path: (b.querySelector('.opblock-summary-path') || {}).textContent,
  summary: (b.querySelector('.opblock-summary-description') || {}).textContent,
}))
"""
# ReDoc draws a section per operation (data-section-id "tag/<tag>/operation/<id>", holding one more
# for "operation/<id>") with its summary as h2: the outermost of each pair, once per operation.
REDOC_OPERATIONS = """
[...document.querySelectorAll('[data-section-id*="operation/"]')]
  .filter(s => !s.parentElement.closest('[data-section-id*="operation/"]'))
  .map(s => (s.querySelector('h2') || {}).textContent)
"""
OUTSIDE = "https://cdn.jsdelivr.net/npm/swagger-ui-dist@5/swagger-ui.css"
TRY_OUTSIDE = f"fetch('{OUTSIDE}').then(() => 'reached', () => 'blocked')"


@pytest.fixture(scope="module")
def browser() -> Iterator[Chromium]:
    if not CHROMIUM.exists():
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is missing under CI: {INSTALL_HINT}")
        pytest.skip(f"{CHROMIUM} is not installed; to run these tests: {INSTALL_HINT}")
    dead = free_port()  # nothing listens here: the proxy every request but the service's must use
    offline = [
        "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
        f"--proxy-server=http://127.0.0.1:{dead}",
        "--proxy-bypass-list=127.0.0.1",
    ]
    with Chromium(width=1200, height=900, extra_args=offline) as chromium:
        chromium.page("Network.enable")
        yield chromium


@pytest.fixture(scope="module", params=SERVICES)
def served(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The service as ``devzones serve`` runs it, on a free port; its base URL."""
    service: str = request.param
    data_dir = tmp_path_factory.mktemp(f"docs-{service}")
    port = free_port()
    env = {**os.environ, "DEVZONES_ENV": "development", "DEVZONES_LOG_JSON": "true"}
    env.pop("DEVZONES_JWT_SECRET", None)
    env.pop(f"{service.upper()}_DATABASE_URL", None)  # its SQLite default in data_dir: /docs reads no table
    log = (data_dir / "serve.log").open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "services.cli", "serve", service, "--port", str(port), "--data-dir", str(data_dir)],
        stdout=log,
        stderr=subprocess.STDOUT,
        env=env,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_alive(url, proc, data_dir / "serve.log")
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def _wait_alive(url: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    with httpx.Client(timeout=2) as http:
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise AssertionError(f"the service exited ({proc.returncode}):\n{log.read_text()[-3000:]}")
            try:
                if http.get(f"{url}/healthz").status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
    raise AssertionError(f"the service did not answer in 60 s:\n{log.read_text()[-3000:]}")


def operations(url: str) -> list[dict[str, Any]]:
    """Every operation of the service's OpenAPI, as the docs should draw it."""
    spec = httpx.get(f"{url}/openapi.json", timeout=10).json()
    return [
        {"method": method.upper(), "path": path, "summary": op.get("summary", "")}
        for path, ops in spec["paths"].items()
        for method, op in ops.items()
        if method in METHODS
    ]


def requests_made(browser: Chromium, since: int) -> list[str]:
    return [e["params"]["request"]["url"] for e in browser.events[since:] if e["method"] == "Network.requestWillBeSent"]


def outside(urls: list[str], url: str) -> list[str]:
    return [u for u in urls if not (u.startswith(f"{url}/") or u.startswith(("data:", "blob:")))]


class TestTheDocsRenderWithNoNetworkButTheService:
    def test_the_browser_cannot_reach_outside(self, browser: Chromium, served: str) -> None:
        # The control for the two tests below: a page's fetch of a CDN file fails here.
        browser.navigate(f"{served}/healthz")
        assert browser.evaluate(TRY_OUTSIDE) == "blocked"

    def test_swagger_ui_draws_every_operation_from_the_services_own_files(self, browser: Chromium, served: str) -> None:
        expected = operations(served)
        since = len(browser.events)
        browser.navigate(f"{served}/docs")
        count = len(expected)
        drawn = browser.wait_for(f"(() => {{ const o = {SWAGGER_OPERATIONS}; return o.length >= {count} && o; }})()")
        assert drawn, "Swagger UI drew no operation"
        # Swagger UI breaks long paths with zero-width spaces (U+200B) and trims summaries.
        seen = {(d["method"], d["path"].replace("\u200b", ""), d["summary"].strip()) for d in drawn}
        assert seen == {(e["method"], e["path"], e["summary"].strip()) for e in expected}
        made = requests_made(browser, since)
        assert f"{served}/docs/assets/swagger-ui-bundle.js" in made
        assert f"{served}/openapi.json" in made
        assert outside(made, served) == []

    def test_redoc_draws_every_operation_from_the_services_own_files(self, browser: Chromium, served: str) -> None:
        expected = operations(served)
        since = len(browser.events)
        browser.navigate(f"{served}/redoc")
        count = len(expected)
        drawn = browser.wait_for(f"(() => {{ const o = {REDOC_OPERATIONS}; return o.length >= {count} && o; }})()")
        assert drawn, "ReDoc drew no operation"
        assert sorted(s.strip() for s in drawn) == sorted(e["summary"].strip() for e in expected)
        made = requests_made(browser, since)
        assert f"{served}/docs/assets/redoc.standalone.js" in made
        assert outside(made, served) == []
