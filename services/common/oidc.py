"""Tokens from the city's OpenID Connect provider: its published keys (JWKS), cached, and the checks.

Configured by ``DEVZONES_OIDC_ISSUER`` (and ``DEVZONES_OIDC_JWKS_URL``, ``DEVZONES_OIDC_AUDIENCE``,
the claim paths and algorithms; see :class:`~services.common.settings.ServiceSettings`). Each
service holds one :class:`OidcVerifier`:

- the keys are fetched with a timeout, through ``<issuer>/.well-known/openid-configuration`` →
  ``jwks_uri`` unless the JWKS URL is configured, when the service starts and again when they are
  older than ``DEVZONES_OIDC_KEYS_MAX_AGE_SECONDS``;
- a token whose ``kid`` is unknown makes the verifier fetch again (key rotation without a restart),
  but at most once per ``DEVZONES_OIDC_REFETCH_INTERVAL_SECONDS``: a flood of random ``kid`` values
  cannot make the service hammer the provider;
- a failed fetch keeps the keys of the last good one; with none ever fetched, a token cannot be
  verified and the request gets a 503 problem (``identity_provider_unavailable``), and ``/readyz`` too;
- only the configured asymmetric algorithms are accepted, and each token is verified with the
  algorithm of the key it names: ``none`` and the HMAC algorithms (a token "signed" with the
  provider's public key as a shared secret) are refused;
- ``iss``, ``aud``, ``exp``, ``nbf`` and ``iat`` are checked with a small leeway, ``sub`` is required.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from typing import Any

import httpx
import jwt
import structlog
from pydantic import ValidationError

from libs.domain.kernel.contracts import Actor
from libs.domain.kernel.errors import Unauthorized, UpstreamUnavailable
from libs.domain.kernel.i18n import Text
from libs.domain.kernel.values import Role
from services.common.security import client_of
from services.common.settings import ServiceSettings

_log = structlog.get_logger("devzones.oidc")
_ROLES = frozenset(r.value for r in Role)


def claim_at(claims: Mapping[str, Any], path: str) -> Any:
    """The value at a dotted ``path`` of the claims (``realm_access.roles``), or None where a step is missing.

    A claim whose own name holds a dot (``https://city.example/roles``) is found too: the whole
    path is tried as one name first."""
    if path in claims:
        return claims[path]
    value: Any = claims
    for step in path.split("."):
        if not isinstance(value, Mapping) or step not in value:
            return None
        value = value[step]
    return value


def roles_from(value: Any) -> list[str]:
    """Our role names among a roles claim's value (a list, or one name); other names are ignored."""
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list):
        return []
    return sorted({r for r in value if isinstance(r, str) and r in _ROLES})


def actor_from_claims(claims: Mapping[str, Any], settings: ServiceSettings) -> Actor:
    """The caller a verified token's claims describe, read at the configured claim paths."""
    try:
        return Actor.model_validate(
            {
                "sub": claims["sub"],
                "roles": roles_from(claim_at(claims, settings.oidc_roles_claim)),
                "division": claim_at(claims, settings.oidc_division_claim),
                "zone": claim_at(claims, settings.oidc_zone_claim),
                "department": claim_at(claims, settings.oidc_department_claim),
                "issuer": claims.get("iss"),
                "client_id": client_of(claims),
            }
        )
    except ValidationError as exc:
        raise Unauthorized(
            Text(
                "令牌的声明格式有误（sub、division、zone、department、azp 或 client_id）",
                "the token's claims are malformed (sub, division, zone, department, azp or client_id)",
            ),
            code="token_claims_malformed",
        ) from exc


UNAVAILABLE = Text(
    "无法取得身份提供方的签名密钥，暂时无法验证令牌",
    "the identity provider's signing keys could not be fetched, so tokens cannot be verified yet",
)


class OidcVerifier:
    """Verifies the provider's tokens against its cached keys (one per service)."""

    def __init__(
        self,
        settings: ServiceSettings,
        *,
        clock: Callable[[], float] = time.monotonic,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        if not (settings.oidc_issuer and settings.oidc_audience):
            raise ValueError("OIDC needs DEVZONES_OIDC_ISSUER and DEVZONES_OIDC_AUDIENCE")
        self.settings = settings
        self.issuer: str = settings.oidc_issuer
        self.audience: str = settings.oidc_audience
        self.clock = clock
        self._transport = transport
        self._keys: dict[str, jwt.PyJWK] = {}
        self._fetched_at: float | None = None  # the last good fetch
        self._attempted_at: float | None = None  # the last fetch, good or not
        self._lock = asyncio.Lock()
        self.last_error: str | None = None
        """Why the last fetch failed (None after a good one); what ``/readyz`` says."""

    @property
    def ready(self) -> bool:
        """Whether keys were ever fetched."""
        return self._fetched_at is not None

    async def refresh(self) -> bool:
        """Fetch the keys unless a fetch was made within the refetch interval; True if one was made now.

        A failed fetch keeps the keys of the last good one (and is logged)."""
        async with self._lock:
            now = self.clock()
            if (
                self._attempted_at is not None
                and now - self._attempted_at < self.settings.oidc_refetch_interval_seconds
            ):
                return False
            self._attempted_at = now
            try:
                keys = await self._fetch()
            except (httpx.HTTPError, ValueError, TypeError, KeyError) as exc:
                self.last_error = f"{type(exc).__name__}: {exc}"
                _log.warning("oidc_keys_fetch_failed", error=self.last_error, cached_keys=len(self._keys))
                return True
            self._keys = keys
            self._fetched_at = now
            self.last_error = None
            return True

    async def _fetch(self) -> dict[str, jwt.PyJWK]:
        async with httpx.AsyncClient(
            timeout=self.settings.oidc_timeout_seconds, transport=self._transport, follow_redirects=False
        ) as client:
            url = self.settings.oidc_jwks_url
            if not url:
                discovery = await client.get(self.issuer.rstrip("/") + "/.well-known/openid-configuration")
                discovery.raise_for_status()
                url = discovery.json()["jwks_uri"]
                if not isinstance(url, str):
                    raise ValueError("the discovery document's jwks_uri is not a string")
            answer = await client.get(url)
            answer.raise_for_status()
            document = answer.json()
        keys: dict[str, jwt.PyJWK] = {}
        for data in document["keys"]:
            if not isinstance(data, dict) or data.get("use", "sig") != "sig":
                continue
            try:
                key = jwt.PyJWK(data)
            except (jwt.PyJWTError, ValueError, KeyError, TypeError):
                continue  # a key type or curve we do not take, or a malformed key; the others still count
            if key.algorithm_name in self.settings.oidc_algorithms:
                keys[str(data.get("kid", ""))] = key
        if not keys:
            raise ValueError("the JWKS holds no signing key for the allowed algorithms")
        return keys

    async def _key(self, kid: str | None) -> jwt.PyJWK:
        stale = self._fetched_at is None or self.clock() - self._fetched_at >= self.settings.oidc_keys_max_age_seconds
        if stale:
            await self.refresh()
        if not self.ready:
            raise UpstreamUnavailable(UNAVAILABLE, code="identity_provider_unavailable", service="identity_provider")
        key = self._find(kid)
        if key is None and await self.refresh():
            key = self._find(kid)
        if key is None:
            raise Unauthorized(
                Text(
                    "令牌由身份提供方未公布的密钥签名",
                    "the token is signed by a key the identity provider does not publish",
                ),
                code="token_key_unknown",
            )
        return key

    def _find(self, kid: str | None) -> jwt.PyJWK | None:
        if kid is None:  # only unambiguous without a kid
            return next(iter(self._keys.values())) if len(self._keys) == 1 else None
        return self._keys.get(kid)

    async def verify(self, token: str) -> Actor:
        """The caller a token names; :class:`Unauthorized` if it is not valid, :class:`UpstreamUnavailable`
        if the provider's keys were never fetched."""
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise _invalid(exc) from exc
        alg = header.get("alg")
        if alg not in self.settings.oidc_algorithms:
            allowed = ", ".join(self.settings.oidc_algorithms)
            raise Unauthorized(
                Text(
                    f"令牌的签名算法 {alg!r} 不被接受（接受：{allowed}）",
                    f"the token's algorithm {alg!r} is refused (accepted: {allowed})",
                ),
                code="token_algorithm_refused",
            )
        kid = header.get("kid")
        key = await self._key(kid if isinstance(kid, str) else None)
        if key.algorithm_name != alg:
            raise Unauthorized(
                Text("令牌的签名算法与其密钥不符", "the token's algorithm does not match its key"),
                code="token_algorithm_refused",
            )
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=[alg],
                audience=self.audience,
                issuer=self.issuer,
                leeway=self.settings.oidc_leeway_seconds,
                options={"require": ["sub", "iss", "aud", "exp", "iat"]},
            )
        except jwt.ExpiredSignatureError as exc:
            raise Unauthorized(Text("令牌已过期", "the token has expired"), code="token_expired") from exc
        except jwt.InvalidAudienceError as exc:
            raise Unauthorized(
                Text(
                    f"令牌的受众（aud）不含 {self.audience}",
                    f"the token's audience (aud) does not include {self.audience}",
                ),
                code="token_audience_mismatch",
            ) from exc
        except jwt.InvalidIssuerError as exc:
            raise Unauthorized(
                Text(f"令牌的签发方（iss）不是 {self.issuer}", f"the token's issuer (iss) is not {self.issuer}"),
                code="token_issuer_mismatch",
            ) from exc
        except jwt.PyJWTError as exc:
            raise _invalid(exc) from exc
        if not isinstance(claims.get("sub"), str) or not claims["sub"]:
            raise Unauthorized(Text("令牌缺少 sub 声明", "the token has no sub claim"), code="token_invalid")
        return actor_from_claims(claims, self.settings)


def _invalid(exc: Exception) -> Unauthorized:
    return Unauthorized(Text(f"令牌无效：{exc}", f"the token is not valid: {exc}"), code="token_invalid")
