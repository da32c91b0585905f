"""Migration 20261204_0002: existing values, revisions and batches carried into the new
(system-versioned) schema and sealed in the new chain; a broken old chain stops it; the
downgrade restores the old chain."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import async_sessionmaker

from services.common.migrations import downgrade, upgrade
from services.metrics.ledger.service import verify
from tests.helpers import engine_at, fetch

AT = datetime(2026, 1, 2, 3, 4, 5, 6, tzinfo=UTC)
AT_TEXT = "2026-01-02T03:04:05.000006Z"


def old_hash(prev: str, seq: int, batch: str, new: str, old: str | None) -> str:
    """The 0001 chain by hand: sha256(prev + sorted compact JSON of the revision)."""
    fields = {
        "batch": batch,
        "indicator": "gdp",
        "indicator_version": 1,
        "lock": None,
        "new_value": new,
        "note": None,
        "old_value": old,
        "original_unit": "万元",
        "original_value": new.rstrip("0").rstrip("."),
        "period": "2017",
        "recorded_at": AT_TEXT,
        "recorded_by": "city",
        "recorded_by_division": None,
        "restatement_reason": None,
        "seq": seq,
        "subject_id": "z1",
        "subject_type": "zone",
        "unit": "万元",
    }
    canonical = json.dumps(fields, ensure_ascii=False, separators=(",", ":"), sort_keys=True)
    return hashlib.sha256((prev + canonical).encode()).hexdigest()


REVISIONS = [(1, "b1", "10.000000", None), (2, "b2", "12.000000", "10.000000")]


def chain() -> list[tuple[int, str, str, str | None, str, str]]:
    out, prev = [], "0" * 64
    for seq, batch, new, old in REVISIONS:
        digest = old_hash(prev, seq, batch, new, old)
        out.append((seq, batch, new, old, prev, digest))
        prev = digest
    return out


async def _seed_v1(url: str, *, tamper: bool = False) -> None:
    at: Any = AT if "postgresql" in url else AT.replace(tzinfo=None).isoformat(sep=" ")
    async with engine_at(url) as engine, engine.begin() as conn:
        for seq, batch, new, old, prev, digest in chain():
            await conn.execute(
                text(
                    "INSERT INTO batch (id, source, rows, created, updated, unchanged, recorded_at, recorded_by) "
                    "VALUES (:b, 'json', 1, :c, :u, 0, :at, 'city')"
                ),
                {"b": batch, "c": int(old is None), "u": int(old is not None), "at": at},
            )
            await conn.execute(
                text(
                    "INSERT INTO revision (seq, subject_type, subject_id, indicator_code, indicator_version, "
                    "period, old_value, new_value, unit, original_value, original_unit, recorded_at, "
                    "recorded_by, batch, prev_hash, hash) VALUES (:s, 'zone', 'z1', 'gdp', 1, '2017', "
                    ":old, :new, '万元', :orig, '万元', :at, 'city', :b, :p, :h)"
                ),
                {
                    "s": seq,
                    "old": None if old is None else (old if "sqlite" in url else float(old)),
                    "new": ("13.000000" if tamper and seq == 1 else new) if "sqlite" in url else float(new),
                    "orig": new.rstrip("0").rstrip("."),
                    "at": at,
                    "b": batch,
                    "p": prev,
                    "h": digest,
                },
            )
        await conn.execute(
            text(
                "INSERT INTO observation (subject_type, subject_id, indicator_code, period, period_end, value, "
                "unit, revision, first_recorded_at, recorded_at, recorded_by) VALUES ('zone', 'z1', 'gdp', "
                "'2017', '2017-12-31', :v, '万元', 2, :at, :at, 'city')"
            ),
            {"v": "12.000000" if "sqlite" in url else 12, "at": at},
        )
        if tamper and "postgresql" in url:
            await conn.execute(text("UPDATE revision SET new_value = 13 WHERE seq = 1"))


@pytest.fixture
def empty_url(backend: str, databases: Any, tmp_path: Path) -> str:
    if backend == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'metrics-migration.db'}"
    return str(databases.new_pg_database("metrics_mig"))


class TestMigration0002:
    async def test_existing_data_is_carried_over_and_sealed(self, empty_url: str) -> None:
        await upgrade("metrics", empty_url, "20261126_0001")
        await _seed_v1(empty_url)
        await upgrade("metrics", empty_url)
        async with engine_at(empty_url) as engine:
            async with engine.connect() as conn:
                obs = (
                    await conn.execute(
                        text("SELECT period, subject_id, seq, revision, prev_seq, batch, old_value FROM observation")
                    )
                ).all()
                revs = (await conn.execute(text("SELECT seq, prev_seq, batch FROM revision ORDER BY seq"))).all()
                batches = (
                    await conn.execute(text("SELECT id, first_seq, revisions, prev_hash FROM batch ORDER BY first_seq"))
                ).all()
            # The current version (seq 2) is the observation row; the superseded one (seq 1) the history.
            assert [tuple(r)[:6] for r in obs] == [("2017", "z1", 2, 2, 1, "b2")]
            assert Decimal(str(obs[0][6])) == Decimal("10")
            assert [tuple(r) for r in revs] == [(1, None, "b1")]
            assert [tuple(r)[:3] for r in batches] == [("b1", 1, 1), ("b2", 2, 1)]
            assert batches[0][3] == "0" * 64
            async with async_sessionmaker(engine)() as session:
                result = await verify(session=session)
            assert result.intact and result.revisions == 2 and result.observations_checked == 1
        await downgrade("metrics", empty_url, "20261126_0001")
        rows = await fetch(empty_url, "SELECT seq, prev_hash, hash FROM revision ORDER BY seq")
        assert [tuple(r) for r in rows] == [(seq, prev, digest) for seq, _b, _n, _o, prev, digest in chain()]

    async def test_a_broken_old_chain_stops_the_migration(self, empty_url: str) -> None:
        await upgrade("metrics", empty_url, "20261126_0001")
        await _seed_v1(empty_url, tamper=True)
        with pytest.raises(RuntimeError, match="broken at seq 1"):
            await upgrade("metrics", empty_url)
