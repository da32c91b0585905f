"""The per-request cost of the shared service stack (middleware, problems, session, auth)
against a bare FastAPI endpoint, both served by one uvicorn worker on this machine."""

from __future__ import annotations

import tempfile
from pathlib import Path

from bench.harness import bare_server, ratio_line, server
from bench.rawload import load_raw


def run(size: str) -> None:
    total = 200 if size == "tiny" else 5000
    with tempfile.TemporaryDirectory() as tmp:
        env = {"DEVZONES_DATA_DIR": tmp, "DEVZONES_ENV": "development"}
        from services.common.migrations import upgrade_sync
        from services.common.settings import RegistrySettings

        upgrade_sync("registry", RegistrySettings(data_dir=Path(tmp)).resolved_database_url)
        with bare_server() as bare_url:
            bare = load_raw("bare FastAPI constant", bare_url, lambda i: "/constant", total=total)
        with server(["services.cli", "serve", "registry", "--data-dir", tmp], env=env) as url:
            health = load_raw("registry GET /healthz", url, lambda i: "/healthz", total=total)
            divisions = load_raw("registry GET /v1/divisions (SQLite)", url, lambda i: "/v1/divisions", total=total)
    print(bare.line())
    for result in (health, divisions):
        print(result.line())
        print(ratio_line(result, bare))
