"""Tokens from a real OpenID Connect provider, checked by the four services running as processes (issue #17).

The provider is ``oidc-provider`` (panva, OpenID Certified), pinned in ``provider/package-lock.json``
and installed by ``npm ci`` on first use (``tests/node.py``); ``provider/provider.mjs`` configures it
on loopback: JWT access tokens for the resource ``urn:devzones`` (audience ``devzones``) and for
``urn:other`` (audience ``other-api``), roles at ``realm_access.roles`` (Keycloak's shape), two
county machine clients (client credentials) and a user who signs in through the provider's own
login and consent forms (authorization code with PKCE, driven here with httpx). The test makes the
provider's signing keys, so it can also forge what the provider would never issue with the
provider's own key. ``devzones up --no-demo`` runs the services against it.

What each check expects is worked out from the provider's configuration and the codes in
``services/common/oidc.py`` and ``services/common/security.py``, not read from an answer.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import secrets
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from services.common.security import DEV_SECRET_FILE
from tests import node as npm_packages
from tests.e2e.stack import SERVICES, Running, start_up, stop
from tests.helpers import free_port_base

pytestmark = pytest.mark.e2e

HERE = Path(__file__).parent / "provider"
AUDIENCE = "devzones"
REDIRECT_URI = "http://127.0.0.1/callback"  # as registered for devzones-web in provider.mjs; never called
ZHANGBEI, KANGBAO = "130722", "130723"  # county-zhangbei's and county-other's divisions (provider.mjs)
PERIOD = "2020"
BACKENDS = ("sqlite", "postgresql")  # as tests/conftest.py's backend fixture


def private_jwk(kid: str) -> tuple[rsa.RSAPrivateKey, dict[str, Any]]:
    """A new RSA key and its private JWK, as the provider is given it."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    data = RSAAlgorithm.to_jwk(key, as_dict=True)
    return key, {**data, "kid": kid, "use": "sig", "alg": "RS256"}


STARTUP_SECONDS = 60
"""How long the provider may take to print READY before it is killed and the test fails."""


class IdentityProvider:
    """``provider.mjs`` as a process on a fixed port (its issuer stays the same across restarts)."""

    def __init__(self, node: str, folder: Path) -> None:
        self.node, self.folder = node, folder
        self.port = free_port_base(1)
        self.issuer = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[str] | None = None
        self.key: rsa.RSAPrivateKey | None = None
        self.kid = ""

    def start(self, kid: str) -> None:
        """Start with a new signing key named ``kid`` (the only key it publishes)."""
        self.key, jwk = private_jwk(kid)
        self.kid = kid
        keys = self.folder / f"jwks-{kid}.json"
        keys.write_text(json.dumps({"keys": [jwk]}))
        log = self.folder / f"provider-{kid}.log"
        with log.open("w") as stderr:
            self.proc = subprocess.Popen(
                [self.node, str(HERE / "provider.mjs"), str(self.port), str(keys)],
                cwd=HERE,
                stdout=subprocess.PIPE,
                stderr=stderr,
                text=True,
            )
        assert self.proc.stdout is not None
        # The provider prints READY once it listens, or exits; one that does neither is killed.
        watchdog = threading.Timer(STARTUP_SECONDS, self.proc.kill)
        watchdog.start()
        try:
            line = self.proc.stdout.readline()
        finally:
            watchdog.cancel()
        if not line.startswith("READY"):
            self.proc.kill()
            raise AssertionError(f"the provider did not start: {line}{log.read_text()}")
        assert line.split() == ["READY", self.issuer]

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(timeout=10)
        self.proc = None

    def machine_token(self, client: str, resource: str | None = None, *, basic: bool = True) -> str:
        """An access token for a machine client (client credentials), authenticated with
        client_secret_basic or client_secret_post."""
        form = {"grant_type": "client_credentials"} | ({"resource": resource} if resource else {})
        secret = f"{client}-secret"  # provider.mjs
        auth = (client, secret) if basic else None
        if not basic:
            form |= {"client_id": client, "client_secret": secret}
        answer = httpx.post(f"{self.issuer}/token", data=form, auth=auth, timeout=10)
        assert answer.status_code == 200, answer.text
        token: str = answer.json()["access_token"]
        return token

    def user_token(self, login: str) -> str:
        """An access token for the user ``login``: authorization code with PKCE, signing in and
        consenting through the provider's own forms as a browser would."""
        verifier = secrets.token_urlsafe(48)
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
        state = secrets.token_urlsafe(8)
        with httpx.Client(base_url=self.issuer, follow_redirects=False, timeout=10) as browser:
            answer = browser.get(
                "/auth",
                params={
                    "client_id": "devzones-web",
                    "response_type": "code",
                    "redirect_uri": REDIRECT_URI,
                    "scope": "openid devzones",
                    "resource": "urn:devzones",
                    "code_challenge": challenge,
                    "code_challenge_method": "S256",
                    "state": state,
                },
            )
            prompts = []
            while not (location := answer.headers["location"]).startswith(REDIRECT_URI):
                page = browser.get(location)  # the login form, then the consent form
                assert page.status_code == 200, page.text
                form = re.search(r'<form[^>]*action="([^"]+)"', page.text)
                prompt = re.search(r'name="prompt" value="(\w+)"', page.text)
                assert form and prompt, page.text
                prompts.append(prompt.group(1))
                fields = {"prompt": prompt.group(1)}
                if prompt.group(1) == "login":
                    fields |= {"login": login, "password": "any"}  # the development forms check no password
                submitted = browser.post(form.group(1), data=fields)
                assert submitted.status_code == 303, submitted.text
                answer = browser.get(submitted.headers["location"])  # back to the authorization endpoint
                assert answer.status_code == 303, answer.text
            assert prompts == ["login", "consent"]
            query = parse_qs(urlparse(location).query)
            assert query["state"] == [state] and query["iss"] == [self.issuer]
            exchanged = browser.post(
                "/token",
                data={
                    "grant_type": "authorization_code",
                    "code": query["code"][0],
                    "redirect_uri": REDIRECT_URI,
                    "code_verifier": verifier,
                    "client_id": "devzones-web",
                    "resource": "urn:devzones",
                },
            )
        assert exchanged.status_code == 200, exchanged.text
        token: str = exchanged.json()["access_token"]
        return token

    def sign(self, **claims: Any) -> str:
        """A token signed with the provider's current key and kid: valid unless ``claims`` spoil it."""
        assert self.key is not None
        return jwt.encode(valid_claims(self.issuer, **claims), self.key, algorithm="RS256", headers={"kid": self.kid})

    def public_pem(self) -> bytes:
        assert self.key is not None
        return self.key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )


def valid_claims(issuer: str, **extra: Any) -> dict[str, Any]:
    now = int(time.time())
    claims: dict[str, Any] = {
        "sub": "forged-by-the-test",
        "iss": issuer,
        "aud": AUDIENCE,
        "iat": now,
        "exp": now + 300,
        "realm_access": {"roles": ["city_admin"]},
    }
    return claims | extra


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def by_hand(header: dict[str, Any], claims: dict[str, Any], secret: bytes | None) -> str:
    """A token put together without PyJWT (which refuses to make these): HS256 over ``secret``, or unsigned."""
    signing_input = _b64(json.dumps(header).encode()) + "." + _b64(json.dumps(claims).encode())
    signature = b"" if secret is None else hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return signing_input + "." + _b64(signature)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def problem(answer: httpx.Response) -> tuple[int, str]:
    assert answer.headers["content-type"].startswith("application/problem+json"), answer.text
    code: str = answer.json()["code"]
    return answer.status_code, code


@pytest.fixture(scope="module")
def idp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[IdentityProvider]:
    node = npm_packages.installed(HERE, "the OpenID Connect provider tests (oidc-provider)")
    provider = IdentityProvider(node, tmp_path_factory.mktemp("idp"))
    provider.start("first")
    try:
        yield provider
    finally:
        provider.stop()


def oidc_env(idp: IdentityProvider) -> dict[str, str]:
    return {
        "DEVZONES_OIDC_ISSUER": idp.issuer,
        "DEVZONES_OIDC_AUDIENCE": AUDIENCE,
        "DEVZONES_OIDC_ROLES_CLAIM": "realm_access.roles",
        "DEVZONES_OIDC_REFETCH_INTERVAL_SECONDS": "1",
    }


@pytest.fixture(scope="module", params=BACKENDS)
def stack(
    request: pytest.FixtureRequest, idp: IdentityProvider, databases: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Running]:
    """``devzones up --no-demo`` against the provider, once per backend for the whole module."""
    env = oidc_env(idp)
    if request.param == "postgresql":
        for service in SERVICES:
            env[f"{service.upper()}_DATABASE_URL"] = databases.new_pg_database(f"oidc_{service}")
    running = start_up(tmp_path_factory.mktemp("stack"), env, "--no-demo")
    try:
        yield running
    finally:
        if running.proc.poll() is None:
            stop(running)


@pytest.fixture(scope="module")
def zones(stack: Running, idp: IdentityProvider) -> dict[str, str]:
    """Through the user's token (city_admin at the provider): the city and two counties, a zone in
    each county, an indicator; the zone ids by county code."""
    admin = bearer(idp.user_token("ada"))
    registry, metrics = stack.urls["registry"], stack.urls["metrics"]
    with httpx.Client(timeout=30) as http:
        for code, name, is_city in (
            ("130700", "张家口市", True),
            (ZHANGBEI, "张北县", False),
            (KANGBAO, "康保县", False),
        ):
            made = http.post(
                f"{registry}/v1/divisions",
                json={"code": code, "name": name, "valid_from": "2000-01-01", "is_city": is_city},
                headers=admin,
            )
            assert made.status_code == 201, made.text
        act = {
            "legal_basis": "测试登记（非正式文件）",
            "effective_on": "2016-01-01",
            "title": "OIDC 测试开发区",
            "operations": [
                {
                    "op": "establish",
                    "ref": "zb",
                    "name": "河北张北经济开发区",
                    "kind": "economic",
                    "authority": ZHANGBEI,
                },
                {
                    "op": "establish",
                    "ref": "kb",
                    "name": "河北康保经济开发区",
                    "kind": "economic",
                    "authority": KANGBAO,
                },
            ],
        }
        recorded = http.post(
            f"{registry}/v1/reorganisations", json=act, headers=admin | {"Idempotency-Key": "oidc-zones"}
        )
        assert recorded.status_code == 201, recorded.text
        ids = recorded.json()["zone_ids_by_ref"]
        indicator = {
            "code": "oidc_gdp",
            "name_zh": "测试指标",
            "name_en": "Test indicator",
            "unit": "万元",
            "kind": "base",
            "period_types": ["year"],
        }
        defined = http.post(f"{metrics}/v1/indicators", json=indicator, headers=admin)
        assert defined.status_code == 201, defined.text
    return {ZHANGBEI: ids["zb"], KANGBAO: ids["kb"]}


def push(stack: Running, token: str, zone_id: str, value: int) -> httpx.Response:
    row = {"zone_id": zone_id, "indicator": "oidc_gdp", "period": PERIOD, "value": value, "unit": "万元"}
    headers = bearer(token) | {"Idempotency-Key": secrets.token_hex(8)}  # a county system must send one
    return httpx.post(
        f"{stack.urls['metrics']}/v1/observations", json={"observations": [row]}, headers=headers, timeout=30
    )


def create_division(stack: Running, token: str, code: str = "130724") -> httpx.Response:
    body = {"code": code, "name": "沽源县", "valid_from": "2000-01-01"}
    return httpx.post(f"{stack.urls['registry']}/v1/divisions", json=body, headers=bearer(token), timeout=30)


class TestTokensFromTheProvider:
    def test_the_users_token_is_accepted_with_roles_from_the_nested_claim(
        self, stack: Running, idp: IdentityProvider, zones: dict[str, str]
    ) -> None:
        token = idp.user_token("ada")
        claims = jwt.decode(token, options={"verify_signature": False})
        # what provider.mjs puts in: a role that is not ours beside city_admin, under realm_access
        assert (claims["sub"], claims["aud"], claims["iss"]) == ("ada", AUDIENCE, idp.issuer)
        assert claims["realm_access"] == {"roles": ["city_admin", "uma_authorization"]}
        assert "roles" not in claims
        # city_admin writes (the zones fixture made its divisions and zones the same way)
        assert create_division(stack, token).status_code == 201
        zone = httpx.get(f"{stack.urls['registry']}/v1/zones/{zones[ZHANGBEI]}", timeout=10)
        assert zone.status_code == 200 and zone.json()["authority"] == ZHANGBEI

    def test_a_role_the_token_lacks_is_403(self, stack: Running, idp: IdentityProvider) -> None:
        county = idp.machine_token("county-zhangbei")
        assert problem(create_division(stack, county, "130725")) == (403, "role_required")

    def test_tokens_the_services_must_refuse_are_each_401_with_their_code(
        self, stack: Running, idp: IdentityProvider
    ) -> None:
        now = int(time.time())
        stranger, _ = private_jwk("stranger")
        refused = {
            "another audience, issued by the provider": (
                idp.machine_token("county-other", "urn:other", basic=False),
                "token_audience_mismatch",
            ),
            "another issuer": (idp.sign(iss=f"http://127.0.0.1:{idp.port + 1}"), "token_issuer_mismatch"),
            "expired an hour ago": (idp.sign(iat=now - 3900, exp=now - 3600), "token_expired"),
            "alg none": (
                by_hand({"alg": "none", "kid": idp.kid}, valid_claims(idp.issuer), None),
                "token_algorithm_refused",
            ),
            "HS256 keyed with the provider's public key": (
                by_hand({"alg": "HS256", "typ": "JWT", "kid": idp.kid}, valid_claims(idp.issuer), idp.public_pem()),
                "token_algorithm_refused",
            ),
            "signed by a key the provider does not publish": (
                jwt.encode(valid_claims(idp.issuer), stranger, algorithm="RS256", headers={"kid": "stranger"}),
                "token_key_unknown",
            ),
        }
        other = jwt.decode(refused["another audience, issued by the provider"][0], options={"verify_signature": False})
        assert other["aud"] == "other-api"
        for case, (token, code) in refused.items():
            assert (case, problem(create_division(stack, token, "130726"))) == (case, (401, code))
        assert create_division(stack, idp.sign(), "130726").status_code == 201  # the same request, a good token


class TestCountyMachineClients:
    def test_a_county_pushes_for_its_own_division_only(
        self, stack: Running, idp: IdentityProvider, zones: dict[str, str]
    ) -> None:
        zhangbei = idp.machine_token("county-zhangbei")  # client_secret_basic
        other = idp.machine_token("county-other", basic=False)  # client_secret_post
        claims = jwt.decode(zhangbei, options={"verify_signature": False})
        assert (claims["sub"], claims["division"], claims["realm_access"]) == (
            "county-zhangbei",
            ZHANGBEI,
            {"roles": ["county"]},
        )

        stored = push(stack, zhangbei, zones[ZHANGBEI], 100)
        assert stored.status_code == 200, stored.text
        assert stored.json()["counts"]["created"] == 1
        assert problem(push(stack, zhangbei, zones[KANGBAO], 100)) == (403, "outside_scope")
        assert problem(push(stack, other, zones[ZHANGBEI], 120)) == (403, "outside_scope")
        assert push(stack, other, zones[KANGBAO], 120).status_code == 200

        admin = bearer(idp.user_token("ada"))
        history = httpx.get(
            f"{stack.urls['metrics']}/v1/observations/history",
            params={"zone_id": zones[ZHANGBEI], "indicator": "oidc_gdp", "period": PERIOD},
            headers=admin,
            timeout=30,
        )
        assert history.status_code == 200, history.text
        assert [(r["new_value"], r["recorded_by"], r["recorded_by_division"]) for r in history.json()["items"]] == [
            ("100", "county-zhangbei", ZHANGBEI)
        ]


class TestTheProvidersKeys:
    def test_a_rotated_key_is_taken_without_restarting_the_services(
        self, stack: Running, idp: IdentityProvider
    ) -> None:
        before = idp.machine_token("county-zhangbei")
        assert jwt.get_unverified_header(before)["kid"] == idp.kid
        idp.stop()
        idp.start(f"rotated-{secrets.token_hex(4)}")  # same port and issuer, only a new key
        after = idp.machine_token("county-zhangbei")
        assert jwt.get_unverified_header(after)["kid"] == idp.kid
        time.sleep(1.1)  # past DEVZONES_OIDC_REFETCH_INTERVAL_SECONDS since any earlier refetch
        # the new kid is unknown to the registry: it fetches the provider's keys again
        assert problem(create_division(stack, after, "130727")) == (403, "role_required")  # verified: a county
        assert create_division(stack, idp.sign(), "130727").status_code == 201
        # the old key is gone from the provider's JWKS, and so from the services'
        assert problem(create_division(stack, before, "130728")) == (401, "token_key_unknown")

    def test_keys_fetched_before_the_provider_stopped_keep_working(self, stack: Running, idp: IdentityProvider) -> None:
        earlier = idp.user_token("ada")
        assert create_division(stack, earlier, "130729").status_code == 201  # the registry has this key now
        kid = idp.kid
        idp.stop()
        try:
            with pytest.raises(httpx.ConnectError):
                httpx.get(f"{idp.issuer}/jwks", timeout=2)
            time.sleep(1.1)  # a refetch is allowed again, and fails
            unknown = jwt.encode(
                valid_claims(idp.issuer), private_jwk("x")[0], algorithm="RS256", headers={"kid": "not-published"}
            )
            assert problem(create_division(stack, unknown, "130730")) == (401, "token_key_unknown")
            assert create_division(stack, earlier, "130730").status_code == 201
            assert create_division(stack, idp.sign(), "130731").status_code == 201  # signed now, same cached key
            ready = httpx.get(f"{stack.urls['registry']}/readyz", timeout=10)
            assert ready.status_code == 200  # keys were fetched once: still ready
        finally:
            idp.start(kid + "-again")


class TestDevzonesUpUnderOidc:
    def test_up_without_no_demo_starts_without_the_demo_and_says_why(
        self, idp: IdentityProvider, tmp_path: Path
    ) -> None:
        running = start_up(tmp_path, oidc_env(idp))  # no --no-demo
        try:
            zones = httpx.get(f"{running.urls['registry']}/v1/zones", timeout=10)
            ready = httpx.get(f"{running.urls['metrics']}/readyz", timeout=10)
        finally:
            assert stop(running) == 0
        assert zones.status_code == 200 and zones.json()["items"] == []  # no demo data
        assert ready.status_code == 200
        log = running.log.read_text()
        assert "the demo data is not loaded: DEVZONES_OIDC_ISSUER is set" in log
        assert "--no-demo" in log
        assert not (running.data_dir / DEV_SECRET_FILE).exists()  # no shared key made either
