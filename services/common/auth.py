"""Bearer-token authentication and role checks as FastAPI dependencies.

Routes either depend on :func:`require` (protected) or carry ``openapi_extra=PUBLIC``
(explicitly public). Per-resource scope checks (this county's zones only, this zone's cases
only) belong to each service's use cases, which receive the :class:`Actor`.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Annotated, Any

from fastapi import Depends, Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from libs.domain.kernel.contracts import Actor
from libs.domain.kernel.errors import Forbidden, Unauthorized
from libs.domain.kernel.i18n import Text
from libs.domain.kernel.values import Role
from services.common.audit import note_actor
from services.common.security import decode_token

PUBLIC: dict[str, Any] = {"x-devzones-public": True}
"""``openapi_extra`` marking a route as readable without a token."""

_bearer = HTTPBearer(auto_error=False, description="A JWT from `devzones token` or the city's identity provider.")

# Which scope claims a role is meaningless without.
REQUIRED_SCOPE: dict[Role, tuple[str, ...]] = {
    Role.COUNTY: ("division",),
    Role.ZONE_COMMITTEE: ("zone",),
    Role.WINDOW_CLERK: ("zone",),
    Role.BUREAU_ADMIN: ("zone",),
    Role.REVIEWER: ("zone", "department"),
}


async def bearer_actor(request: Request, authorization: str | None) -> Actor:
    """The caller named by an ``Authorization`` header value; 401 problem without a valid bearer token.

    With OIDC configured, the token is verified against the identity provider's keys (a 503 problem
    if they were never fetched); else with the shared HS256 key."""
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized(
            Text(
                "此接口需要“Authorization: Bearer <令牌>”请求头",
                "this route needs an 'Authorization: Bearer <token>' header",
            ),
            code="token_missing",
        )
    runtime = request.app.state.runtime
    if runtime.verifier is not None:
        actor: Actor = await runtime.verifier.verify(token.strip())
    else:
        actor = decode_token(token.strip(), runtime.signing_key, runtime.settings.jwt_algorithm)
    note_actor(actor)  # the audit log names the caller of every write (services/common/audit.py)
    return actor


def admit(actor: Actor, roles: tuple[Role, ...]) -> Actor:
    """``actor`` if it holds one of ``roles`` with that role's scope claims, else a 403 problem."""
    held = [r for r in roles if r in actor.roles]
    if not held:
        raise Forbidden(
            Text(
                f"此操作需要以下角色之一：{'、'.join(sorted(roles))}",
                f"this action needs one of the roles: {', '.join(sorted(roles))}",
            ),
            code="role_required",
            required_roles=sorted(roles),
        )
    for role in held:
        missing = [c for c in REQUIRED_SCOPE.get(role, ()) if getattr(actor, c) is None]
        if not missing:
            return actor
    claims = REQUIRED_SCOPE[held[0]]
    raise Forbidden(
        Text(
            f"令牌中的角色还需要范围声明：{'、'.join(claims)}",
            f"the token's role needs the scope claim(s): {', '.join(claims)}",
        ),
        code="scope_claim_missing",
    )


async def authenticate(request: Request, *roles: Role) -> Actor:
    """:func:`require` as a plain call, for a hot route (:mod:`services.common.hot`), which runs
    without FastAPI's dependency solving."""
    return admit(await bearer_actor(request, request.headers.get("authorization")), roles)


async def current_actor(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)]
) -> Actor:
    """The caller of a protected route; 401 problem without a valid bearer token."""
    if credentials is None:
        return await bearer_actor(request, None)
    return await bearer_actor(request, f"{credentials.scheme} {credentials.credentials}")


CurrentActor = Annotated[Actor, Depends(current_actor)]


async def optional_actor(request: Request) -> Actor | None:
    """The caller of a public route that shows more to some roles: None without an ``Authorization``
    header, a 401 problem with an invalid one. Read from the request, so the route stays public
    in the OpenAPI (no security requirement)."""
    header = request.headers.get("authorization")
    return None if header is None else await bearer_actor(request, header)


OptionalActor = Annotated[Actor | None, Depends(optional_actor)]


def require(*roles: Role) -> Callable[..., Coroutine[Any, Any, Actor]]:
    """A dependency admitting callers that hold one of ``roles`` with that role's scope claims."""

    async def _check(actor: CurrentActor) -> Actor:
        return admit(actor, roles)

    return _check
