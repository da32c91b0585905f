"""The deployment files agree with the code and with each other (static checks; the stack itself
is run by tests/deploy/test_stack.py)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from services.cli import build_parser
from services.common.settings import SERVICES, SETTINGS_CLASSES

REPO = Path(__file__).resolve().parent.parent
DEPLOY = REPO / "deploy"
GATEWAY_IP = "${DEVZONES_GATEWAY_IP:-172.30.0.10}"


def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    return loaded


class TestComposeFile:
    def test_every_service_is_served_behind_its_prefix_after_migration(self) -> None:
        services = compose()["services"]
        assert services["migrate"]["command"] == ["migrate", "all"]
        for name in SERVICES:
            spec = services[name]
            assert spec["command"] == ["serve", name, "--host", "0.0.0.0", "--port", "8000", "--root-path", f"/{name}"]
            assert spec["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
            assert spec["restart"] == "unless-stopped"
            assert "readyz" in " ".join(spec["healthcheck"]["test"])
            assert spec["stop_grace_period"] == "30s"
            assert spec["cpus"] and spec["mem_limit"]
            assert "ports" not in spec, f"{name} must be reached through the gateway only"

    def test_the_image_is_built_once_and_reused(self) -> None:
        services = compose()["services"]
        built = [name for name, spec in services.items() if "build" in spec]
        assert built == ["migrate"]
        image = services["migrate"]["image"]
        assert all(services[name]["image"] == image for name in SERVICES)

    def test_each_service_connects_as_its_own_role_to_its_own_database(self) -> None:
        services = compose()["services"]
        migrate_env = services["migrate"]["environment"]
        for name in SERVICES:
            env = services[name]["environment"]
            url = env[f"{name.upper()}_DATABASE_URL"]
            assert url == (
                f"postgresql+asyncpg://devzones_{name}:${{{name.upper()}_DB_PASSWORD}}@postgres:5432/devzones_{name}"
            )
            assert migrate_env[f"{name.upper()}_DATABASE_URL"] == url
            others = [f"{o.upper()}_DATABASE_URL" for o in SERVICES if o != name]
            assert not any(o in env for o in others), f"{name} is given another service's database"
            settings = SETTINGS_CLASSES[name](**{"database_url": url})
            assert settings.resolved_database_url.startswith("postgresql+asyncpg://")
            assert env["DEVZONES_ENV"] == "production"
            assert env["DEVZONES_FORWARDED_ALLOW_IPS"] == GATEWAY_IP
            assert "DEVZONES_DB_POOL_SIZE" in env
            for other in SERVICES:
                assert env[f"{other.upper()}_URL"] == f"http://{other}:8000"

    def test_no_secret_has_a_default(self) -> None:
        text = (DEPLOY / "compose.yaml").read_text()
        postgres = compose()["services"]["postgres"]["environment"]
        for var in ("POSTGRES_PASSWORD", *(f"{s.upper()}_DB_PASSWORD" for s in SERVICES)):
            assert re.search(r"\$\{" + var + r":\?[^}]+\}", postgres[var]), var
            assert not re.search(r"\$\{" + var + r":-", text), var
        # No signing key in the file: empty unless set, and the services refuse to start without it.
        assert "${DEVZONES_JWT_SECRET:-}" in text

    def test_the_gateway_is_the_only_way_in_at_the_trusted_address(self) -> None:
        services = compose()["services"]
        gateway = services["gateway"]
        assert gateway["ports"] == ["${DEVZONES_HTTP_BIND:-0.0.0.0}:${DEVZONES_HTTP_PORT:-8080}:8080"]
        assert gateway["networks"]["internal"]["ipv4_address"] == GATEWAY_IP
        assert gateway["user"] == "65534:65534"
        published = [name for name, spec in services.items() if "ports" in spec]
        assert published == ["gateway"]

    def test_the_debug_override_publishes_each_service(self) -> None:
        debug = yaml.safe_load((DEPLOY / "compose.debug.yaml").read_text())["services"]
        for name in SERVICES:
            assert debug[name]["ports"][0].endswith(f":800{SERVICES.index(name) + 1}:8000")


class TestGateway:
    def test_each_prefix_reaches_its_service_with_its_body_limit(self) -> None:
        conf = (DEPLOY / "gateway" / "locations.conf").read_text()
        for name in SERVICES:
            block = conf[conf.index(f"location /{name}/ {{") :]
            block = block[: block.index("}")]
            assert f"set $devzones_upstream {name}:8000;" in block
            assert f"rewrite ^/{name}(/.*)$ $1 break;" in block
            limit = int(re.search(r"client_max_body_size (\d+)m;", block).group(1))  # type: ignore[union-attr]
            assert limit * 1_048_576 == SETTINGS_CLASSES[name]().max_body_bytes, name

    def test_request_ids_forwarded_headers_and_gzip(self) -> None:
        conf = (DEPLOY / "gateway" / "nginx.conf").read_text()
        # One proxy_set_header in a location would drop all of these for it (nginx inherits them
        # only into a level that sets none).
        assert "proxy_set_header" not in (DEPLOY / "gateway" / "locations.conf").read_text().replace(
            "(no proxy_set_header here", ""
        )
        for header in ("X-Request-ID", "X-Forwarded-For", "X-Forwarded-Proto", "X-Forwarded-Host"):
            assert f"proxy_set_header {header} " in conf
        assert "gzip on;" in conf and "application/json" in conf
        # The id pattern the gateway passes on is the one the services accept.
        from services.common import middleware

        assert middleware._SAFE_ID.pattern == r"^[A-Za-z0-9._:\-]{1,128}$"
        assert '"~^[A-Za-z0-9._:-]{1,128}$" $http_x_request_id;' in conf

    def test_the_landing_page_links_every_service_docs(self) -> None:
        page = (DEPLOY / "gateway" / "index.html").read_text()
        for name in SERVICES:
            assert f'href="/{name}/docs"' in page and f'href="/{name}/openapi.json"' in page


class TestDatabases:
    def test_the_init_script_makes_one_role_and_database_per_service(self) -> None:
        script = (DEPLOY / "postgres-init.sh").read_text()
        assert f"for service in {' '.join(SERVICES)}; do" in script
        for statement in (
            "CREATE ROLE :\"name\" LOGIN PASSWORD :'password';",
            'CREATE DATABASE :"name" OWNER :"name";',
            'REVOKE ALL ON DATABASE :"name" FROM PUBLIC;',
        ):
            assert statement in script


class TestServeOptions:
    def test_proxy_and_root_path_options(self) -> None:
        args = build_parser().parse_args(
            ["serve", "permits", "--root-path", "/permits", "--forwarded-allow-ips", "172.30.0.10"]
        )
        assert (args.root_path, args.proxy_headers, args.forwarded_allow_ips) == ("/permits", True, "172.30.0.10")
        args = build_parser().parse_args(["serve", "permits", "--no-proxy-headers"])
        assert (args.root_path, args.proxy_headers) == ("", False)


class TestBuildContext:
    def test_dockerignore_keeps_only_what_the_image_needs(self) -> None:
        lines = [x for x in (REPO / ".dockerignore").read_text().splitlines() if x and not x.startswith("#")]
        assert lines[0] == "*"
        assert {"!pyproject.toml", "!README.md", "!libs/", "!services/"} <= set(lines)

    def test_env_example_lists_every_variable_compose_reads(self) -> None:
        names = set()
        for f in ("compose.yaml", "compose.debug.yaml", "compose.tls.yaml"):
            names |= set(re.findall(r"\$\{([A-Z0-9_]+)", (DEPLOY / f).read_text()))
        example = (DEPLOY / ".env.example").read_text()
        listed = set(re.findall(r"^([A-Z0-9_]+)=", example, flags=re.MULTILINE))
        assert names == listed
