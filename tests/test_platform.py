"""What every service shares: health, readiness, auth, problems, limits, OpenAPI, request ids."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
import pytest

from libs.domain.clients.registry import FakeRegistryClient, RegistryClient
from libs.domain.registry.contracts import ZoneRead
from services.assessment.api import registry_client
from services.common.migrations import upgrade
from services.common.security import issue_token
from tests.conftest import TEST_SECRET, auth
from tests.helpers import TcpProxy, assert_problem, free_port

SERVICES = ("registry", "metrics", "assessment", "permits")


@pytest.mark.parametrize("service", SERVICES)
class TestEveryServiceAnswersHealthAndDocs:
    async def test_healthz_and_readyz_need_no_token(self, app_client: Any, service: str) -> None:
        async with app_client(service) as client:
            health = await client.get("/healthz")
            ready = await client.get("/readyz")
        assert health.json() == {"status": "ok", "service": service}
        assert ready.status_code == 200
        assert ready.json()["status"] == "ready"

    async def test_openapi_declares_problem_responses_and_public_marks(self, app_client: Any, service: str) -> None:
        async with app_client(service) as client:
            spec = (await client.get("/openapi.json")).json()
            docs = await client.get("/docs")
        assert docs.status_code == 200
        operations = [op for path in spec["paths"].values() for op in path.values()]
        assert operations
        for op in operations:
            assert "422" in op["responses"] or (not op.get("parameters") and "requestBody" not in op)
            public = op.get("x-devzones-public", False)
            secured = bool(op.get("security"))
            assert public != secured, f"{op.get('operationId')}: a route is either public or secured"

    async def test_unknown_route_and_wrong_method_are_problems(self, app_client: Any, service: str) -> None:
        async with app_client(service) as client:
            assert_problem(await client.get("/v1/no-such-thing"), 404)
            assert_problem(await client.delete("/healthz"), 405)

    async def test_request_id_is_echoed_or_made(self, app_client: Any, service: str) -> None:
        async with app_client(service) as client:
            given = await client.get("/healthz", headers={"X-Request-ID": "abc-123"})
            made = await client.get("/healthz")
        assert given.headers["x-request-id"] == "abc-123"
        assert len(made.headers["x-request-id"]) == 32


class TestAuthentication:
    async def test_no_token_is_401_problem(self, app_client: Any) -> None:
        async with app_client("registry") as client:
            r = await client.post(
                "/v1/divisions", json={"code": "130705", "name": "宣化区", "valid_from": "2016-01-07"}
            )
        body = assert_problem(r, 401)
        assert r.headers["www-authenticate"].startswith("Bearer")
        assert "Authorization" in body["detail"]

    async def test_forged_and_expired_tokens_are_401(self, app_client: Any) -> None:
        forged = issue_token("another-key-" + "y" * 40, sub="x", roles=["city_admin"])
        expired = issue_token(TEST_SECRET, sub="x", roles=["city_admin"], ttl_seconds=-10)
        async with app_client("registry") as client:
            for token in (forged, expired, "not-a-jwt"):
                r = await client.post("/v1/divisions", json={}, headers={"Authorization": f"Bearer {token}"})
                assert_problem(r, 401)

    async def test_valid_token_without_role_is_403(self, app_client: Any) -> None:
        async with app_client("registry") as client:
            r = await client.post(
                "/v1/divisions",
                json={"code": "130705", "name": "宣化区", "valid_from": "2016-01-07"},
                headers=auth("county", division="130705"),
            )
        assert assert_problem(r, 403)["required_roles"] == ["city_admin"]

    async def test_role_without_its_scope_claim_is_403(self, app_client: Any) -> None:
        async with app_client("permits") as client:
            r = await client.put(
                "/v1/calendar/days/2026-10-09", json={"working": False}, headers=auth("bureau_admin")
            )  # no zone claim
        assert "zone" in assert_problem(r, 403)["detail"]


class TestBadInputIsAProblemNeverA500:
    async def test_validation_error_names_each_bad_field(self, app_client: Any) -> None:
        async with app_client("registry") as client:
            r = await client.post(
                "/v1/divisions", json={"code": "12", "valid_from": "yesterday"}, headers=auth("city_admin")
            )
        body = assert_problem(r, 422)
        locs = {tuple(e["loc"]) for e in body["errors"]}
        assert {("body", "code"), ("body", "name"), ("body", "valid_from")} <= locs

    async def test_malformed_json_is_422(self, app_client: Any) -> None:
        async with app_client("registry") as client:
            r = await client.post(
                "/v1/divisions",
                content=b"{not json",
                headers={**auth("city_admin"), "content-type": "application/json"},
            )
        assert_problem(r, 422)

    async def test_bad_cursor_is_422(self, app_client: Any) -> None:
        async with app_client("registry") as client:
            r = await client.get("/v1/divisions", params={"cursor": "%%%not-base64"})
        assert assert_problem(r, 422)["errors"][0]["loc"] == ["query", "cursor"]

    async def test_limit_above_maximum_is_422(self, app_client: Any) -> None:
        async with app_client("registry") as client:
            r = await client.get("/v1/divisions", params={"limit": 100000})
        assert_problem(r, 422)

    async def test_declared_oversized_body_is_413(self, app_client: Any) -> None:
        async with app_client("registry", max_body_bytes=1000) as client:
            r = await client.post(
                "/v1/divisions", content=b"x" * 5000, headers={**auth("city_admin"), "content-type": "application/json"}
            )
        assert assert_problem(r, 413)["limit_bytes"] == 1000

    async def test_streamed_oversized_body_is_413(self, app_client: Any) -> None:
        async def chunks() -> Any:
            for _ in range(10):
                yield b"x" * 500

        async with app_client("registry", max_body_bytes=1000) as client:
            r = await client.post(
                "/v1/divisions", content=chunks(), headers={**auth("city_admin"), "content-type": "application/json"}
            )
        assert_problem(r, 413)

    async def test_an_id_beyond_64_bits_is_422(self, app_client: Any) -> None:
        async with app_client("assessment") as client:
            r = await client.get("/v1/summons", params={"assessment_id": 10**30}, headers=auth("city_admin"))
        # a run id is a SerialId (at most 2^62), so the schema refuses it before the database sees it
        problem = assert_problem(r, 422)
        assert problem["type"] == "urn:devzones:problem:validation"
        assert problem["errors"][0]["loc"] == ["query", "assessment_id"]

    async def test_a_nul_character_is_never_a_500(self, app_client: Any, backend: str) -> None:
        body = {"code": "130799", "name": "甲\u0000县", "valid_from": "2000-01-01"}
        async with app_client("registry") as client:
            r = await client.post("/v1/divisions", json=body, headers=auth("city_admin"))
        if backend == "postgresql":  # PostgreSQL text cannot hold NUL; SQLite stores it
            assert assert_problem(r, 422)["type"] == "urn:devzones:problem:value-out-of-range"
        else:
            assert r.status_code == 201, r.text

    async def test_a_path_id_with_control_characters_reaches_upstream_escaped(self, app_client: Any) -> None:
        async with app_client("assessment") as client:
            r = await client.get("/v1/zones/a%09b%02c/outcomes", headers=auth("city_admin"))
        assert r.status_code in (404, 503), r.text  # the registry's answer (or its absence), never a 500
        assert_problem(r, r.status_code)

    async def test_unexpected_error_is_500_without_internals(self, app_client: Any) -> None:
        def broken() -> Any:
            raise RuntimeError("SELECT password FROM secrets WHERE id = 1")

        async with app_client("assessment", overrides={registry_client: broken}) as client:
            r = await client.get("/v1/zones/abc/outcomes")
        body = assert_problem(r, 500)
        assert "SELECT" not in r.text and "Traceback" not in r.text and "RuntimeError" not in r.text
        assert body["detail"]


class TestServiceToServiceCalls:
    async def test_known_zone_answers_through_the_client(self, app_client: Any) -> None:
        zone = ZoneRead.model_validate(
            {
                "id": "z1",
                "name": "河北宣化经济开发区",
                "kind": "economic",
                "level": "provincial",
                "status": "active",
                "authority": "130705",
                "valid_from": "2016-10-14",
            }
        )
        fake = FakeRegistryClient([zone])
        async with app_client("assessment", overrides={registry_client: lambda: fake}) as client:
            ok = await client.get("/v1/zones/z1/outcomes")
            missing = await client.get("/v1/zones/z2/outcomes")
        assert ok.status_code == 200 and ok.json() == {"items": [], "next_cursor": None}
        assert_problem(missing, 404)
        assert fake.calls == [("get_zone", "z1"), ("get_zone", "z2")]

    async def test_registry_down_is_503_quickly(self, app_client: Any) -> None:
        port = free_port()  # nothing listens there

        def down_client() -> RegistryClient:
            return RegistryClient(httpx.AsyncClient(), f"http://127.0.0.1:{port}")

        async with app_client("assessment", overrides={registry_client: down_client}) as client:
            started = time.monotonic()
            r = await client.get("/v1/zones/z1/outcomes")
        assert assert_problem(r, 503)["service"] == "registry"
        assert time.monotonic() - started < 10

    async def test_request_id_is_passed_downstream(self) -> None:
        seen: list[str | None] = []

        def handler(request: httpx.Request) -> httpx.Response:
            seen.append(request.headers.get("x-request-id"))
            return httpx.Response(404, json={"status": 404, "title": "Not found", "detail": "no"})

        from libs.domain.clients.base import request_id_var
        from libs.domain.kernel.errors import NotFound

        token = request_id_var.set("rid-42")
        try:
            client = RegistryClient(httpx.AsyncClient(transport=httpx.MockTransport(handler)), "http://registry")
            with pytest.raises(NotFound):
                await client.get_zone("z9")
        finally:
            request_id_var.reset(token)
        assert seen == ["rid-42"]


class TestReadiness:
    async def test_unmigrated_database_is_not_ready_until_migrated(
        self, app_client: Any, databases: Any, backend: str, tmp_path: Any
    ) -> None:
        url = (
            f"sqlite+aiosqlite:///{tmp_path / 'fresh.db'}"
            if backend == "sqlite"
            else databases.new_pg_database("fresh")
        )
        async with app_client("registry", database_url=url) as client:
            before = await client.get("/readyz")
            await upgrade("registry", url)
            after = await client.get("/readyz")
        assert "expected" in assert_problem(before, 503)["detail"]
        assert after.status_code == 200

    # An embedded SQLite file cannot become unreachable the way a database server can: PostgreSQL only.
    @pytest.mark.parametrize("backend", ["postgresql"])
    async def test_database_outage_turns_503_and_back_without_restart(
        self, app_client: Any, databases: Any, backend: str
    ) -> None:
        url = databases.url("registry", "postgresql")
        host_port, _name = url.rsplit("@", 1)[1].split("/", 1)
        host, port = host_port.split(":")
        proxy = TcpProxy(host, int(port))
        await proxy.start()
        proxied = url.replace(host_port, f"127.0.0.1:{proxy.port}")
        async with app_client("registry", database_url=proxied) as client:
            assert (await client.get("/readyz")).status_code == 200
            await proxy.stop()
            down = await client.get("/readyz")
            await proxy.start()
            back = None
            for _ in range(20):
                back = await client.get("/readyz")
                if back.status_code == 200:
                    break
                await asyncio.sleep(0.25)
        assert_problem(down, 503)
        assert back is not None and back.status_code == 200


class TestSigningKeys:
    @pytest.mark.parametrize("secret", [None, "changeme", "short-key"])
    @pytest.mark.parametrize("env", ["production", "test"])
    def test_outside_development_a_weak_or_missing_key_refuses_to_start(self, env: str, secret: str | None) -> None:
        from services.common.security import InsecureConfiguration
        from services.common.settings import RegistrySettings
        from services.registry.main import create_app

        with pytest.raises(InsecureConfiguration):
            create_app(RegistrySettings(env=env, jwt_secret=secret))  # type: ignore[arg-type]

    def test_a_strong_key_starts(self) -> None:
        from services.common.settings import RegistrySettings
        from services.registry.main import create_app

        app = create_app(RegistrySettings(env="production", jwt_secret="s" * 48))  # type: ignore[arg-type]
        assert app.state.runtime.signing_key == "s" * 48

    def test_development_creates_a_private_key_file(self, tmp_path: Any) -> None:
        from services.common.security import dev_secret

        key = dev_secret(tmp_path)
        assert len(key) >= 32
        assert (tmp_path / "jwt-secret").stat().st_mode & 0o777 == 0o600
        assert dev_secret(tmp_path) == key


class TestBrowsersAndScrapers:
    async def test_cors_is_off_by_default_and_configurable(self, app_client: Any) -> None:
        preflight = {"Origin": "https://ui.example.gov.cn", "Access-Control-Request-Method": "GET"}
        async with app_client("registry") as closed:
            denied = await closed.options("/v1/zones", headers=preflight)
        async with app_client("registry", cors_origins=["https://ui.example.gov.cn"]) as opened:
            allowed = await opened.options("/v1/zones", headers=preflight)
            simple = await opened.get("/healthz", headers={"Origin": "https://ui.example.gov.cn"})
        assert "access-control-allow-origin" not in denied.headers
        assert allowed.headers["access-control-allow-origin"] == "https://ui.example.gov.cn"
        assert simple.headers["access-control-expose-headers"]

    async def test_prometheus_metrics_count_requests_by_route(self, app_client: Any) -> None:
        async with app_client("metrics") as client:
            await client.get("/healthz")
            text = (await client.get("/metrics")).text
        assert 'http_requests_total{method="GET",route="/healthz",service="metrics",status="200"} 1.0' in text


class TestOpenTelemetrySetting:
    """FastAPI's native OpenTelemetry instrumentation follows ``DEVZONES_OTEL`` (off by default)."""

    def test_off_by_default(self, monkeypatch: pytest.MonkeyPatch) -> None:
        from services.common.settings import RegistrySettings
        from services.registry.main import create_app

        monkeypatch.delenv("DEVZONES_OTEL", raising=False)
        config = create_app(RegistrySettings(env="development"))._telemetry
        assert (config["tracing"], config["metrics"], config["logs"]) == (False, False, False)

    def test_on_when_asked(self, monkeypatch: pytest.MonkeyPatch) -> None:
        from services.common.settings import RegistrySettings
        from services.registry.main import create_app

        monkeypatch.setenv("DEVZONES_OTEL", "true")
        config = create_app(RegistrySettings(env="development"))._telemetry
        assert (config["tracing"], config["metrics"], config["logs"]) == (True, True, True)
