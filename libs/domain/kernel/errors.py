"""One error hierarchy for the whole system.

Services raise these; one handler turns each into an RFC 9457 problem. The HTTP status
lives on the class because every consumer of the hierarchy (services, clients, tests)
needs the same mapping, and keeping it in one place prevents drift.
"""

from __future__ import annotations

from typing import Any, ClassVar

RESERVED_MEMBERS = frozenset({"type", "title", "status", "detail", "instance", "headers", "type_"})
"""RFC 9457 members (and the builder's own arguments) an error's extras may not use."""


class DomainError(Exception):
    """Base of every expected error; carries what a problem document needs."""

    status: ClassVar[int] = 400
    slug: ClassVar[str] = "bad-request"
    title: ClassVar[str] = "Bad request"

    def __init__(self, detail: str, /, **extra: Any) -> None:
        clash = RESERVED_MEMBERS.intersection(extra)
        if clash:  # a programming error: the problem document's own members cannot be overwritten
            raise TypeError(f"problem members {sorted(clash)} are reserved; name the extra otherwise")
        super().__init__(detail)
        self.detail = detail
        self.extra: dict[str, Any] = extra

    @property
    def type_uri(self) -> str:
        """The problem ``type`` URI identifying this kind of error."""
        return f"urn:devzones:problem:{self.slug}"


class Unauthorized(DomainError):
    """No credentials, or credentials that cannot be verified."""

    status = 401
    slug = "unauthorized"
    title = "Authentication required"


class Forbidden(DomainError):
    """Valid credentials without the role or scope the action needs."""

    status = 403
    slug = "forbidden"
    title = "Not allowed"


class NotFound(DomainError):
    """The named resource does not exist (or is not visible to the caller)."""

    status = 404
    slug = "not-found"
    title = "Not found"


class Conflict(DomainError):
    """The action is not allowed in the resource's current state."""

    status = 409
    slug = "conflict"
    title = "Conflict with the current state"


class PreconditionFailed(DomainError):
    """An ``If-Match`` or version precondition did not hold."""

    status = 412
    slug = "precondition-failed"
    title = "Precondition failed"


class PayloadTooLarge(DomainError):
    """The request body or batch exceeds a stated limit."""

    status = 413
    slug = "payload-too-large"
    title = "Payload too large"


class Unprocessable(DomainError):
    """The request is well-formed but breaks a domain rule; ``errors`` lists each fault."""

    status = 422
    slug = "unprocessable"
    title = "The request breaks a rule"

    def __init__(self, detail: str, /, errors: list[dict[str, Any]] | None = None, **extra: Any) -> None:
        super().__init__(detail, **extra)
        self.errors: list[dict[str, Any]] = list(errors or [])
        if self.errors:
            self.extra["errors"] = self.errors


class Locked(DomainError):
    """The resource is locked (e.g. a data period used by an assessment)."""

    status = 423
    slug = "locked"
    title = "Locked"


class UpstreamError(DomainError):
    """Another service answered with something this service cannot use."""

    status = 502
    slug = "upstream-error"
    title = "Upstream service error"


class UpstreamUnavailable(DomainError):
    """Another service (or the database) cannot be reached; the action fails closed."""

    status = 503
    slug = "upstream-unavailable"
    title = "A service this request needs is unavailable"
