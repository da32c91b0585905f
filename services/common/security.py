"""Signing keys and JWTs (PyJWT).

In development the signing key lives in ``<data dir>/jwt-secret`` (created on first use,
mode 600) so that ``devzones token`` and the services started with the same data dir
agree. Outside development a key must be configured (``DEVZONES_JWT_SECRET``), at least
32 characters, and never the development placeholder.
"""

from __future__ import annotations

import os
import secrets
import time
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

import jwt
from pydantic import ValidationError

from libs.domain.kernel.contracts import Actor
from libs.domain.kernel.errors import Unauthorized
from libs.domain.kernel.i18n import Text
from libs.domain.kernel.values import Role
from services.common.settings import ServiceSettings

DEV_SECRET_FILE = "jwt-secret"
INSECURE_SECRETS = frozenset({"", "changeme", "change-me", "secret", "development", "devzones"})
MIN_SECRET_LENGTH = 32
ISSUER = "devzones"


class InsecureConfiguration(RuntimeError):
    """Refuses to start a service outside development with a default or missing key."""


def dev_secret(data_dir: Path) -> str:
    """Read the development signing key from ``data_dir``, creating it (mode 600) if absent."""
    return dev_secret_made(data_dir)[0]


def dev_secret_made(data_dir: Path) -> tuple[str, bool]:
    """The development signing key of ``data_dir``, and whether this call has just created it.

    Every service started with a data dir reads (or creates) its key when it starts, so a key
    created now is one that no running service uses yet."""
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / DEV_SECRET_FILE
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text(encoding="ascii").strip(), False
    key = secrets.token_urlsafe(48)
    with os.fdopen(fd, "w", encoding="ascii") as fh:
        fh.write(key)
    return key, True


SHARED_SECRET_WARNING = (
    "tokens are verified with a shared HS256 secret (DEVZONES_JWT_SECRET): every holder of it, each "
    "service and whoever configures one, can mint any role's token; configure the city's identity "
    "provider for production"
)
"""What a service logs when it starts outside development with a shared secret (issue #17)."""


def signing_key(settings: ServiceSettings) -> str:
    """The key tokens are signed and verified with, refusing missing or weak keys outside development."""
    configured = settings.jwt_secret.get_secret_value() if settings.jwt_secret else None
    if settings.env != "development":
        if configured is None or configured.strip().lower() in INSECURE_SECRETS or len(configured) < MIN_SECRET_LENGTH:
            raise InsecureConfiguration(
                "DEVZONES_JWT_SECRET must be set to a random key of at least "
                f"{MIN_SECRET_LENGTH} characters outside development mode"
            )
        return configured
    return configured if configured else dev_secret(settings.data_dir)


def issue_token(
    key: str,
    *,
    sub: str,
    roles: list[Role] | list[str],
    division: str | None = None,
    zone: str | None = None,
    department: str | None = None,
    client_id: str | None = None,
    ttl_seconds: int = 3600,
    algorithm: str = "HS256",
) -> str:
    """Sign a token carrying the caller's roles and scope claims (and ``azp``, the client it is
    issued to, when ``client_id`` is given: a machine client such as a county system)."""
    now = int(time.time())
    claims: dict[str, Any] = {"sub": sub, "roles": [str(r) for r in roles], "iat": now, "exp": now + ttl_seconds}
    claims["iss"] = ISSUER
    for name, value in (("division", division), ("zone", zone), ("department", department), ("azp", client_id)):
        if value is not None:
            claims[name] = value
    return jwt.encode(claims, key, algorithm=algorithm)


def decode_token(token: str, key: str, algorithm: str = "HS256") -> Actor:
    """Verify a token and return the caller; raise :class:`Unauthorized` on any fault.

    The signature check and claim parsing of a token string are remembered (bounded LRU keyed
    by the exact token, key and algorithm): a client sends the same token on every call, and
    verifying it again would cost more than a small endpoint's own work. Expiry is still
    checked on every call, against the clock.
    """
    actor, expires = _verified(token, key, algorithm)
    if expires <= time.time():
        raise Unauthorized(EXPIRED, code="token_expired")
    return actor


def client_of(claims: Mapping[str, Any]) -> Any:
    """The client a token was issued to: its ``azp`` claim, else its ``client_id`` claim, else None
    (a person's token from a browser login names no client of its own in most providers)."""
    azp = claims.get("azp")
    return azp if azp is not None else claims.get("client_id")


EXPIRED = Text("令牌已过期", "the token has expired")


@lru_cache(maxsize=4096)
def _verified(token: str, key: str, algorithm: str) -> tuple[Actor, float]:
    try:
        claims = jwt.decode(
            token, key, algorithms=[algorithm], issuer=ISSUER, options={"require": ["sub", "exp", "iss"]}
        )
    except jwt.ExpiredSignatureError as exc:
        raise Unauthorized(EXPIRED, code="token_expired") from exc
    except jwt.PyJWTError as exc:
        raise Unauthorized(Text(f"令牌无效：{exc}", f"the token is not valid: {exc}"), code="token_invalid") from exc
    try:
        actor = Actor.model_validate(
            {
                "sub": claims["sub"],
                "roles": claims.get("roles", []),
                "division": claims.get("division"),
                "zone": claims.get("zone"),
                "department": claims.get("department"),
                "issuer": claims["iss"],
                "client_id": client_of(claims),
            }
        )
    except ValidationError as exc:
        raise Unauthorized(
            Text(
                "令牌的声明格式有误（roles、division、zone、department、azp 或 client_id）",
                "the token's claims are malformed (roles, division, zone, department, azp or client_id)",
            ),
            code="token_claims_malformed",
        ) from exc
    return actor, float(claims["exp"])
