"""The one Idempotency-Key policy (services/common/idempotency.py), on both backends.

Each service's own routes are tested through their APIs; these tests hold the policy itself,
over a key table of its own, to every rule it states.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.responses import JSONResponse
from sqlalchemy import select, update
from sqlalchemy.orm import DeclarativeBase

from libs.domain.kernel.errors import Conflict, Unprocessable
from services.common.db import Database, make_metadata
from services.common.idempotency import (
    REPLAYED_HEADER,
    Idempotency,
    IdempotencyKeyColumns,
    Keyed,
    fingerprint,
    idempotent,
)
from tests.conftest import Databases


class _Base(DeclarativeBase):
    metadata = make_metadata()


class Key(IdempotencyKeyColumns, _Base):
    pass


@pytest.fixture
async def policy(databases: Databases, backend: str, tmp_path: Any) -> AsyncIterator[Idempotency]:
    if backend == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / 'keys.db'}"
    else:
        url = databases.new_pg_database("idem")
    db = Database.open(url)
    async with db.engine.begin() as conn:
        await conn.run_sync(_Base.metadata.create_all)
    try:
        yield Idempotency(db, Key)
    finally:
        await db.close()


async def _finish(policy: Idempotency, key: str, status: int, body: Any, subject: str = "county") -> None:
    async with policy.db.sessions() as session:
        await policy.complete(session, subject=subject, key=key, status=status, body=body)
        await session.commit()


async def _age(policy: Idempotency, key: str, by: timedelta) -> None:
    async with policy.db.sessions() as session:
        await session.execute(update(Key).where(Key.key == key).values(created_at=datetime.now(UTC) - by))
        await session.commit()


class TestAFirstRequestRunsAndLaterOnesReplayItsAnswer:
    async def test_the_first_claim_runs_and_a_retry_gets_the_stored_status_and_body(self, policy: Idempotency) -> None:
        first = await policy.claim(subject="county", key="k1", request_hash="h")
        assert not first.replay
        await _finish(policy, "k1", 201, {"id": "a1", "zones": ["x"]})
        again = await policy.claim(subject="county", key="k1", request_hash="h")
        assert again.replay and again.replay_status == 201 and again.replay_body == {"id": "a1", "zones": ["x"]}

    async def test_keys_belong_to_their_subject(self, policy: Idempotency) -> None:
        await policy.claim(subject="county", key="k1", request_hash="h")
        await _finish(policy, "k1", 200, {"n": 1})
        other = await policy.claim(subject="other-county", key="k1", request_hash="h")
        assert not other.replay


class TestTheSameKeyForAnotherRequestIsRefused:
    async def test_another_body_is_a_422_naming_the_header(self, policy: Idempotency) -> None:
        await policy.claim(subject="county", key="k1", request_hash="h1")
        await _finish(policy, "k1", 200, {})
        with pytest.raises(Unprocessable) as refused:
            await policy.claim(subject="county", key="k1", request_hash="h2")
        assert refused.value.extra["errors"][0]["loc"] == ["header", "Idempotency-Key"]

    async def test_another_body_while_the_first_runs_is_also_a_422(self, policy: Idempotency) -> None:
        await policy.claim(subject="county", key="k1", request_hash="h1")
        with pytest.raises(Unprocessable):
            await policy.claim(subject="county", key="k1", request_hash="h2")


class TestAKeyInFlight:
    async def test_the_same_request_while_the_first_runs_is_a_409(self, policy: Idempotency) -> None:
        await policy.claim(subject="county", key="k1", request_hash="h")
        with pytest.raises(Conflict):
            await policy.claim(subject="county", key="k1", request_hash="h")

    async def test_two_claims_at_once_let_exactly_one_run(self, policy: Idempotency) -> None:
        results = await asyncio.gather(
            *(policy.claim(subject="county", key="race", request_hash="h") for _ in range(5)), return_exceptions=True
        )
        runs = [r for r in results if not isinstance(r, BaseException) and not r.replay]
        assert len(runs) == 1
        assert all(isinstance(r, Conflict) for r in results if isinstance(r, BaseException))

    async def test_a_key_left_running_past_the_timeout_is_taken_over(self, policy: Idempotency) -> None:
        await policy.claim(subject="county", key="k1", request_hash="h")
        await _age(policy, "k1", policy.running_timeout + timedelta(seconds=5))
        assert not (await policy.claim(subject="county", key="k1", request_hash="h")).replay

    async def test_a_failed_request_releases_its_key_and_the_retry_runs(self, policy: Idempotency) -> None:
        await policy.claim(subject="county", key="k1", request_hash="h")
        await policy.release(subject="county", key="k1")
        assert not (await policy.claim(subject="county", key="k1", request_hash="h")).replay


class TestRetention:
    async def test_a_finished_key_past_retention_is_claimed_anew_even_for_another_body(
        self, policy: Idempotency
    ) -> None:
        await policy.claim(subject="county", key="old", request_hash="h1")
        await _finish(policy, "old", 200, {"n": 1})
        await _age(policy, "old", policy.retention + timedelta(minutes=1))
        assert not (await policy.claim(subject="county", key="old", request_hash="h2")).replay

    async def test_expired_keys_are_deleted_by_a_later_claim(self, policy: Idempotency) -> None:
        await policy.claim(subject="county", key="old", request_hash="h")
        await _finish(policy, "old", 200, {})
        await _age(policy, "old", policy.retention + timedelta(minutes=1))
        policy._purged_at = datetime.min.replace(tzinfo=UTC)  # the next claim purges
        await policy.claim(subject="county", key="new", request_hash="h")
        async with policy.db.sessions() as session:
            keys = (await session.execute(select(Key.key))).scalars().all()
        assert keys == ["new"]


class TestTheFingerprint:
    def test_key_order_and_spacing_do_not_matter_but_values_do(self) -> None:
        assert fingerprint({"a": 1, "b": [1, "中"]}) == fingerprint({"b": [1, "中"], "a": 1})
        assert fingerprint({"a": 1}) != fingerprint({"a": 2})


class TestTheFlowAroundAWrite:
    async def test_without_a_key_the_write_just_runs(self, policy: Idempotency) -> None:
        runs: list[int] = []

        async def run() -> dict[str, int]:
            runs.append(1)
            return {"n": len(runs)}

        async with policy.db.sessions() as session:
            for _ in range(2):
                assert await idempotent(policy, session, Keyed("county", None, "h"), run, lambda r: (201, r)) == {
                    "n": len(runs)
                }
        assert len(runs) == 2

    async def test_a_retry_answers_the_stored_status_and_body_marked_replayed(self, policy: Idempotency) -> None:
        async def run() -> dict[str, str]:
            return {"id": "a1"}

        request = Keyed("county", "k1", "h")
        async with policy.db.sessions() as session:
            assert await idempotent(policy, session, request, run, lambda r: (201, r)) == {"id": "a1"}
            await session.commit()
        async with policy.db.sessions() as session:
            replay = await idempotent(policy, session, request, run, lambda r: (201, r))
        assert isinstance(replay, JSONResponse)
        assert replay.status_code == 201 and replay.headers[REPLAYED_HEADER] == "true"
        assert json.loads(bytes(replay.body)) == {"id": "a1"}

    async def test_a_failed_write_releases_the_key_so_the_retry_runs(self, policy: Idempotency) -> None:
        async def fail() -> dict[str, str]:
            raise Conflict("not now")

        async def run() -> dict[str, str]:
            return {"id": "a2"}

        request = Keyed("county", "k2", "h")
        async with policy.db.sessions() as session:
            with pytest.raises(Conflict):
                await idempotent(policy, session, request, fail, lambda r: (200, r))
        async with policy.db.sessions() as session:
            assert await idempotent(policy, session, request, run, lambda r: (200, r)) == {"id": "a2"}
