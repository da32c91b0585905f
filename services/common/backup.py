"""``devzones backup`` and ``devzones restore``: each service's database dumped and restored with its
backend's own tools, and a manifest that lets a restore refuse a corrupt or partial backup before it
touches anything.

PostgreSQL is dumped with ``pg_dump -Fc`` and restored with ``pg_restore --clean --if-exists
--no-owner --no-acl --single-transaction``: a service role that owns only its database can do both
(no superuser, no ``--create``), and a failed restore leaves the database as it was. SQLite is copied
with its online backup API, and restored by swapping in a checked copy of the file. A restore never
migrates: when the backup's revision is older than the code's, it says to run ``devzones migrate``
(the operator chooses when, as for any upgrade; the compose stack's ``migrate`` one-shot does it).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import sqlite3
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from alembic.script import ScriptDirectory
from alembic.util.exc import CommandError
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, OperationalError

from libs.domain.kernel.i18n import Text
from services.common import pgtools
from services.common.db import is_sqlite, make_engine
from services.common.migrations import alembic_config, current_revision_async, head_revision, upgrade
from services.common.openapi_info import package_version
from services.common.pgtools import BackupError

MANIFEST = "manifest.json"
FORMAT = "devzones-backup/1"
Say = Callable[[Text], None]
RESTORE_OPTIONS = ("--clean", "--if-exists", "--no-owner", "--no-acl", "--single-transaction", "--exit-on-error")
"""As the service's own role (no superuser, no ``--create``), all or nothing."""


@dataclass(frozen=True)
class Target:
    """One service's database: its name and SQLAlchemy URL."""

    service: str
    url: str

    @property
    def backend(self) -> str:
        return "sqlite" if is_sqlite(self.url) else "postgresql"

    @property
    def sqlite_path(self) -> Path:
        database = make_url(self.url).database
        if not database or database == ":memory:":
            raise BackupError(
                Text(
                    f"{self.service}：内存中的 SQLite 数据库无法备份或恢复",
                    f"{self.service}: an in-memory SQLite database",
                )
            )
        return Path(database)


@dataclass(frozen=True)
class Restored:
    """What a restore did to one service's database."""

    service: str
    revision: str | None
    needs_migrate: bool


def sha256_of(path: Path) -> str:
    """The SHA-256 of a file's bytes, hex."""
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


# --- reading a database ---------------------------------------------------------------------------


def inspect(target: Target, seeded: frozenset[str] = frozenset()) -> tuple[str | None, int | None, bool]:
    """The database's alembic revision, its server's major version (PostgreSQL) and whether it
    holds data: a row in a table other than ``alembic_version`` and the ``seeded`` ones."""
    return asyncio.run(_inspect(target, seeded))


def seeded_tables(service: str) -> frozenset[str]:
    """The tables a freshly migrated database of ``service`` already has rows in (bookkeeping its
    migrations insert, such as the permits outbox's cursor): rows there are not data."""
    with tempfile.TemporaryDirectory(prefix="devzones-restore-") as scratch:
        url = f"sqlite+aiosqlite:///{Path(scratch) / 'fresh.db'}"
        asyncio.run(upgrade(service, url))
        conn = sqlite3.connect(Path(scratch) / "fresh.db")
        try:
            names = [n for (n,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
            return frozenset(n for n in names if conn.execute(f'SELECT 1 FROM "{n}" LIMIT 1').fetchone())
        finally:
            conn.close()


async def _inspect(target: Target, seeded: frozenset[str]) -> tuple[str | None, int | None, bool]:
    engine = make_engine(target.url, pool_size=1)
    try:
        async with engine.connect() as conn:
            revision = await current_revision_async(conn)
            major: int | None = None
            if target.backend == "postgresql":
                major = int((await conn.execute(text("SHOW server_version_num"))).scalar_one()) // 10000
                listed = await conn.execute(
                    text(
                        "SELECT table_schema, table_name FROM information_schema.tables WHERE table_type = "
                        "'BASE TABLE' AND table_schema NOT IN ('pg_catalog', 'information_schema')"
                    )
                )
                tables = [(str(s), str(t)) for s, t in listed]
            else:
                listed = await conn.execute(
                    text("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")
                )
                tables = [("main", str(t)) for (t,) in listed]
            quote = conn.dialect.identifier_preparer.quote
            has_data = False
            for schema, table in tables:
                if table == "alembic_version" or table in seeded:
                    continue
                found = await conn.execute(text(f"SELECT 1 FROM {quote(schema)}.{quote(table)} LIMIT 1"))
                if found.first() is not None:
                    has_data = True
                    break
            return revision, major, has_data
    except (OSError, DBAPIError, OperationalError) as exc:
        raise BackupError(
            Text(
                f"{target.service}：无法连接数据库（{type(exc).__name__}）",
                f"{target.service}: the database is unreachable ({type(exc).__name__})",
            )
        ) from exc
    finally:
        await engine.dispose()


# --- backup ---------------------------------------------------------------------------------------


def backup(targets: Sequence[Target], out: Path, say: Say, pg_bin: Path | None = None) -> dict[str, Any]:
    """Dump every target into ``out`` (which must be missing or empty) and write the manifest last,
    so a backup that stopped halfway has no manifest and cannot be restored."""
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise BackupError(
            Text(f"备份目录 {out} 已存在且非空，拒绝覆盖", f"the backup directory {out} exists and is not empty")
        )
    out.mkdir(parents=True, exist_ok=True)
    services: dict[str, Any] = {}
    for target in targets:
        services[target.service] = _backup_one(target, out, pg_bin)
        entry = services[target.service]
        say(
            Text(
                f"{target.service}：已备份（{entry['backend']}，版本 {entry['revision']}，{entry['size']} 字节）",
                f"{target.service}: backed up ({entry['backend']}, revision {entry['revision']}, "
                f"{entry['size']} bytes)",
            )
        )
    manifest = {
        "format": FORMAT,
        "created_at": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
        "devzones_version": package_version(),
        "services": services,
    }
    tmp = out / (MANIFEST + ".tmp")
    tmp.write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    os.replace(tmp, out / MANIFEST)
    return manifest


def _backup_one(target: Target, out: Path, pg_bin: Path | None) -> dict[str, Any]:
    if target.backend == "sqlite" and not target.sqlite_path.is_file():
        raise BackupError(
            Text(
                f"{target.service}：数据库文件 {target.sqlite_path} 不存在",
                f"{target.service}: no database file at {target.sqlite_path}",
            )
        )
    revision, major, _ = inspect(target)
    entry: dict[str, Any] = {"backend": target.backend, "revision": revision, "head": head_revision(target.service)}
    if target.backend == "postgresql":
        assert major is not None
        path = out / f"{target.service}.dump"
        conn = pgtools.libpq(target.url)
        pg_dump = pgtools.tool("pg_dump", major, pg_bin)
        pgtools.run(
            [str(pg_dump), "--format=custom", "--file", str(path), "--dbname", conn.url],
            conn,
            Text(f"{target.service}：pg_dump 失败", f"{target.service}: pg_dump failed"),
        )
        entry["server_major"] = major
    else:
        path = out / f"{target.service}.sqlite"
        _sqlite_copy(target.sqlite_path, path)
    entry |= {"file": path.name, "size": path.stat().st_size, "sha256": sha256_of(path)}
    return entry


def _sqlite_copy(source: Path, dest: Path) -> None:
    """Copy a SQLite database with its online backup API (consistent while services write to it),
    then check the copy's integrity."""
    src = sqlite3.connect(source, timeout=30)
    try:
        dst = sqlite3.connect(dest)
        try:
            src.backup(dst)
            check = dst.execute("PRAGMA quick_check").fetchone()
            if check is None or check[0] != "ok":
                raise BackupError(Text(f"SQLite 副本校验失败：{check}", f"the SQLite copy fails its check: {check}"))
        finally:
            dst.close()
    finally:
        src.close()
    with dest.open("rb") as f:
        os.fsync(f.fileno())


# --- restore --------------------------------------------------------------------------------------


def read_manifest(src: Path) -> dict[str, Any]:
    """The backup's manifest, or :class:`BackupError` when it is missing or unreadable."""
    path = src / MANIFEST
    if not path.is_file():
        raise BackupError(
            Text(
                f"{src} 中没有 {MANIFEST}：不是完整的备份（备份可能中途失败）",
                f"no {MANIFEST} in {src}: not a complete backup (it may have stopped halfway)",
            )
        )
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise BackupError(Text(f"{MANIFEST} 无法读取：{exc}", f"{MANIFEST} cannot be read: {exc}")) from exc
    if (
        not isinstance(manifest, dict)
        or manifest.get("format") != FORMAT
        or not isinstance(manifest.get("services"), dict)
    ):
        raise BackupError(Text(f"{MANIFEST} 不是 {FORMAT} 格式", f"{MANIFEST} is not in the {FORMAT} format"))
    return manifest


def check_backup(src: Path, manifest: dict[str, Any], services: Sequence[str]) -> None:
    """Each named service is in the manifest, its file is there with the recorded size and SHA-256,
    and its revision is one this code knows (a backup of newer code is refused)."""
    for service in services:
        entry = manifest["services"].get(service)
        if not isinstance(entry, dict):
            raise BackupError(Text(f"备份中没有 {service}", f"the backup holds no {service}"))
        path = src / str(entry.get("file", ""))
        if not path.is_file() or path.parent != src:
            raise BackupError(
                Text(f"{service}：备份文件 {path.name} 缺失", f"{service}: the backup file {path.name} is missing")
            )
        size, digest = path.stat().st_size, sha256_of(path)
        if size != entry.get("size") or digest != entry.get("sha256"):
            raise BackupError(
                Text(
                    f"{service}：备份文件 {path.name} 已损坏（大小或 SHA-256 与清单不符），未做任何恢复",
                    f"{service}: the backup file {path.name} is corrupt (size or SHA-256 differ from the manifest); "
                    "nothing was restored",
                )
            )
        revision = entry.get("revision")
        if revision is not None:
            try:
                known = ScriptDirectory.from_config(alembic_config(service)).get_revision(str(revision))
            except CommandError:
                known = None
            if known is None:
                raise BackupError(
                    Text(
                        f"{service}：备份的迁移版本 {revision} 不在本版本代码的迁移历史中（备份来自更新的版本？）",
                        f"{service}: the backup's revision {revision} is not in this code's migration history "
                        "(a backup of a newer version?)",
                    )
                )


@dataclass(frozen=True)
class _Plan:
    target: Target
    file: Path
    pg_restore: Path | None


def restore(
    targets: Sequence[Target], src: Path, say: Say, *, force: bool = False, pg_bin: Path | None = None
) -> list[Restored]:
    """Restore every target from ``src``: all checks (manifest, files, backends, tools, data already
    there) pass for every target before the first database is touched."""
    manifest = read_manifest(src)
    check_backup(src, manifest, [t.service for t in targets])
    plans = [_plan(t, src, manifest["services"][t.service], force, pg_bin) for t in targets]
    done: list[Restored] = []
    for plan in plans:
        target = plan.target
        if plan.pg_restore is not None:
            _pg_restore(plan.pg_restore, target, plan.file)
        else:
            _sqlite_swap(plan.file, target.sqlite_path)
        revision, _, _ = inspect(target)
        done.append(Restored(target.service, revision, revision != head_revision(target.service)))
        say(
            Text(
                f"{target.service}：已恢复（迁移版本 {revision}）", f"{target.service}: restored (revision {revision})"
            )
        )
    return done


def _plan(target: Target, src: Path, entry: dict[str, Any], force: bool, pg_bin: Path | None) -> _Plan:
    """Check that ``target`` can take its backup (same backend, the tool found, no data unless
    ``force``) without touching it."""
    if entry["backend"] != target.backend:
        raise BackupError(
            Text(
                f"{target.service}：备份是 {entry['backend']}，目标数据库是 {target.backend}",
                f"{target.service}: the backup is {entry['backend']}, the target database is {target.backend}",
            )
        )
    tool: Path | None = None
    has_data = False
    if target.backend == "postgresql":
        _, major, has_data = inspect(target, seeded_tables(target.service))
        assert major is not None
        tool = pgtools.tool("pg_restore", major, pg_bin)
    elif target.sqlite_path.is_file():
        _, _, has_data = inspect(target, seeded_tables(target.service))
    if has_data and not force:
        raise BackupError(
            Text(
                f"{target.service}：目标数据库已有数据，拒绝覆盖（确认要覆盖请加 --force）；未做任何恢复",
                f"{target.service}: the target database already holds data (add --force to overwrite it); "
                "nothing was restored",
            )
        )
    return _Plan(target, src / str(entry["file"]), tool)


def _pg_restore(tool: Path, target: Target, dump: Path) -> None:
    """One transaction as the connecting role: no ``--create``, objects owned by that role, no grants."""
    conn = pgtools.libpq(target.url)
    pgtools.run(
        [str(tool), *RESTORE_OPTIONS, "--dbname", conn.url, str(dump)],
        conn,
        Text(
            f"{target.service}：pg_restore 失败（数据库未改变）",
            f"{target.service}: pg_restore failed (database unchanged)",
        ),
    )


def _sqlite_swap(backup_file: Path, target: Path) -> None:
    """Replace ``target`` with a checked copy of ``backup_file`` in one rename; the services must be
    stopped (a stale ``-wal`` of the old file is removed, or SQLite would replay it into the new one)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(target.name + ".restoring")
    tmp.unlink(missing_ok=True)
    _sqlite_copy(backup_file, tmp)
    for suffix in ("-wal", "-shm", "-journal"):
        target.with_name(target.name + suffix).unlink(missing_ok=True)
    os.replace(tmp, target)
    dir_fd = os.open(target.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def targets_of(names: Sequence[str], urls: Mapping[str, str]) -> list[Target]:
    """The targets of the named services, in the order of ``urls``."""
    return [Target(service, urls[service]) for service in urls if service in names]
