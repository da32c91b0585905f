"""Token verification, including the remembered-verification path."""

from __future__ import annotations

import time

import pytest

from libs.domain.kernel.errors import Unauthorized
from services.common import security
from services.common.security import decode_token, issue_token

KEY = "k" * 40


def test_a_remembered_token_still_expires(monkeypatch: pytest.MonkeyPatch) -> None:
    token = issue_token(KEY, sub="clerk", roles=["window_clerk"], zone="z1", ttl_seconds=60)
    assert decode_token(token, KEY).sub == "clerk"
    assert decode_token(token, KEY).zone == "z1"  # second call answered from the cache
    later = time.time() + 61
    monkeypatch.setattr(security.time, "time", lambda: later)
    with pytest.raises(Unauthorized, match="expired"):
        decode_token(token, KEY)


def test_the_cache_is_keyed_by_the_key() -> None:
    token = issue_token(KEY, sub="clerk", roles=["city_admin"], ttl_seconds=60)
    assert decode_token(token, KEY).sub == "clerk"
    with pytest.raises(Unauthorized, match="not valid"):
        decode_token(token, "x" * 40)


def test_a_refused_token_is_refused_every_time() -> None:
    forged = issue_token("y" * 40, sub="mallory", roles=["city_admin"], ttl_seconds=60)
    for _ in range(2):
        with pytest.raises(Unauthorized):
            decode_token(forged, KEY)
