"""How ``devzones backup`` and ``restore`` call PostgreSQL's tools and check a backup
(services/common/pgtools.py, services/common/backup.py), without a database."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from services.common.backup import FORMAT, check_backup, read_manifest
from services.common.pgtools import BackupError, libpq, tool


class TestTheLibpqConnection:
    def test_the_password_leaves_the_url_for_the_environment(self) -> None:
        conn = libpq("postgresql+asyncpg://registry:p%40ss%2Fw%20rd@db.internal:5433/registry")
        assert conn.url == "postgresql://registry@db.internal:5433/registry"
        assert conn.env["PGPASSWORD"] == "p@ss/w rd"

    def test_without_a_password_none_is_inherited(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("PGPASSWORD", "someone-elses")
        conn = libpq("postgresql+asyncpg://postgres@127.0.0.1:5432/test")
        assert conn.url == "postgresql://postgres@127.0.0.1:5432/test"
        assert "PGPASSWORD" not in conn.env

    def test_asyncpgs_ssl_parameter_becomes_libpqs_sslmode(self) -> None:
        assert libpq("postgresql+asyncpg://u@h/d?ssl=require").url == "postgresql://u@h/d?sslmode=require"
        assert libpq("postgresql+asyncpg://u@h/d?ssl=true").url == "postgresql://u@h/d?sslmode=require"

    def test_a_sqlite_url_is_not_one(self) -> None:
        with pytest.raises(ValueError):
            libpq("sqlite+aiosqlite:///var/registry.db")


def _fake_tool(folder: Path, name: str, version: str) -> Path:
    folder.mkdir(exist_ok=True)
    path = folder / name
    path.write_text(f"#!/bin/sh\necho '{name} (PostgreSQL) {version}'\n", encoding="utf-8")
    path.chmod(0o755)
    return path


class TestTheToolsOfTheServersMajorVersion:
    def test_a_tool_of_the_same_major_version_is_taken(self, tmp_path: Path) -> None:
        path = _fake_tool(tmp_path / "bin", "pg_dump", "15.20 (Debian 15.20-0+deb12u1)")
        assert tool("pg_dump", 15, tmp_path / "bin") == path

    def test_another_major_version_is_refused_with_the_package_to_install(self, tmp_path: Path) -> None:
        _fake_tool(tmp_path / "bin", "pg_restore", "14.9")
        with pytest.raises(BackupError) as refused:
            tool("pg_restore", 15, tmp_path / "bin")
        assert "postgresql-client-15" in refused.value.text.zh
        assert "(14)" in refused.value.text.en

    def test_a_missing_tool_is_refused(self, tmp_path: Path) -> None:
        with pytest.raises(BackupError) as refused:
            tool("pg_dump", 15, tmp_path)
        assert refused.value.text.zh.startswith("找不到")


def _backup(tmp_path: Path, content: bytes, revision: str | None, **entry: object) -> Path:
    (tmp_path / "registry.sqlite").write_bytes(content)
    digest = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"  # sha256("test"), by hand
    manifest = {
        "format": FORMAT,
        "services": {
            "registry": {
                "backend": "sqlite",
                "file": "registry.sqlite",
                "revision": revision,
                "size": 4,
                "sha256": digest,
                **entry,
            },
        },
    }
    (tmp_path / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    return tmp_path


class TestABackupIsCheckedBeforeAnythingIsTouched:
    def test_an_intact_backup_passes(self, tmp_path: Path) -> None:
        src = _backup(tmp_path, b"test", None)
        check_backup(src, read_manifest(src), ["registry"])

    def test_a_changed_byte_is_found(self, tmp_path: Path) -> None:
        src = _backup(tmp_path, b"tesT", None)
        with pytest.raises(BackupError, match="SHA-256"):
            check_backup(src, read_manifest(src), ["registry"])

    def test_a_service_the_backup_lacks_is_refused(self, tmp_path: Path) -> None:
        src = _backup(tmp_path, b"test", None)
        with pytest.raises(BackupError, match="holds no permits"):
            check_backup(src, read_manifest(src), ["permits"])

    def test_a_revision_this_code_does_not_know_is_refused(self, tmp_path: Path) -> None:
        src = _backup(tmp_path, b"test", "29991231_0099")
        with pytest.raises(BackupError, match="newer version"):
            check_backup(src, read_manifest(src), ["registry"])

    def test_a_file_outside_the_backup_is_refused(self, tmp_path: Path) -> None:
        (tmp_path / "inner").mkdir()
        src = _backup(tmp_path / "inner", b"test", None, file="../registry.sqlite")
        (tmp_path / "registry.sqlite").write_bytes(b"test")
        with pytest.raises(BackupError, match="missing"):
            check_backup(src, read_manifest(src), ["registry"])

    def test_a_manifest_of_another_format_is_refused(self, tmp_path: Path) -> None:
        (tmp_path / "manifest.json").write_text(json.dumps({"format": "other", "services": {}}), encoding="utf-8")
        with pytest.raises(BackupError, match="format"):
            read_manifest(tmp_path)
        assert os.listdir(tmp_path) == ["manifest.json"]
