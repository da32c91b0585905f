"""CORS for browser frontends: ``DEVZONES_CORS_ORIGINS`` and ``devzones up --cors-origin``.

Off unless origins are configured; an allowed origin's preflight and simple requests get the
headers (and the response headers its scripts may read), any other origin gets none.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import pytest
from pydantic import ValidationError

from services.cli import build_parser, up_environment
from services.common.settings import SETTINGS_CLASSES, RegistrySettings
from tests.conftest import auth

UI = "https://ui.example.gov.cn"
OTHER = "https://elsewhere.example.com"
# The lists of docs/api-conventions.md#cors, written out here (not read from the code).
EXPOSED = {"retry-after", "content-disposition", "etag", "location", "x-request-id", "idempotent-replayed"}
REQUEST_HEADERS = {"authorization", "content-type", "idempotency-key", "if-match", "x-request-id", "accept-language"}


def listed(value: str) -> set[str]:
    return {h.strip().lower() for h in value.split(",") if h.strip()}


def preflight(origin: str, method: str = "POST", headers: str = "authorization, content-type") -> dict[str, str]:
    return {"Origin": origin, "Access-Control-Request-Method": method, "Access-Control-Request-Headers": headers}


class TestAnAllowedOrigin:
    async def test_its_preflight_admits_the_method_and_every_documented_request_header(self, app_client: Any) -> None:
        async with app_client("registry", cors_origins=[UI]) as client:
            answer = await client.options(
                "/v1/reorganisations", headers=preflight(UI, "POST", ", ".join(sorted(REQUEST_HEADERS)))
            )
        assert answer.status_code == 200
        assert answer.headers["access-control-allow-origin"] == UI
        assert "post" in listed(answer.headers["access-control-allow-methods"])
        assert listed(answer.headers["access-control-allow-headers"]) >= REQUEST_HEADERS
        assert "access-control-allow-credentials" not in answer.headers  # bearer tokens, never cookies

    async def test_its_simple_request_gets_the_origin_and_the_exposed_headers(self, app_client: Any) -> None:
        async with app_client("registry", cors_origins=[UI]) as client:
            answer = await client.get("/v1/divisions", headers={"Origin": UI})
        assert answer.status_code == 200
        assert answer.headers["access-control-allow-origin"] == UI
        assert listed(answer.headers["access-control-expose-headers"]) == EXPOSED
        assert "access-control-allow-credentials" not in answer.headers

    async def test_a_rate_limited_answer_still_carries_the_headers_so_the_script_reads_retry_after(
        self, app_client: Any
    ) -> None:
        # The 429 is answered by the request context before any route: CORS must wrap it too,
        # or the browser reports a network error and hides Retry-After.
        async with app_client("registry", cors_origins=[UI], rate_limit="1/minute") as client:
            first = await client.get("/v1/divisions", headers={"Origin": UI, **auth("city_admin")})
            refused = await client.get("/v1/divisions", headers={"Origin": UI, **auth("city_admin")})
        assert (first.status_code, refused.status_code) == (200, 429)
        assert refused.headers["access-control-allow-origin"] == UI
        assert "retry-after" in listed(refused.headers["access-control-expose-headers"])
        assert int(refused.headers["retry-after"]) >= 1

    async def test_a_body_over_the_limit_is_a_413_the_script_can_read(self, app_client: Any) -> None:
        async with app_client("registry", cors_origins=[UI], max_body_bytes=16) as client:
            answer = await client.post(
                "/v1/divisions", content=b"x" * 17, headers={"Origin": UI, "Content-Type": "application/json"}
            )
        assert answer.status_code == 413
        assert answer.headers["access-control-allow-origin"] == UI


class TestAnotherOrigin:
    async def test_gets_no_cors_headers_on_a_simple_request_and_a_refused_preflight(self, app_client: Any) -> None:
        async with app_client("registry", cors_origins=[UI]) as client:
            simple = await client.get("/v1/divisions", headers={"Origin": OTHER})
            pre = await client.options("/v1/reorganisations", headers=preflight(OTHER))
        # CORS is enforced by the browser: without an allow-origin naming it, the script reads nothing
        # (Starlette sends its expose list to any Origin, which grants nothing alone).
        assert simple.status_code == 200
        assert "access-control-allow-origin" not in simple.headers
        assert pre.status_code == 400
        assert "access-control-allow-origin" not in pre.headers

    async def test_without_configured_origins_no_origin_gets_any(self, app_client: Any) -> None:
        async with app_client("registry") as client:
            simple = await client.get("/v1/divisions", headers={"Origin": UI})
            pre = await client.options("/v1/reorganisations", headers=preflight(UI))
        assert not any(h.startswith("access-control-") for h in simple.headers)
        assert "access-control-allow-origin" not in pre.headers


class TestTheSetting:
    @pytest.mark.parametrize(
        ("value", "expected"),
        [
            (f"{UI}, http://localhost:5173", [UI, "http://localhost:5173"]),
            (f'["{UI}", "http://[::1]:5173"]', [UI, "http://[::1]:5173"]),
            ("", []),
            ("HTTPS://UI.Example.gov.cn", [UI]),  # browsers send scheme and host in lower case
        ],
        ids=["comma-separated", "json-list", "empty", "lower-cased"],
    )
    def test_reads_comma_separated_or_json(
        self, monkeypatch: pytest.MonkeyPatch, value: str, expected: list[str]
    ) -> None:
        monkeypatch.setenv("DEVZONES_CORS_ORIGINS", value)
        assert RegistrySettings().cors_origins == expected

    @pytest.mark.parametrize("value", [f"{UI}/", f"{UI}/app", "ui.example.gov.cn", '["https://a.cn",'])
    def test_refuses_what_no_browser_would_send_as_origin(self, monkeypatch: pytest.MonkeyPatch, value: str) -> None:
        monkeypatch.setenv("DEVZONES_CORS_ORIGINS", value)
        with pytest.raises(ValidationError):
            RegistrySettings()


class TestDevzonesUpCorsOrigin:
    URLS: ClassVar[dict[str, str]] = {"registry": "http://127.0.0.1:8001"}

    def test_the_repeated_flag_reaches_every_services_settings(
        self, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
    ) -> None:
        args = build_parser().parse_args(["up", "--cors-origin", UI, "--cors-origin", "http://localhost:5173"])
        env = up_environment(args, {"DEVZONES_CORS_ORIGINS": OTHER}, tmp_path, self.URLS)
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        for service, settings_class in SETTINGS_CLASSES.items():
            # The flags replace the inherited setting, as --data-dir replaces DEVZONES_DATA_DIR.
            assert settings_class().cors_origins == [UI, "http://localhost:5173"], service

    async def test_a_service_started_with_that_environment_answers_the_origin(
        self, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, app_client: Any
    ) -> None:
        args = build_parser().parse_args(["up", "--cors-origin", UI])
        env = up_environment(args, {}, tmp_path, self.URLS)
        monkeypatch.setenv("DEVZONES_CORS_ORIGINS", env["DEVZONES_CORS_ORIGINS"])
        async with app_client("permits") as client:  # settings_for leaves cors_origins to the environment
            answer = await client.options("/v1/applications", headers=preflight(UI))
        assert answer.headers["access-control-allow-origin"] == UI

    def test_without_the_flag_the_inherited_setting_stays(self, tmp_path: Path) -> None:
        args = build_parser().parse_args(["up"])
        env = up_environment(args, {"DEVZONES_CORS_ORIGINS": OTHER}, tmp_path, self.URLS)
        assert env["DEVZONES_CORS_ORIGINS"] == OTHER

    def test_an_origin_with_a_path_is_refused_before_anything_starts(self) -> None:
        with pytest.raises(SystemExit) as refused:
            build_parser().parse_args(["up", "--cors-origin", f"{UI}/"])
        assert refused.value.code == 2
