"""The Keycloak realm export ops import (``deploy/keycloak/zhangjiakou-realm.json``, docs/identity.md)
agrees with what the services read from a token.

No Keycloak runs on this machine, so the file is checked statically against the rules written in
docs/identity.md, and the claims its mappers make (read from the file, as Keycloak's hard-coded-claim
and audience mappers would emit them beside Keycloak's own claims) are run through the real verifier
with the documented settings. Expected roles, divisions and client ids are written here by hand from
docs/api-conventions.md#roles and the division table of docs/domain.md."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from libs.domain.kernel.errors import Unauthorized
from services.common.oidc import OidcVerifier
from services.common.settings import MetricsSettings

REALM_FILE = Path(__file__).resolve().parent.parent / "deploy" / "keycloak" / "zhangjiakou-realm.json"
ISSUER = "https://id.zjk.example.invalid/realms/zhangjiakou"

# docs/api-conventions.md#roles, by hand.
ROLES = {
    "city_admin",
    "commerce_bureau",
    "science_bureau",
    "statistics_bureau",
    "county",
    "zone_committee",
    "bureau_admin",
    "window_clerk",
    "reviewer",
    "applicant",
}
# docs/domain.md, "Divisions": the city's 16 counties and districts and its two management areas.
DIVISIONS = {
    "130702", "130703", "130705", "130706", "130708", "130709", "130722", "130723", "130724",
    "130725", "130726", "130727", "130728", "130730", "130731", "130732", "130771", "130772",
}  # fmt: skip
FLOWS = ("standardFlowEnabled", "implicitFlowEnabled", "directAccessGrantsEnabled", "serviceAccountsEnabled")


@pytest.fixture(scope="module")
def realm() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(REALM_FILE.read_text(encoding="utf-8"))
    return data


def clients(realm: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["clientId"]: c for c in realm["clients"]}


def mappers(client: dict[str, Any], kind: str) -> list[dict[str, str]]:
    return [m["config"] for m in client.get("protocolMappers", []) if m["protocolMapper"] == kind]


def test_the_realm_roles_are_exactly_ours_each_described(realm: dict[str, Any]) -> None:
    roles = realm["roles"]["realm"]
    assert {r["name"] for r in roles} == ROLES
    assert all(r["description"] and not r["composite"] for r in roles)


def test_the_api_client_only_names_the_audience(realm: dict[str, Any]) -> None:
    api = clients(realm)["devzones"]
    assert not any(api[flow] for flow in FLOWS)


def test_every_client_that_gets_tokens_puts_devzones_in_the_access_tokens_audience(realm: dict[str, Any]) -> None:
    issuing = [c for c in realm["clients"] if any(c[flow] for flow in FLOWS)]
    assert len(issuing) == 1 + len(DIVISIONS)
    for client in issuing:
        (audience,) = mappers(client, "oidc-audience-mapper")
        assert (audience["included.client.audience"], audience["access.token.claim"]) == ("devzones", "true")


def test_one_machine_client_per_division_with_the_client_credentials_grant_only(realm: dict[str, Any]) -> None:
    county = {cid: c for cid, c in clients(realm).items() if cid.startswith("county-")}
    assert {cid.removeprefix("county-") for cid in county} == DIVISIONS
    accounts = {u["serviceAccountClientId"]: u for u in realm["users"] if "serviceAccountClientId" in u}
    default_claim = MetricsSettings().oidc_division_claim
    for cid, client in county.items():
        assert client["serviceAccountsEnabled"] and not client["publicClient"]
        assert not any(client[flow] for flow in FLOWS[:3])
        assert "secret" not in client, f"{cid}: a secret is made after import, never committed"
        (division,) = mappers(client, "oidc-hardcoded-claim-mapper")
        assert (division["claim.name"], division["claim.value"]) == (default_claim, cid.removeprefix("county-"))
        assert division["access.token.claim"] == "true"
        assert accounts[cid]["realmRoles"] == ["county"]
        assert accounts[cid]["username"] == f"service-account-{cid}"


def test_people_sign_in_with_pkce_and_carry_their_scope_attributes(realm: dict[str, Any]) -> None:
    web = clients(realm)["devzones-web"]
    assert web["publicClient"] and web["standardFlowEnabled"]
    assert not (web["implicitFlowEnabled"] or web["directAccessGrantsEnabled"] or web["serviceAccountsEnabled"])
    assert web["attributes"]["pkce.code.challenge.method"] == "S256"
    settings = MetricsSettings()
    claims = {m["user.attribute"]: m["claim.name"] for m in mappers(web, "oidc-usermodel-attribute-mapper")}
    assert claims == {
        "division": settings.oidc_division_claim,
        "zone": settings.oidc_zone_claim,
        "department": settings.oidc_department_claim,
    }


def test_the_export_holds_no_secret_or_password(realm: dict[str, Any]) -> None:
    text = REALM_FILE.read_text(encoding="utf-8")
    assert '"secret"' not in text and '"credentials"' not in text and '"password"' not in text
    assert all("credentials" not in u for u in realm["users"])


def keycloak_access_token(realm: dict[str, Any], client_id: str, key: rsa.RSAPrivateKey, **extra: Any) -> str:
    """An access token as Keycloak signs it for ``client_id``'s service account: Keycloak's own claims
    (its default roles beside ours, ``azp``, ``account`` in the audience) plus what this realm's
    mappers add, read from the file."""
    client = clients(realm)[client_id]
    account = next(u for u in realm["users"] if u.get("serviceAccountClientId") == client_id)
    now = int(time.time())
    claims: dict[str, Any] = {
        "exp": now + 300,
        "iat": now,
        "jti": "0b9c-example",
        "iss": ISSUER,
        "aud": [m["included.client.audience"] for m in mappers(client, "oidc-audience-mapper")] + ["account"],
        "sub": "5d1f6a0e-2b7c-4a59-9d0e-0c3c1f6f2a11",
        "typ": "Bearer",
        "azp": client_id,
        "scope": "profile email",
        "realm_access": {"roles": ["default-roles-zhangjiakou", "offline_access", *account["realmRoles"]]},
        "resource_access": {"account": {"roles": ["manage-account"]}},
        "preferred_username": account["username"],
        "client_id": client_id,
    }
    for mapper in mappers(client, "oidc-hardcoded-claim-mapper"):
        claims[mapper["claim.name"]] = mapper["claim.value"]
    claims.update(extra)
    return jwt.encode(claims, key, algorithm="RS256", headers={"kid": "realm-key-1"})


def verifier_for(key: rsa.RSAPrivateKey, **settings: Any) -> OidcVerifier:
    """The verifier configured as docs/identity.md says, fetching this key as the realm's JWKS."""
    jwk = {**json.loads(RSAAlgorithm.to_jwk(key.public_key())), "kid": "realm-key-1", "use": "sig", "alg": "RS256"}
    documents = {
        "/realms/zhangjiakou/.well-known/openid-configuration": {
            "issuer": ISSUER,
            "jwks_uri": ISSUER + "/protocol/openid-connect/certs",
        },
        "/realms/zhangjiakou/protocol/openid-connect/certs": {"keys": [jwk]},
    }

    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=documents[request.url.path])

    configured = MetricsSettings(
        oidc_issuer=ISSUER, oidc_audience="devzones", oidc_roles_claim="realm_access.roles", **settings
    )
    return OidcVerifier(configured, transport=httpx.MockTransport(answer))


async def test_a_county_clients_token_from_this_realm_is_read_as_that_county(realm: dict[str, Any]) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    actor = await verifier_for(key).verify(keycloak_access_token(realm, "county-130722", key))
    assert (actor.sub, sorted(actor.roles), actor.division, actor.zone) == (
        "5d1f6a0e-2b7c-4a59-9d0e-0c3c1f6f2a11",
        ["county"],
        "130722",
        None,
    )


async def test_a_token_meant_for_another_client_is_refused_even_if_devzones_holds_it(realm: dict[str, Any]) -> None:
    """``azp`` names the client a token was issued to, not the API it is for: a token whose ``aud``
    lacks ``devzones`` is refused even when ``azp`` is ``devzones`` (docs/identity.md#audience)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    token = keycloak_access_token(realm, "county-130722", key, aud=["account"], azp="devzones")
    with pytest.raises(Unauthorized) as refused:
        await verifier_for(key).verify(token)
    assert refused.value.code == "token_audience_mismatch"
