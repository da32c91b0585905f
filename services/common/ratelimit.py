"""Per-client request rate limits (the ``limits`` library), answered with a 429 problem.

A client is the verified token subject when the request carries a valid bearer token, else the
peer address (behind a proxy, run uvicorn with ``--proxy-headers`` and ``--forwarded-allow-ips``
so that the address is the real client's). Counting a subject rather than a token keeps a
client from escaping its limit by minting tokens; an invalid token counts against the address.

``limits`` parses the configured limits; the counters live in the process, so with several
replicas each enforces its own share (a limit shared across replicas belongs at the gateway).
They are kept by :class:`_Gcra`, the generic cell rate algorithm (one timestamp per client and
limit, no timer): ``limits``' own in-memory stores expire counters from a timer thread (sync) or
a task per request (asyncio), which cost a cheap read ~15% of its throughput, against ~1 µs here.

Health, readiness and metrics probes are never limited.
"""

from __future__ import annotations

import math
import time

from limits import RateLimitItem, parse_many

from libs.domain.kernel.errors import Unauthorized, UpstreamUnavailable
from services.common.oidc import OidcVerifier
from services.common.security import decode_token

EXEMPT_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})
OFF = frozenset({"", "off", "none", "false", "0"})


class _Gcra:
    """In-process limits by the generic cell rate algorithm (each limit allows its whole amount as
    a burst, then one request per period/amount)."""

    SWEEP_EVERY = 10_000
    """Forget idle clients after this many checks (their next request starts afresh, as it should)."""

    def __init__(self, items: list[RateLimitItem]) -> None:
        # (emission interval, burst tolerance) per limit, in seconds
        self.rules: list[tuple[float, float]] = []
        for item in items:
            interval = item.get_expiry() / item.amount
            self.rules.append((interval, item.get_expiry() - interval))
        self.tat: dict[tuple[str, int], float] = {}  # theoretical arrival time per client and limit
        self.checks = 0

    def retry_after(self, client: str, now: float) -> float | None:
        """``None`` if allowed (and counted against every limit), else seconds to wait."""
        tat = self.tat
        arrivals = []
        for i, (interval, tolerance) in enumerate(self.rules):
            at = max(tat.get((client, i), now), now)
            if at - now > tolerance:
                return at - now - tolerance
            arrivals.append(at + interval)
        for i, at in enumerate(arrivals):
            tat[(client, i)] = at
        self.checks += 1
        if self.checks % self.SWEEP_EVERY == 0:
            for key in [k for k, at in tat.items() if at <= now]:
                del tat[key]
        return None


class RateLimiter:
    """Checks one request against every configured limit of its client."""

    def __init__(self, spec: str, signing_key: str, algorithm: str, verifier: OidcVerifier | None = None) -> None:
        self.local = _Gcra(parse_many(spec))
        self.key = signing_key
        self.algorithm = algorithm
        self.verifier = verifier

    @classmethod
    def from_settings(
        cls, spec: str | None, signing_key: str, algorithm: str, verifier: OidcVerifier | None = None
    ) -> RateLimiter | None:
        """A limiter, or ``None`` when limits are off. Raises ``ValueError`` for a malformed spec.
        ``verifier``: the service's OIDC verifier when tokens come from the identity provider."""
        if spec is None or spec.strip().lower() in OFF:
            return None
        return cls(spec, signing_key, algorithm, verifier)

    async def client(self, authorization: bytes | None, peer: str) -> str:
        """Who a request counts against."""
        if authorization and authorization[:7].lower() == b"bearer ":
            token = authorization[7:].decode("latin-1").strip()
            try:
                if self.verifier is not None:
                    return "sub:" + (await self.verifier.verify(token)).sub
                return "sub:" + decode_token(token, self.key, self.algorithm).sub
            except (Unauthorized, UpstreamUnavailable):
                pass
        return "ip:" + peer

    async def retry_after(self, client: str) -> int | None:
        """``None`` if the request may proceed (and is counted), else whole seconds until it may."""
        wait = self.local.retry_after(client, time.monotonic())
        return None if wait is None else max(1, math.ceil(wait))
