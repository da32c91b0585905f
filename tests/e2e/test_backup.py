"""``devzones backup`` / ``devzones restore`` round trips: the four services run as real processes on
the demo, what they hold is read through their APIs, backed up, restored into fresh databases, and the
services started on the restored data must answer exactly as the originals did; the permits document
numbers continue their gap-free sequence. On PostgreSQL everything runs as one login role that owns
its databases and nothing else (no superuser), as the compose stack runs it."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from tests.e2e import snapshot
from tests.e2e.snapshot import ok, pages
from tests.e2e.stack import SERVICES, Running, start_up, stop

pytestmark = pytest.mark.e2e
QUIET = {"DEVZONES_RATE_LIMIT": "off"}  # the snapshot reads thousands of histories


def devzones(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "services.cli", *args], capture_output=True, text=True, env={**os.environ, **env}
    )


def up(folder: Path, env: dict[str, str], *args: str) -> Running:
    folder.mkdir()
    return start_up(folder, {**env, **QUIET}, *args)


def admin(running: Running) -> httpx.Client:
    token = running.token("--role", "city_admin", "--sub", "backup-test")
    return httpx.Client(timeout=60, headers={"Authorization": f"Bearer {token}"})


# --- what the test records through the APIs before the backup ---------------------------------------


def revise_values(http: httpx.Client, base: str) -> list[dict[str, Any]]:
    """Restate two quarterly values of 2016 (locked by the published 2016 runs, so as the city's
    administrator with a reason), one of them twice: the ledger and the histories hold revisions
    beyond the first push, and the runs' verifications list restated values."""
    chosen = [o for o in pages(http, f"{base}/v1/observations", period="2016Q1", limit=500) if o["zone_id"]][:2]
    assert len(chosen) == 2
    for factor in ("1.01", "1.02"):
        rows = [
            {
                "zone_id": o["zone_id"],
                "indicator": o["indicator"],
                "period": o["period"],
                "value": str((Decimal(o["value"]) * Decimal(factor)).quantize(Decimal("0.01"))),
                "unit": o["unit"],
                "note": f"备份测试更正 ×{factor}",
            }
            for o in (chosen if factor == "1.01" else chosen[:1])
        ]
        summary = ok(
            http.post(f"{base}/v1/observations", json={"observations": rows, "restatement_reason": "备份测试"})
        )
        assert summary, summary
    return chosen


def record_then_prepare(running: Running) -> tuple[dict[str, Any], str]:
    """Changes beyond the demo (revisions, a second decision, a case left at the decision), then
    the record of everything; returns it and the case to decide after the restore."""
    with admin(running) as http:
        urls = running.urls
        revise_values(http, urls["metrics"])
        zone = pages(http, f"{urls['permits']}/v1/applications", limit=500)[0]["zone_id"]
        snapshot.decide(http, urls["permits"], snapshot.awaiting_decision(http, urls["permits"], zone))
        pending = snapshot.awaiting_decision(http, urls["permits"], zone)
        return snapshot.everything(http, urls), pending


def check_record(before: dict[str, Any]) -> None:
    """What the original services answered holds what the test put there (else the comparison
    after the restore would prove little)."""
    counts = before["registry"]
    # 张发〔2016〕12号 二(五): 14 + 4 zones before the reorganisation, 12 + 1 after.
    assert counts["counts@2016-10-13"]["by_kind"] == {"economic": 14, "high_tech": 4}
    assert counts["counts@2016-10-14"]["by_kind"] == {"economic": 12, "high_tech": 1}
    metrics = before["metrics"]
    assert metrics["ledger"]["intact"] is True
    assert sorted(o["revision"] for o in metrics["observations"] if o["revision"] > 1) == [2, 3]
    assert metrics["ledger"]["revisions"] == len(metrics["observations"]) + 3
    published = [r for r in before["assessment"]["runs"] if r["status"] == "published"]
    assert published
    for run in published:
        verified = before["assessment"]["verifications"][run["id"]]
        assert verified["identical"] is True
        assert verified["recomputed_sha256"] == run["inputs_sha256"]
    numbers = [snapshot.number_of(n) for n in snapshot.document_numbers(before)]
    assert sorted(n for _, _, n in numbers) == list(range(1, len(numbers) + 1))  # gap-free from 1
    assert len(numbers) == 2


def check_restored(running: Running, before: dict[str, Any], pending: str) -> None:
    with admin(running) as http:
        after = snapshot.everything(http, running.urls)
        for service in SERVICES:
            for key in before[service]:
                assert after[service][key] == before[service][key], (service, key)
        prefix, year, last = max(snapshot.number_of(n) for n in snapshot.document_numbers(before))
        issued = snapshot.decide(http, running.urls["permits"], pending)
    assert snapshot.number_of(issued) == (prefix, year, last + 1)


# --- PostgreSQL: one login role owning fresh databases ----------------------------------------------


@dataclass
class PgRole:
    admin_url: str
    role: str
    password: str
    created: list[str]

    def database(self, label: str) -> str:
        name = f"dz_test_bk_{label}_{uuid.uuid4().hex[:8]}"
        _admin(self.admin_url, f'CREATE DATABASE "{name}" OWNER "{self.role}"')
        self.created.append(name)
        host = self.admin_url.split("@", 1)[1].rsplit("/", 1)[0]
        return f"postgresql+asyncpg://{self.role}:{quote(self.password, safe='')}@{host}/{name}"

    def urls(self, label: str) -> dict[str, str]:
        return {f"{s.upper()}_DATABASE_URL": self.database(f"{label}_{s[:4]}") for s in SERVICES}


def _admin(url: str, sql: str) -> Any:
    import asyncpg

    async def run() -> Any:
        conn = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://", 1), timeout=5)
        try:
            return await conn.fetch(sql)
        finally:
            await conn.close()

    return asyncio.run(run())


def _table_count(admin_url: str, database_url: str) -> int:
    name = database_url.rsplit("/", 1)[1]
    rows = _admin(
        admin_url.rsplit("/", 1)[0] + f"/{name}", "SELECT count(*) AS n FROM pg_tables WHERE schemaname = 'public'"
    )
    return int(rows[0]["n"])


@pytest.fixture
def pg_role(databases: Any) -> Iterator[PgRole]:
    databases.pg_available()
    admin_url = os.environ.get("TEST_POSTGRES_URL") or "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
    role = f"dz_test_bk_{uuid.uuid4().hex[:8]}"
    password = "b@ck up/" + uuid.uuid4().hex  # characters a URL must escape
    _admin(admin_url, f"CREATE ROLE \"{role}\" LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD '{password}'")
    pg = PgRole(admin_url, role, password, [])
    try:
        yield pg
    finally:
        for name in pg.created:
            _admin(admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        _admin(admin_url, f'DROP ROLE IF EXISTS "{role}"')


class TestBackupAndRestoreOnPostgresql:
    def test_a_restored_system_answers_as_the_original_and_continues_the_document_numbers(
        self, tmp_path: Path, pg_role: PgRole
    ) -> None:
        original = pg_role.urls("orig")
        running = up(tmp_path / "original", original)
        try:
            before, pending = record_then_prepare(running)
            backup = tmp_path / "backup"
            made = devzones("backup", "--out", str(backup), env=original)
            assert made.returncode == 0, made.stderr
        finally:
            assert stop(running) == 0
        check_record(before)
        assert sorted(p.name for p in backup.iterdir()) == sorted(["manifest.json", *(f"{s}.dump" for s in SERVICES)])
        again = devzones("backup", "--out", str(backup), env=original)
        assert again.returncode == 1 and "非空" in again.stderr, again.stderr

        fresh = pg_role.urls("fresh")
        # A corrupt file (the third service's) is found before anything is restored: not even the
        # first service's database is touched.
        corrupt = tmp_path / "corrupt"
        corrupt.mkdir()
        for f in backup.iterdir():
            data = f.read_bytes()
            (corrupt / f.name).write_bytes(data[:-1] + bytes([data[-1] ^ 1]) if f.name == "assessment.dump" else data)
        refused = devzones("restore", "--from", str(corrupt), env=fresh)
        assert refused.returncode == 1 and "SHA-256" in refused.stderr, refused.stderr
        assert [_table_count(pg_role.admin_url, url) for url in fresh.values()] == [0, 0, 0, 0]

        restored = devzones("restore", "--from", str(backup), env=fresh)
        assert restored.returncode == 0, restored.stderr
        second = up(tmp_path / "restored", fresh, "--no-demo")
        try:
            check_restored(second, before, pending)
            # The restored databases now hold data: a second restore refuses without --force.
            over = devzones("restore", "permits", "--from", str(backup), env=fresh)
            assert over.returncode == 1 and "--force" in over.stderr, over.stderr
            with admin(second) as http:
                assert ok(http.get(f"{second.urls['permits']}/v1/applications/{pending}"))["state"] == "decided"
        finally:
            assert stop(second) == 0


# --- SQLite: the embedded default --------------------------------------------------------------------


def light_record(running: Running) -> dict[str, Any]:
    with admin(running) as http:
        urls = running.urls
        metrics = snapshot.metrics(http, urls["metrics"])
        return {
            "registry": snapshot.registry(http, urls["registry"]),
            "observations": metrics["observations"],
            "ledger": metrics["ledger"],
            "permits": snapshot.permits(http, urls["permits"]),
        }


class TestBackupAndRestoreOnSqlite:
    def test_a_round_trip_then_a_restore_over_data_only_with_force(self, tmp_path: Path) -> None:
        running = up(tmp_path / "original", {})
        try:
            with admin(running) as http:
                zone = pages(http, f"{running.urls['permits']}/v1/applications", limit=500)[0]["zone_id"]
                pending = snapshot.awaiting_decision(http, running.urls["permits"], zone)
            before = light_record(running)
            backup = tmp_path / "backup"
            # Online: SQLite's backup API copies a consistent database while the services run.
            made = devzones("backup", "--out", str(backup), "--data-dir", str(running.data_dir), env={})
            assert made.returncode == 0, made.stderr
        finally:
            assert stop(running) == 0
        assert sorted(p.name for p in backup.iterdir()) == sorted(["manifest.json", *(f"{s}.sqlite" for s in SERVICES)])
        assert before["ledger"]["intact"] is True
        (number,) = snapshot.document_numbers({"permits": before["permits"]})  # the demo decides one case

        partial = tmp_path / "partial"
        partial.mkdir()
        for f in backup.iterdir():
            if f.name != "manifest.json":
                (partial / f.name).write_bytes(f.read_bytes())
        target = tmp_path / "restored" / "data"
        refused = devzones("restore", "--from", str(partial), "--data-dir", str(target), env={})
        assert refused.returncode == 1 and "manifest.json" in refused.stderr, refused.stderr
        assert not target.exists()

        restored = devzones("restore", "--from", str(backup), "--data-dir", str(target), env={})
        assert restored.returncode == 0, restored.stderr
        second = start_up(tmp_path / "restored", QUIET, "--no-demo")
        try:
            assert light_record(second) == before
            with admin(second) as http:
                issued = snapshot.decide(http, second.urls["permits"], pending)
        finally:
            assert stop(second) == 0
        prefix, year, n = snapshot.number_of(number)
        assert snapshot.number_of(issued) == (prefix, year, n + 1)

        over = devzones("restore", "permits", "--from", str(backup), "--data-dir", str(target), env={})
        assert over.returncode == 1 and "--force" in over.stderr, over.stderr
        forced = devzones("restore", "permits", "--force", "--from", str(backup), "--data-dir", str(target), env={})
        assert forced.returncode == 0, forced.stderr
        third = start_up(tmp_path / "restored", QUIET, "--no-demo")
        try:
            with admin(third) as http:  # the decision issued after the backup is gone with --force
                case = ok(http.get(f"{third.urls['permits']}/v1/applications/{pending}"))
        finally:
            assert stop(third) == 0
        assert (case["state"], case["decision"]) == ("awaiting_decision", None)
