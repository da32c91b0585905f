"""Tokens from an OpenID Connect provider (issue #17): a real JWKS and discovery document served over
HTTP on loopback, keys made here with ``cryptography``, checked through a running service and the
verifier. Expected codes and counts are worked out by hand from the rules in services/common/oidc.py."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import hmac
import json
import time
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from libs.domain.kernel.errors import Unauthorized, UpstreamUnavailable
from libs.domain.kernel.values import Role
from services.common.oidc import OidcVerifier, actor_from_claims, claim_at, roles_from
from services.common.ratelimit import RateLimiter
from services.common.settings import RegistrySettings
from tests.helpers import free_port, serving

AUDIENCE = "devzones"
ROLES_CLAIM = "realm_access.roles"


class Provider:
    """A JWKS and a discovery document, with the keys it publishes and a count of the requests."""

    def __init__(self) -> None:
        self.published: dict[str, Any] = {}  # kid -> private key
        self.extra: list[dict[str, Any]] = []  # JWKs published as they are
        self.jwks_requests = 0
        self.discovery_requests = 0
        self.issuer = ""

    def publish(self, kid: str, key: Any) -> None:
        self.published[kid] = key

    def jwk(self, kid: str, key: Any) -> dict[str, Any]:
        if isinstance(key, rsa.RSAPrivateKey):
            data = RSAAlgorithm.to_jwk(key.public_key(), as_dict=True)
            data["alg"] = "RS256"
        else:
            data = ECAlgorithm.to_jwk(key.public_key(), as_dict=True)
            data["alg"] = "ES256"
        return {**data, "kid": kid, "use": "sig"}

    async def discovery(self, request: Request) -> JSONResponse:
        self.discovery_requests += 1
        return JSONResponse({"issuer": self.issuer, "jwks_uri": self.issuer + "/certs"})

    async def certs(self, request: Request) -> JSONResponse:
        self.jwks_requests += 1
        return JSONResponse({"keys": [*self.extra, *(self.jwk(kid, key) for kid, key in self.published.items())]})

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/.well-known/openid-configuration", self.discovery),
                Route("/certs", self.certs),
            ]
        )


@contextlib.asynccontextmanager
async def running(provider: Provider) -> AsyncIterator[str]:
    async with serving(provider.app()) as url:
        provider.issuer = url
        yield url


def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def claims(issuer: str, **extra: Any) -> dict[str, Any]:
    now = int(time.time())
    base: dict[str, Any] = {
        "sub": "user-1",
        "iss": issuer,
        "aud": [AUDIENCE, "account"],
        "iat": now,
        "exp": now + 300,
        "realm_access": {"roles": ["city_admin", "offline_access"]},
    }
    base.update(extra)
    return {k: v for k, v in base.items() if v is not None}


def sign(payload: dict[str, Any], key: Any, kid: str, alg: str = "RS256") -> str:
    return jwt.encode(payload, key, algorithm=alg, headers={"kid": kid})


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def by_hand(header: dict[str, Any], payload: dict[str, Any], secret: bytes | None) -> str:
    """A token put together without PyJWT (which refuses to make these): HS256 over ``secret``, or unsigned."""
    signing_input = _b64(json.dumps(header).encode()) + "." + _b64(json.dumps(payload).encode())
    signature = b"" if secret is None else hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return signing_input + "." + _b64(signature)


def oidc_settings(issuer: str, **extra: Any) -> dict[str, Any]:
    return {"oidc_issuer": issuer, "oidc_audience": AUDIENCE, "oidc_roles_claim": ROLES_CLAIM, **extra}


async def post_division(client: Any, token: str) -> Any:
    # City administrators only; an empty body passes authentication and the role check, then is a 422.
    return await client.post("/v1/divisions", json={}, headers={"Authorization": f"Bearer {token}"})


def code_of(response: Any) -> str:
    code: str = response.json()["code"]
    return code


async def test_provider_tokens_through_a_service(app_client: Callable[..., Any]) -> None:
    provider, key, ec_key = Provider(), rsa_key(), ec.generate_private_key(ec.SECP256R1())
    provider.publish("rsa-1", key)
    provider.publish("ec-1", ec_key)
    stranger = rsa_key()
    async with running(provider) as issuer, app_client("registry", **oidc_settings(issuer)) as client:
        assert provider.discovery_requests == 1 and provider.jwks_requests == 1  # fetched at start-up
        assert (await client.get("/readyz")).status_code == 200

        assert (await post_division(client, sign(claims(issuer), key, "rsa-1"))).status_code == 422
        assert (await post_division(client, sign(claims(issuer), ec_key, "ec-1", "ES256"))).status_code == 422
        # aud as a plain string; exp passed 10 s ago, within the 30 s leeway
        ok = claims(issuer, aud=AUDIENCE, exp=int(time.time()) - 10)
        assert (await post_division(client, sign(ok, key, "rsa-1"))).status_code == 422
        no_admin = claims(issuer, realm_access={"roles": ["applicant"]}, roles=["city_admin"])
        denied = await post_division(client, sign(no_admin, key, "rsa-1"))  # the top-level roles claim is not read
        assert (denied.status_code, code_of(denied)) == (403, "role_required")

        refused = {
            "wrong audience": (sign(claims(issuer, aud="account"), key, "rsa-1"), "token_audience_mismatch"),
            "no audience": (sign(claims(issuer, aud=None), key, "rsa-1"), "token_invalid"),
            "wrong issuer": (sign(claims("https://elsewhere.example"), key, "rsa-1"), "token_issuer_mismatch"),
            "expired": (sign(claims(issuer, exp=int(time.time()) - 60), key, "rsa-1"), "token_expired"),
            "not yet valid": (sign(claims(issuer, nbf=int(time.time()) + 120), key, "rsa-1"), "token_invalid"),
            "issued in the future": (sign(claims(issuer, iat=int(time.time()) + 120), key, "rsa-1"), "token_invalid"),
            "no sub": (sign(claims(issuer, sub=None), key, "rsa-1"), "token_invalid"),
            "alg none": (by_hand({"alg": "none", "kid": "rsa-1"}, claims(issuer), None), "token_algorithm_refused"),
            "signed by another key": (sign(claims(issuer), stranger, "rsa-1"), "token_invalid"),
            "unknown kid": (sign(claims(issuer), stranger, "rsa-9"), "token_key_unknown"),
            "RS256 header on the EC key": (sign(claims(issuer), key, "ec-1"), "token_algorithm_refused"),
            "not a JWT": ("abc.def", "token_invalid"),
        }
        public_pem = key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        refused["HS256 with the public key"] = (
            by_hand({"alg": "HS256", "typ": "JWT", "kid": "rsa-1"}, claims(issuer), public_pem),
            "token_algorithm_refused",
        )
        for case, (token, code) in refused.items():
            answer = await post_division(client, token)
            assert (case, answer.status_code, code_of(answer)) == (case, 401, code)


async def test_key_rotation_and_the_refetch_throttle(app_client: Callable[..., Any]) -> None:
    provider, old, new = Provider(), rsa_key(), rsa_key()
    provider.publish("k1", old)
    settings = oidc_settings("", oidc_refetch_interval_seconds=30)
    async with running(provider) as issuer:
        settings["oidc_issuer"] = issuer
        async with app_client("registry", **settings) as client:
            verifier: OidcVerifier = client.app.state.runtime.verifier
            offset = [0.0]
            verifier.clock = lambda: time.monotonic() + offset[0]
            assert provider.jwks_requests == 1

            # the provider rotates: k2 replaces k1
            provider.published = {"k2": new}
            offset[0] = 31  # past the refetch interval since the start-up fetch
            assert (await post_division(client, sign(claims(issuer), new, "k2"))).status_code == 422
            assert provider.jwks_requests == 2
            gone = await post_division(client, sign(claims(issuer), old, "k1"))
            assert (gone.status_code, code_of(gone)) == (401, "token_key_unknown")
            # that unknown kid came 0 s after the last fetch: no fetch for it
            assert provider.jwks_requests == 2

            # a flood of random kids 10 s later: still within 30 s of the last fetch, none
            offset[0] = 41
            for _ in range(25):
                answer = await post_division(client, sign(claims(issuer), old, uuid.uuid4().hex))
                assert code_of(answer) == "token_key_unknown"
            assert provider.jwks_requests == 2
            # 31 s after the last fetch: the first of the next flood fetches, the other 24 do not
            offset[0] = 62
            for _ in range(25):
                await post_division(client, sign(claims(issuer), old, uuid.uuid4().hex))
            assert provider.jwks_requests == 3
            assert provider.discovery_requests == 3  # each fetch goes through discovery


async def test_a_concurrent_flood_of_random_kids_fetches_once_per_interval() -> None:
    """Requests racing in at once with unknown kids: the first takes the fetch, the others wait for
    it and then find the interval not yet passed (the verifier's lock), so one fetch in all."""
    provider, key = Provider(), rsa_key()
    provider.publish("k1", key)
    async with running(provider) as issuer:
        verifier = OidcVerifier(RegistrySettings(**oidc_settings(issuer, oidc_refetch_interval_seconds=30)))
        offset = [0.0]
        verifier.clock = lambda: time.monotonic() + offset[0]
        assert await verifier.refresh()
        assert provider.jwks_requests == 1
        offset[0] = 31  # past the interval: one more fetch is allowed

        async def attempt() -> str | None:
            try:
                await verifier.verify(sign(claims(issuer), key, uuid.uuid4().hex))
            except Unauthorized as exc:
                return exc.code
            return None

        codes = await asyncio.gather(*(attempt() for _ in range(40)))
        assert codes == ["token_key_unknown"] * 40
        assert provider.jwks_requests == 2
        assert (await verifier.verify(sign(claims(issuer), key, "k1"))).roles == frozenset({Role.CITY_ADMIN})
        assert provider.jwks_requests == 2  # a known kid fetches nothing


async def test_provider_stopped_after_the_first_fetch(app_client: Callable[..., Any]) -> None:
    provider, key = Provider(), rsa_key()
    provider.publish("k1", key)
    provider_ctx = running(provider)
    issuer = await provider_ctx.__aenter__()
    try:
        settings = oidc_settings(issuer, oidc_keys_max_age_seconds=60, oidc_refetch_interval_seconds=5)
        async with app_client("registry", **settings) as client:
            verifier: OidcVerifier = client.app.state.runtime.verifier
            offset = [0.0]
            verifier.clock = lambda: time.monotonic() + offset[0]
            token = sign(claims(issuer), key, "k1")
            assert (await post_division(client, token)).status_code == 422
            await provider_ctx.__aexit__(None, None, None)
            provider_ctx = None  # type: ignore[assignment]
            offset[0] = 61  # the keys are stale: a refetch is tried, fails, and the cached key still answers
            assert (await post_division(client, token)).status_code == 422
            assert verifier.last_error is not None
            assert (await client.get("/readyz")).status_code == 200  # keys were fetched once: ready
    finally:
        if provider_ctx is not None:
            await provider_ctx.__aexit__(None, None, None)


async def test_never_reachable_provider_is_503(app_client: Callable[..., Any]) -> None:
    issuer = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    key = rsa_key()
    async with app_client("registry", **oidc_settings(issuer, oidc_timeout_seconds=1)) as client:
        answer = await post_division(client, sign(claims(issuer), key, "k1"))
        assert (answer.status_code, code_of(answer)) == (503, "identity_provider_unavailable")
        ready = await client.get("/readyz")
        assert (ready.status_code, code_of(ready)) == (503, "identity_provider_unavailable")
        assert "never fetched" in ready.json()["detail"]
        # without a token it is still a 401: nothing to verify
        missing = await client.post("/v1/divisions", json={})
        assert (missing.status_code, code_of(missing)) == (401, "token_missing")


async def test_the_jwks_url_skips_discovery_and_hs256_is_refused() -> None:
    provider, key = Provider(), rsa_key()
    provider.publish("k1", key)
    # keys the verifier cannot use do not spoil the one it can: a malformed RSA key, an encryption
    # key, a symmetric key, an HS256 key
    provider.extra = [
        {"kty": "RSA", "kid": "bad", "n": "!!", "e": "AQAB"},
        {**provider.jwk("enc", rsa_key()), "use": "enc"},
        {"kty": "oct", "kid": "oct", "k": _b64(b"x" * 32)},
        {"kty": "oct", "kid": "hs", "k": _b64(b"x" * 32), "alg": "HS256"},
    ]
    async with running(provider) as issuer:
        settings = RegistrySettings(**oidc_settings(issuer, oidc_jwks_url=issuer + "/certs"))
        verifier = OidcVerifier(settings)
        actor = await verifier.verify(sign(claims(issuer, division="330102"), key, "k1"))
        assert (actor.sub, actor.roles, actor.division) == ("user-1", frozenset({Role.CITY_ADMIN}), "330102")
        assert (provider.discovery_requests, provider.jwks_requests) == (0, 1)
        hs = by_hand({"alg": "HS256", "kid": "hs"}, claims(issuer), b"x" * 32)
        with pytest.raises(Unauthorized) as refused:
            await verifier.verify(hs)
        assert refused.value.code == "token_algorithm_refused"
        with pytest.raises(Unauthorized):
            await verifier.verify(jwt.encode(claims(issuer), "x" * 40, algorithm="HS256"))
        # the rate limiter counts a provider's token against its subject, a refused one against the address
        limiter = RateLimiter("10/second", "", "HS256", verifier)
        assert await limiter.client(b"Bearer " + sign(claims(issuer), key, "k1").encode(), "10.0.0.1") == "sub:user-1"
        forged = sign(claims(issuer), rsa_key(), "k1").encode()
        assert await limiter.client(b"Bearer " + forged, "10.0.0.1") == "ip:10.0.0.1"


async def test_never_fetched_verifier_raises_upstream_unavailable() -> None:
    settings = RegistrySettings(**oidc_settings(f"http://127.0.0.1:{free_port()}", oidc_timeout_seconds=1))
    verifier = OidcVerifier(settings)
    with pytest.raises(UpstreamUnavailable):
        await verifier.verify(sign(claims(settings.oidc_issuer or ""), rsa_key(), "k1"))
    assert verifier.last_error is not None and not verifier.ready


def test_settings_refuse_symmetric_algorithms_and_a_missing_audience() -> None:
    assert RegistrySettings().oidc_algorithms == ["RS256", "ES256"]
    assert RegistrySettings(oidc_algorithms="RS256, PS256").oidc_algorithms == ["RS256", "PS256"]
    for bad in ("HS256", "none", "RS256,HS512", ""):
        with pytest.raises(ValueError):
            RegistrySettings(oidc_algorithms=bad)
    with pytest.raises(ValueError):
        RegistrySettings(oidc_issuer="https://id.example")  # no audience
    with pytest.raises(ValueError):
        RegistrySettings(oidc_jwks_url="https://id.example/certs", oidc_audience="devzones")  # no issuer
    assert not RegistrySettings().oidc_enabled


def test_settings_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEVZONES_OIDC_ISSUER", "https://id.example/realms/city")
    monkeypatch.setenv("DEVZONES_OIDC_AUDIENCE", "devzones")
    monkeypatch.setenv("DEVZONES_OIDC_ROLES_CLAIM", "resource_access.devzones.roles")
    monkeypatch.setenv("DEVZONES_OIDC_DIVISION_CLAIM", "county")
    monkeypatch.setenv("DEVZONES_OIDC_ALGORITHMS", "ES256")
    monkeypatch.setenv("DEVZONES_OIDC_LEEWAY_SECONDS", "5")
    s = RegistrySettings()
    assert (s.oidc_enabled, s.oidc_issuer, s.oidc_roles_claim, s.oidc_division_claim) == (
        True,
        "https://id.example/realms/city",
        "resource_access.devzones.roles",
        "county",
    )
    assert (s.oidc_zone_claim, s.oidc_department_claim, s.oidc_algorithms, s.oidc_leeway_seconds) == (
        "zone",
        "department",
        ["ES256"],
        5,
    )


def test_dotted_claim_paths() -> None:
    token = {
        "sub": "u",
        "realm_access": {"roles": ["county", "uma_authorization"]},
        "resource_access": {"devzones": {"roles": ["reviewer"]}, "account": {"roles": ["manage-account"]}},
        "https://city.example/zone": "z-7",
        "org": {"division": "330102", "dept": 5},
    }
    assert claim_at(token, "realm_access.roles") == ["county", "uma_authorization"]
    assert claim_at(token, "resource_access.devzones.roles") == ["reviewer"]
    assert claim_at(token, "resource_access.other.roles") is None
    assert claim_at(token, "sub.x") is None  # a step into a string
    assert claim_at(token, "https://city.example/zone") == "z-7"  # a name holding dots
    assert roles_from(["county", "uma_authorization", 3, "city_admin"]) == ["city_admin", "county"]
    assert roles_from("reviewer") == ["reviewer"]
    assert roles_from({"county": True}) == []
    assert roles_from(None) == []

    settings = RegistrySettings(
        oidc_roles_claim="resource_access.devzones.roles",
        oidc_division_claim="org.division",
        oidc_zone_claim="https://city.example/zone",
    )
    actor = actor_from_claims(token, settings)
    assert (actor.sub, actor.roles, actor.division, actor.zone, actor.department) == (
        "u",
        frozenset({Role.REVIEWER}),
        "330102",
        "z-7",
        None,
    )
    with pytest.raises(Unauthorized) as info:
        actor_from_claims(token, RegistrySettings(oidc_department_claim="org.dept"))  # 5 is not a string
    assert info.value.code == "token_claims_malformed"


def test_the_actor_carries_the_issuer_and_the_client_the_token_was_issued_to() -> None:
    settings = RegistrySettings(oidc_roles_claim=ROLES_CLAIM)
    base = {"sub": "svc-1", "iss": "https://idp.example/realms/city", "realm_access": {"roles": ["county"]}}
    cases = {
        "azp": ({**base, "azp": "county-stats"}, "county-stats"),
        "azp before client_id": ({**base, "azp": "portal", "client_id": "other"}, "portal"),
        "client_id alone": ({**base, "client_id": "county-stats"}, "county-stats"),
        "neither (a person)": (base, None),
    }
    for case, (token, client) in cases.items():
        actor = actor_from_claims(token, settings)
        assert (case, actor.issuer, actor.client_id) == (case, "https://idp.example/realms/city", client)
    with pytest.raises(Unauthorized) as info:
        actor_from_claims({**base, "azp": ["not", "a", "string"]}, settings)
    assert info.value.code == "token_claims_malformed"


async def test_a_provider_tokens_write_is_audited_with_its_issuer_and_client(app_client: Callable[..., Any]) -> None:
    provider, key = Provider(), rsa_key()
    provider.publish("rsa-1", key)
    body = {"code": "130700", "name": "张家口市", "valid_from": "2000-01-01", "is_city": True}
    async with running(provider) as issuer, app_client("registry", **oidc_settings(issuer)) as client:
        machine = sign(claims(issuer, sub="svc-sync", azp="city-sync"), key, "rsa-1")
        person = sign(claims(issuer, sub="user-1"), key, "rsa-1")
        written = await client.post("/v1/divisions", json=body, headers={"Authorization": f"Bearer {machine}"})
        log = await client.get("/v1/audit", headers={"Authorization": f"Bearer {person}"})
    assert written.status_code == 201, written.text
    assert [(e["sub"], e["issuer"], e["client_id"]) for e in log.json()["items"]] == [("svc-sync", issuer, "city-sync")]
