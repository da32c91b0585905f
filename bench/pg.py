"""A throw-away PostgreSQL database for a benchmark (from TEST_POSTGRES_URL or the local server)."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg

DEFAULT = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"


def admin_url() -> str:
    return os.environ.get("TEST_POSTGRES_URL") or DEFAULT


def _dsn() -> str:
    return admin_url().replace("postgresql+asyncpg://", "postgresql://", 1)


async def create_database(prefix: str) -> str:
    """Create an empty database; return its SQLAlchemy URL."""
    name = f"dz_bench_{prefix}_{uuid.uuid4().hex[:8]}"
    conn = await asyncpg.connect(_dsn())
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return f"{admin_url().rsplit('/', 1)[0]}/{name}"


async def drop_database(url: str) -> None:
    """Drop a database made by :func:`create_database`."""
    name = url.rsplit("/", 1)[1]
    conn = await asyncpg.connect(_dsn())
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


@asynccontextmanager
async def temporary_database(prefix: str) -> AsyncIterator[str]:
    """Create a database, yield its SQLAlchemy URL, drop it afterwards (within one event loop)."""
    url = await create_database(prefix)
    try:
        yield url
    finally:
        await drop_database(url)
