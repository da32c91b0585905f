"""Per-client rate limits: a 429 problem with Retry-After, counted per token subject or address."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import auth, make_token


class TestRateLimits:
    async def test_the_call_over_the_limit_is_a_429_problem_with_retry_after(self, app_client: Any) -> None:
        async with app_client("registry", rate_limit="3/minute") as client:
            answers = [await client.get("/v1/divisions", headers=auth("city_admin")) for _ in range(4)]
        assert [r.status_code for r in answers] == [200, 200, 200, 429]
        refused = answers[-1]
        assert refused.headers["content-type"].startswith("application/problem+json")
        body = refused.json()
        assert body["type"] == "urn:devzones:problem:rate-limited" and body["status"] == 429
        assert 1 <= int(refused.headers["retry-after"]) <= 60
        assert body["retry_after_seconds"] == int(refused.headers["retry-after"])

    async def test_each_token_subject_has_its_own_count(self, app_client: Any) -> None:
        a = {"Authorization": f"Bearer {make_token('city_admin', sub='county-a-system')}"}
        b = {"Authorization": f"Bearer {make_token('city_admin', sub='county-b-system')}"}
        again_a = {"Authorization": f"Bearer {make_token('city_admin', sub='county-a-system', ttl=900)}"}
        async with app_client("registry", rate_limit="2/minute") as client:
            first = [(await client.get("/v1/divisions", headers=a)).status_code for _ in range(2)]
            other = (await client.get("/v1/divisions", headers=b)).status_code
            new_token_same_subject = (await client.get("/v1/divisions", headers=again_a)).status_code
        assert first == [200, 200]
        assert other == 200
        assert new_token_same_subject == 429  # a fresh token does not reset the subject's count

    async def test_anonymous_and_invalid_tokens_count_against_the_address(self, app_client: Any) -> None:
        forged = {"Authorization": "Bearer not-a-token"}
        async with app_client("registry", rate_limit="2/minute") as client:
            anonymous = (await client.get("/v1/divisions")).status_code
            invalid = (await client.get("/v1/divisions", headers=forged)).status_code
            third = (await client.get("/v1/divisions")).status_code
            signed_in = (await client.get("/v1/divisions", headers=auth("city_admin"))).status_code
        assert (anonymous, invalid, third, signed_in) == (200, 200, 429, 200)

    async def test_probes_are_never_limited(self, app_client: Any) -> None:
        async with app_client("registry", rate_limit="1/minute") as client:
            codes = [(await client.get(path)).status_code for path in ("/healthz", "/readyz", "/metrics") * 3]
        assert set(codes) == {200}

    def test_a_malformed_limit_refuses_to_start(self, settings_for: Any) -> None:
        from services.registry.main import create_app

        with pytest.raises(ValueError):
            create_app(settings_for("registry", rate_limit="lots per day"))


class TestTheInProcessAlgorithm:
    """The generic cell rate algorithm, worked by hand (times in seconds)."""

    def test_three_a_minute_is_a_burst_of_three_then_one_every_twenty_seconds(self) -> None:
        from limits import parse_many

        from services.common.ratelimit import _Gcra

        g = _Gcra(parse_many("3/minute"))  # interval 20 s, burst tolerance 40 s
        assert [g.retry_after("c", 0.0) for _ in range(3)] == [None, None, None]
        assert g.retry_after("c", 0.0) == 20.0
        assert g.retry_after("other", 0.0) is None
        assert g.retry_after("c", 20.0) is None
        assert g.retry_after("c", 20.0) == 20.0

    def test_every_limit_must_allow_and_a_refusal_consumes_none(self) -> None:
        from limits import parse_many

        from services.common.ratelimit import _Gcra

        g = _Gcra(parse_many("2/second;3/minute"))  # 0.5 s / 0.5 s and 20 s / 40 s
        assert [g.retry_after("c", 0.0) for _ in range(2)] == [None, None]
        assert g.retry_after("c", 0.0) == 0.5  # the per-second limit refuses
        assert g.retry_after("c", 1.0) is None  # third of the minute
        assert g.retry_after("c", 2.0) == 18.0  # the per-minute limit refuses (next slot at 60 - 40)
        assert g.retry_after("c", 20.0) is None
