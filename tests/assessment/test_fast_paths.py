"""The canonical JSON's orjson fast path, held to the plain path through the API.

The same requests are sent to an app with ``fast_canonical_json`` on and to one with it off:
the answers, the digests and the stored documents must be identical. The 2024 inputs are
ones the fast path writes; the 2025 inputs hold a float below 1e-4, where it declines.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest
from sqlalchemy import text

from libs.domain.clients.metrics import FakeMetricsClient
from libs.domain.kernel.canonical import orjson_text
from tests.assessment.builders import (
    ADMIN,
    CATALOG,
    Registry,
    World,
    assessment,
    db_of,
    lineage,
    matrix,
    method_doc,
    publish,
    run,
    zone,
)

GDP = {"indicator": "gdp", "transform": "ln", "normalisation": {"method": "goalposts", "min": 1, "max": 100}}
RD = {"indicator": "rd_intensity", "weight": 2, "missing": "mean", "normalisation": {"method": "z_score"}}
GROWTH = {"indicator": "growth", "winsorise": {"lower": 0.1, "upper": 0.9}, "normalisation": {"method": "rank"}}
VALUES = {
    "2024": {
        "A": {"gdp": 50.25, "rd_intensity": 1.5, "growth": -3.5},
        "B": {"gdp": 90.125, "rd_intensity": 4.0, "growth": 7.25},
        "C": {"gdp": 45.0, "rd_intensity": 0.75, "growth": 0.0},
        "D": {"gdp": 0.0, "rd_intensity": None, "growth": 2.0},
    },
    "2025": {
        "A": {"gdp": 80.5, "rd_intensity": 2.5, "growth": 1.0e-7},
        "B": {"gdp": 60.0, "rd_intensity": 5.0, "growth": 3.0},
        "E": {"gdp": 33.3, "rd_intensity": 1.75, "growth": 12.5},
    },
}


def world() -> World:
    zones = [zone("A", "甲开发区"), zone("B", "乙开发区"), zone("E", "戊开发区（合并组建）")]
    registry = Registry(zones, lineages={"E": lineage("E", "C", "D")})
    metrics = FakeMetricsClient({p: matrix(p, rows) for p, rows in VALUES.items()}, indicators=CATALOG)
    return World(registry=registry, metrics=metrics)


def _without_clock(answer: dict[str, Any]) -> dict[str, Any]:
    kept = {k: v for k, v in answer.items() if k not in ("created_at", "published_at", "events")}
    return {**kept, "events": [{k: v for k, v in e.items() if k != "at"} for e in answer.get("events", [])]}


async def _scenario(app_client: Any, *, fast: bool) -> dict[str, Any]:
    """Publish a method, run it for two years, read and verify the runs; what was answered and stored."""
    async with assessment(app_client, world(), fast_canonical_json=fast) as client:
        # E (merged in 2025) has no 2024 values of its own: 2 of 3 zones complete, so a lower coverage
        method = await publish(client, method_doc(GDP, RD, GROWTH, note="示例：含极小值", min_coverage=0.5))
        keyed = {**ADMIN, "Idempotency-Key": "fast-path-2025"}
        created = [await run(client, year, headers=keyed if year == "2025" else ADMIN) for year in ("2024", "2025")]
        replay = await run(client, "2025", headers=keyed, publish=False)
        fetched = [(await client.get(f"/v1/assessments/{c['id']}")).json() for c in created]
        verified = [(await client.post(f"/v1/assessments/{c['id']}/verify")).json() for c in created]
        async with db_of(client).engine.begin() as conn:
            stored = (await conn.execute(text("SELECT id, inputs, inputs_sha256 FROM assessment ORDER BY id"))).all()
            methods = (await conn.execute(text("SELECT code, version, sha256 FROM methodology"))).all()
            key_columns = "subject, key, request_hash, status, response_status"
            keys = (await conn.execute(text(f"SELECT {key_columns} FROM idempotency_key"))).all()
    return {
        "method": {k: v for k, v in method.items() if k != "created_at"},
        "created": [_without_clock(c) for c in created],
        "replay": _without_clock(replay),
        "fetched": [_without_clock(f) for f in fetched],
        "verified": verified,
        "stored": [tuple(r) for r in stored],
        "methods": [tuple(r) for r in methods],
        "keys": [tuple(r) for r in keys],
    }


class TestTheCanonicalJsonFastPath:
    @pytest.mark.parametrize("fast", [True, False], ids=["fast", "plain"])
    async def test_either_path_stores_the_definitions_bytes_and_verifies(self, app_client: Any, fast: bool) -> None:
        seen = await _scenario(app_client, fast=fast)
        assert all(v["identical"] and v["inputs_intact"] for v in seen["verified"])
        documents = []
        for _, inputs, sha in seen["stored"]:
            document = json.loads(inputs) if isinstance(inputs, str) else inputs
            published = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
            assert hashlib.sha256(published.encode()).hexdigest() == sha
            documents.append(document)
        assert [orjson_text(d) is not None for d in documents] == [True, False]  # both branches were taken
        zone_a = next(r for r in seen["created"][1]["results"] if r["zone_id"] == "A")
        assert zone_a["leaves"]["growth"]["raw"] == "0.0000001"  # 1e-7 as a plain decimal string
        assert seen["replay"] == seen["created"][1]

    async def test_on_and_off_give_identical_answers_and_stored_state(self, app_client: Any) -> None:
        fast = await _scenario(app_client, fast=True)
        plain = await _scenario(app_client, fast=False)
        assert fast == plain
