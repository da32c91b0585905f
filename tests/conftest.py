"""Shared test fixtures.

Every test that touches a database runs twice: on SQLite and on PostgreSQL
(``TEST_POSTGRES_URL``, default the local server). Each service gets one migrated database
per backend per test session; every test then starts from empty tables (they are emptied
after each test), so tests are isolated while the app commits for real.

Without a reachable PostgreSQL the PostgreSQL half skips with the reason; with ``CI=true``
it fails instead.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import importlib
import os
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text

from libs.domain.kernel.values import Role
from services.common.migrations import upgrade
from services.common.security import issue_token
from services.common.settings import SETTINGS_CLASSES

DEFAULT_PG = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
TEST_SECRET = "test-secret-" + "x" * 40
BACKENDS = ("sqlite", "postgresql")


def pg_admin_url() -> str:
    return os.environ.get("TEST_POSTGRES_URL") or DEFAULT_PG


def _asyncpg_dsn(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)


async def _pg_execute(sql: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(_asyncpg_dsn(pg_admin_url()), timeout=5)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def run_sync(coro_factory: Callable[[], Any]) -> Any:
    """Run a coroutine to completion from sync code, even inside a running event loop."""
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(lambda: asyncio.run(coro_factory())).result()


class Databases:
    """Creates (once per session) a migrated database per service and backend."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.urls: dict[tuple[str, str], str] = {}
        self.pg_created: list[str] = []
        self.pg_error: str | None = None
        self.pg_checked = False

    def pg_available(self) -> None:
        if not self.pg_checked:
            self.pg_checked = True
            try:
                run_sync(lambda: _pg_execute("SELECT 1"))
            except Exception as exc:
                self.pg_error = f"PostgreSQL at {pg_admin_url()} unreachable: {type(exc).__name__}: {exc}"
        if self.pg_error:
            if os.environ.get("CI", "").lower() == "true":
                pytest.fail(self.pg_error + " (CI=true: PostgreSQL tests may not skip)")
            pytest.skip(self.pg_error)

    def url(self, service: str, backend: str) -> str:
        key = (service, backend)
        if key not in self.urls:
            if backend == "sqlite":
                url = f"sqlite+aiosqlite:///{self.tmp / f'{service}.db'}"
            else:
                self.pg_available()
                name = f"dz_test_{service}_{uuid.uuid4().hex[:10]}"
                run_sync(lambda: _pg_execute(f'CREATE DATABASE "{name}"'))
                self.pg_created.append(name)
                base = pg_admin_url().rsplit("/", 1)[0]
                url = f"{base}/{name}"
            run_sync(lambda: upgrade(service, url))
            self.urls[key] = url
        return self.urls[key]

    def new_pg_database(self, prefix: str) -> str:
        """An empty extra PostgreSQL database, dropped at the end of the session."""
        self.pg_available()
        name = f"dz_test_{prefix}_{uuid.uuid4().hex[:10]}"
        run_sync(lambda: _pg_execute(f'CREATE DATABASE "{name}"'))
        self.pg_created.append(name)
        return f"{pg_admin_url().rsplit('/', 1)[0]}/{name}"

    def drop_all(self) -> None:
        for name in self.pg_created:
            sql = f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'
            with contextlib.suppress(Exception):  # best effort cleanup
                run_sync(lambda sql=sql: _pg_execute(sql))


@pytest.fixture(scope="session")
def databases(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Databases]:
    dbs = Databases(tmp_path_factory.mktemp("db"))
    yield dbs
    dbs.drop_all()


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def make_token(role: Role | str, *, sub: str | None = None, ttl: int = 86_400, **scope: str | None) -> str:
    """A token signed with the test key, valid for a day: many test modules make theirs when they
    are collected, and a whole run on a slow machine has taken longer than ten minutes."""
    roles = [Role(r) for r in str(role).split(",")]
    return issue_token(TEST_SECRET, sub=sub or f"test-{role}", roles=roles, ttl_seconds=ttl, **scope)


def auth(role: Role | str, **scope: str | None) -> dict[str, str]:
    """Authorization header for a test token."""
    return {"Authorization": f"Bearer {make_token(role, **scope)}"}


async def _empty_tables(app: FastAPI, service: str) -> None:
    module = importlib.import_module(f"services.{service}.tables")
    tables = list(reversed(module.Base.metadata.sorted_tables))
    db = app.state.runtime.db
    async with db.engine.begin() as conn:
        if db.sqlite:
            for table in tables:
                await conn.execute(table.delete())
            await conn.execute(text("DELETE FROM sqlite_sequence")) if await _has_sqlite_sequence(conn) else None
        else:
            names = ", ".join(f'"{t.name}"' for t in tables)
            await conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))


async def _has_sqlite_sequence(conn: Any) -> bool:
    row = await conn.execute(text("SELECT name FROM sqlite_master WHERE name='sqlite_sequence'"))
    return row.first() is not None


AppFactory = Callable[..., Any]


@pytest.fixture
def settings_for(databases: Databases, backend: str, tmp_path: Path) -> Callable[..., Any]:
    """Settings of ``service`` on the current backend's test database."""

    def _make(service: str, **overrides: Any) -> Any:
        values: dict[str, Any] = {
            "env": "test",
            "data_dir": tmp_path,
            "jwt_secret": TEST_SECRET,
            "database_url": databases.url(service, backend),
            "log_json": True,
            "rate_limit": "off",  # tests make bursts of calls on purpose; tests/test_ratelimit.py turns it on
        }
        values.update(overrides)
        return SETTINGS_CLASSES[service](**values)

    return _make


@pytest.fixture
def app_client(settings_for: Callable[..., Any]) -> Callable[..., Any]:
    """``async with app_client("registry") as client``: the app with its lifespan, over ASGI."""

    @asynccontextmanager
    async def _client(
        service: str, *, overrides: dict[Any, Any] | None = None, **settings: Any
    ) -> AsyncIterator[httpx.AsyncClient]:
        module = importlib.import_module(f"services.{service}.main")
        app: FastAPI = module.create_app(settings_for(service, **settings))
        if overrides:
            app.dependency_overrides.update(overrides)
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
            # The suite reads the English prose of problems (its assertions predate the Chinese
            # default); tests/common/test_languages.py holds the Chinese default and the choice.
            async with httpx.AsyncClient(
                transport=transport, base_url=f"http://{service}.test", headers={"Accept-Language": "en"}
            ) as client:
                client.app = app  # type: ignore[attr-defined]
                try:
                    yield client
                finally:
                    await _empty_tables(app, service)

    return _client
