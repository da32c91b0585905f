"""One error hierarchy for the whole system.

Services raise these; one handler turns each into an RFC 9457 problem. The HTTP status
lives on the class because every consumer of the hierarchy (services, clients, tests)
needs the same mapping, and keeping it in one place prevents drift.
"""

from __future__ import annotations

from typing import Any, ClassVar

from libs.domain.kernel.i18n import Text

RESERVED_MEMBERS = frozenset({"type", "title", "status", "detail", "instance", "headers", "type_", "code"})
"""RFC 9457 members (and the builder's own arguments) an error's extras may not use."""


class DomainError(Exception):
    """Base of every expected error; carries what a problem document needs."""

    status: ClassVar[int] = 400
    slug: ClassVar[str] = "bad-request"
    title: ClassVar[Text] = Text("请求有误", "Bad request")

    def __init__(self, detail: str | Text, /, *, code: str | None = None, **extra: Any) -> None:
        """``detail`` says what went wrong in this request (a :class:`Text`: Chinese and English;
        a plain ``str`` only for text that is the same in both, such as a name); ``code`` is the
        stable machine-readable code (default: the kind's, e.g. ``not_found``)."""
        clash = RESERVED_MEMBERS.intersection(extra)
        if clash:  # a programming error: the problem document's own members cannot be overwritten
            raise TypeError(f"problem members {sorted(clash)} are reserved; name the extra otherwise")
        super().__init__(str(detail))
        self.detail = detail
        self.code = code or self.slug.replace("-", "_")
        self.extra: dict[str, Any] = extra

    @property
    def type_uri(self) -> str:
        """The problem ``type`` URI identifying this kind of error."""
        return f"urn:devzones:problem:{self.slug}"


class Unauthorized(DomainError):
    """No credentials, or credentials that cannot be verified."""

    status = 401
    slug = "unauthorized"
    title = Text("需要登录凭据", "Authentication required")


class Forbidden(DomainError):
    """Valid credentials without the role or scope the action needs."""

    status = 403
    slug = "forbidden"
    title = Text("无权进行此操作", "Not allowed")


class NotFound(DomainError):
    """The named resource does not exist (or is not visible to the caller)."""

    status = 404
    slug = "not-found"
    title = Text("未找到", "Not found")


class Conflict(DomainError):
    """The action is not allowed in the resource's current state."""

    status = 409
    slug = "conflict"
    title = Text("与当前状态冲突", "Conflict with the current state")


class PreconditionFailed(DomainError):
    """An ``If-Match`` or version precondition did not hold."""

    status = 412
    slug = "precondition-failed"
    title = Text("前提条件不成立", "Precondition failed")


class PayloadTooLarge(DomainError):
    """The request body or batch exceeds a stated limit."""

    status = 413
    slug = "payload-too-large"
    title = Text("请求内容过大", "Payload too large")


class Unprocessable(DomainError):
    """The request is well-formed but breaks a domain rule; ``errors`` lists each fault."""

    status = 422
    slug = "unprocessable"
    title = Text("请求违反规则", "The request breaks a rule")

    def __init__(
        self,
        detail: str | Text,
        /,
        errors: list[dict[str, Any]] | None = None,
        *,
        code: str | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail, code=code, **extra)
        self.errors: list[dict[str, Any]] = list(errors or [])
        if self.errors:
            self.extra["errors"] = self.errors


class Locked(DomainError):
    """The resource is locked (e.g. a data period used by an assessment)."""

    status = 423
    slug = "locked"
    title = Text("已锁定", "Locked")


class UpstreamError(DomainError):
    """Another service answered with something this service cannot use."""

    status = 502
    slug = "upstream-error"
    title = Text("上游服务出错", "Upstream service error")


class UpstreamUnavailable(DomainError):
    """Another service (or the database) cannot be reached; the action fails closed."""

    status = 503
    slug = "upstream-unavailable"
    title = Text("本请求所需的服务暂不可用", "A service this request needs is unavailable")
