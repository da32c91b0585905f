"""The deployment files agree with the code (no container engine here: static checks only)."""

from __future__ import annotations

from pathlib import Path

import yaml

from services.common.settings import SERVICES, SETTINGS_CLASSES

DEPLOY = Path(__file__).resolve().parent.parent / "deploy"


class TestComposeFile:
    def test_every_service_is_served_after_migration(self) -> None:
        compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
        services = compose["services"]
        assert services["migrate"]["command"] == ["migrate", "all"]
        for name in SERVICES:
            spec = services[name]
            assert spec["command"][:2] == ["serve", name]
            assert spec["depends_on"]["migrate"]["condition"] == "service_completed_successfully"

    def test_environment_names_match_the_settings(self) -> None:
        compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
        env = compose["services"]["registry"]["environment"]
        for name in SERVICES:
            assert f"{name.upper()}_DATABASE_URL" in env
            assert f"{name.upper()}_URL" in env
            settings = SETTINGS_CLASSES[name](**{"database_url": env[f"{name.upper()}_DATABASE_URL"]})
            assert settings.resolved_database_url.startswith("postgresql+asyncpg://")
        assert env["DEVZONES_ENV"] == "production"
        assert "DEVZONES_JWT_SECRET" in env

    def test_each_service_database_is_created(self) -> None:
        sql = (DEPLOY / "postgres-init.sql").read_text()
        for name in SERVICES:
            assert f"CREATE DATABASE devzones_{name};" in sql
