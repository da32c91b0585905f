"""Alembic, driven programmatically: each service has its own history under ``migrations/``.

Migrations run on a connection of the async engine (alembic's "connection sharing" recipe),
so the same code upgrades PostgreSQL and SQLite, from the CLI or from a test's event loop.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from functools import cache
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncConnection

from services.common.db import make_engine

SERVICES_DIR = Path(__file__).resolve().parent.parent


def migrations_dir(service: str) -> Path:
    """The alembic script directory of ``service``."""
    return SERVICES_DIR / service / "migrations"


def alembic_config(service: str, url: str | None = None) -> Config:
    """An alembic ``Config`` for ``service`` without any ini file."""
    cfg = Config()
    cfg.set_main_option("script_location", str(migrations_dir(service)))
    cfg.set_main_option("path_separator", "os")
    cfg.set_main_option("version_locations", str(migrations_dir(service) / "versions"))
    if url:
        cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


@cache
def head_revision(service: str) -> str | None:
    """The head revision of ``service``'s migration history (read once per process)."""
    return ScriptDirectory.from_config(alembic_config(service)).get_current_head()


def current_revision(conn: Connection) -> str | None:
    """The revision the connected database is at (``None`` if never migrated)."""
    return MigrationContext.configure(conn).get_current_revision()


async def current_revision_async(conn: AsyncConnection) -> str | None:
    """Async wrapper of :func:`current_revision`."""
    return await conn.run_sync(current_revision)


async def _alembic(service: str, url: str, action: Callable[[Config, str], None], revision: str) -> None:
    """Run an alembic command on ``service``'s database at ``url`` over one async connection."""
    engine = make_engine(url)
    try:
        async with engine.begin() as conn:

            def _run(sync_conn: Connection) -> None:
                cfg = alembic_config(service, url)
                cfg.attributes["connection"] = sync_conn
                action(cfg, revision)

            await conn.run_sync(_run)
    finally:
        await engine.dispose()


async def upgrade(service: str, url: str, revision: str = "head") -> None:
    """Upgrade ``service``'s database at ``url`` to ``revision``."""
    await _alembic(service, url, command.upgrade, revision)


async def downgrade(service: str, url: str, revision: str = "base") -> None:
    """Downgrade ``service``'s database at ``url`` to ``revision``."""
    await _alembic(service, url, command.downgrade, revision)


def upgrade_sync(service: str, url: str) -> None:
    """Blocking :func:`upgrade`, for the command line."""
    asyncio.run(upgrade(service, url))
