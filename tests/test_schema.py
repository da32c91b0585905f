"""Each service's migrations build exactly the schema its tables declare, on both backends, and
every migration can be undone and done again.

The comparison is alembic's own (``compare_metadata``, what ``alembic revision --autogenerate``
would write): tables, columns and their types, nullability, indexes, unique and foreign keys. A
model changed without a migration, or a migration without its model, fails here.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import MetaData

from services.common.migrations import downgrade, upgrade
from services.common.settings import SERVICES
from tests.conftest import Databases
from tests.helpers import engine_at

# The outbox cursor's PostgreSQL-only types (pg_snapshot) reflect as unknown; they are compared as such.
pytestmark = pytest.mark.filterwarnings("ignore:Did not recognize type:sqlalchemy.exc.SAWarning")


def _metadata(service: str) -> MetaData:
    metadata: MetaData = importlib.import_module(f"services.{service}.tables").Base.metadata
    return metadata


async def _differences(url: str, metadata: MetaData) -> list[Any]:
    async with engine_at(url) as engine, engine.connect() as conn:
        return await conn.run_sync(
            lambda sync: compare_metadata(MigrationContext.configure(sync, opts={"compare_type": True}), metadata)
        )


@pytest.mark.parametrize("service", SERVICES)
async def test_the_migrated_schema_is_the_declared_one(databases: Databases, backend: str, service: str) -> None:
    assert await _differences(databases.url(service, backend), _metadata(service)) == []


@pytest.mark.parametrize("service", SERVICES)
async def test_every_migration_is_undone_and_done_again(
    databases: Databases, backend: str, service: str, tmp_path: Path
) -> None:
    url = (
        f"sqlite+aiosqlite:///{tmp_path / 'schema.db'}"
        if backend == "sqlite"
        else databases.new_pg_database(f"schema_{service}")
    )
    await upgrade(service, url)
    await downgrade(service, url, "base")
    async with engine_at(url) as engine, engine.connect() as conn:
        left = await conn.run_sync(lambda sync: sync.dialect.get_table_names(sync))
    assert set(left) <= {"alembic_version"}  # nothing of the service is left
    await upgrade(service, url)
    assert await _differences(url, _metadata(service)) == []
