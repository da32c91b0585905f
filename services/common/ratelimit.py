"""Per-client request rate limits (the ``limits`` library), answered with a 429 problem.

A client is the verified token subject when the request carries a valid bearer token, else the
peer address (behind a proxy, run uvicorn with ``--proxy-headers`` and ``--forwarded-allow-ips``
so that the address is the real client's). Counting a subject rather than a token keeps a
client from escaping its limit by minting tokens; an invalid token counts against the address.

Counters live in the process (``memory://``): with several replicas each enforces its own share.
``DEVZONES_RATE_LIMIT_STORAGE=redis://…`` shares them (needs ``coredis`` installed).
Health, readiness and metrics probes are never limited.

The asyncio flavour of ``limits`` is used: its synchronous in-memory store expires counters
from a timer thread woken every 10 ms, which cost a cheap read ~15% of its throughput through
the GIL; the asyncio store does the same work as event-loop tasks.
"""

from __future__ import annotations

import math
import time

from limits import RateLimitItem, parse_many
from limits.aio import strategies
from limits.storage import storage_from_string

from libs.domain.errors import Unauthorized
from services.common.security import decode_token

EXEMPT_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})
OFF = frozenset({"", "off", "none", "false", "0"})


class RateLimiter:
    """Checks one request against every configured limit of its client."""

    def __init__(self, spec: str, storage_uri: str, signing_key: str, algorithm: str) -> None:
        self.items: list[RateLimitItem] = parse_many(spec)
        uri = storage_uri if storage_uri.startswith("async+") else f"async+{storage_uri}"
        self.strategy = strategies.SlidingWindowCounterRateLimiter(storage_from_string(uri))
        self.key = signing_key
        self.algorithm = algorithm

    @classmethod
    def from_settings(cls, spec: str | None, storage_uri: str, signing_key: str, algorithm: str) -> RateLimiter | None:
        """A limiter, or ``None`` when limits are off. Raises ``ValueError`` for a malformed spec."""
        if spec is None or spec.strip().lower() in OFF:
            return None
        return cls(spec, storage_uri, signing_key, algorithm)

    def client(self, authorization: bytes | None, peer: str) -> str:
        """Who a request counts against."""
        if authorization and authorization[:7].lower() == b"bearer ":
            try:
                return "sub:" + decode_token(authorization[7:].decode("latin-1").strip(), self.key, self.algorithm).sub
            except Unauthorized:
                pass
        return "ip:" + peer

    async def retry_after(self, client: str) -> int | None:
        """``None`` if the request may proceed (and is counted), else seconds until it may."""
        for item in self.items:
            if not await self.strategy.hit(item, client):
                reset, _remaining = await self.strategy.get_window_stats(item, client)
                return max(1, math.ceil(reset - time.time()))
        return None
