"""Contract models shared by every service: problems, pages, health, the caller's identity."""

from __future__ import annotations

from datetime import datetime
from typing import Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from libs.domain.kernel.values import DivisionCode, Role, SerialId

T = TypeVar("T")

MAX_PAGE_LIMIT = 500
DEFAULT_PAGE_LIMIT = 50


class ApiModel(BaseModel):
    """Base of every model the API answers with (docs/api-conventions.md#one-set-of-conventions).

    Its output schema lists every field as required, defaults included, because the service
    always writes every field (``null`` where there is none): a generated client then types
    ``summary.accepted`` as a number, not as possibly missing. Request models may use it too;
    their input schema keeps the defaults optional."""

    model_config = ConfigDict(json_schema_serialization_defaults_required=True)


class FieldError(BaseModel):
    """One field-level fault inside a problem document."""

    loc: list[str | int] = Field(description="Path to the offending field, e.g. ['body', 'operations', 2, 'name'].")
    msg: str
    type: str


class ProblemError(BaseModel):
    """One faulty field or row of a problem's ``errors``: where, what, and which kind of fault.

    Extra members are allowed (a refused reorganisation operation carries its ``index``), so a
    client reads the three it knows and keeps the rest."""

    model_config = ConfigDict(extra="allow")

    loc: list[str | int] = Field(
        description="Path to the fault: where it was (`body`, `query`, `path`, `header`, `file`), "
        "then keys and indices.",
        examples=[["body", "observations", 3, "value"]],
    )
    msg: str = Field(
        description="What is wrong, in words: Chinese, or English when `Accept-Language` prefers it.",
        examples=["缺少必填字段"],
    )
    type: str = Field(description="The kind of fault, stable for machines.", examples=["missing"])
    code: str = Field(
        description="A stable machine-readable code for this fault (often the same as `type`); "
        "clients branch on it, never on `msg`.",
        examples=["missing"],
    )


class Problem(BaseModel):
    """An RFC 9457 problem document (``application/problem+json``).

    Extra members are allowed: a problem adds what helps its caller (``required_roles``,
    ``allowed_actions``, an import ``summary``)."""

    model_config = ConfigDict(extra="allow")

    type: str = Field("about:blank", examples=["urn:devzones:problem:not-found"])
    title: str = Field(
        description="The kind of problem in words: Chinese, or English when `Accept-Language` prefers it.",
        examples=["未找到"],
    )
    status: int = Field(examples=[404])
    detail: str | None = Field(
        None,
        description="What went wrong in this request, in the same language as `title`.",
        examples=["没有开发区 3f9c2a1b7d4e"],
    )
    instance: str | None = Field(None, examples=["/v1/zones/3f9c2a1b7d4e"])
    code: str = Field(
        description="A stable machine-readable code for this problem (`not_found`, `already_published`, "
        "`validation_failed`…); it never changes with the language.",
        examples=["not_found"],
    )
    errors: list[ProblemError] | None = Field(
        None, description="Field-level or row-level faults, when there are several."
    )


class Page(ApiModel, Generic[T]):
    """A page of a cursor-paginated list."""

    items: list[T]
    next_cursor: str | None = Field(None, description="Pass as `cursor` to get the next page; null on the last page.")


class Health(ApiModel):
    """Liveness answer."""

    status: str = "ok"
    service: str


class Readiness(ApiModel):
    """Readiness answer: the database is reachable and migrations are at head."""

    status: str = "ready"
    service: str
    revision: str | None


class Actor(BaseModel):
    """The authenticated caller, taken from the token's claims."""

    model_config = ConfigDict(frozen=True)

    sub: str
    roles: frozenset[Role]
    division: DivisionCode | None = None
    zone: str | None = None
    department: str | None = None
    issuer: str | None = Field(None, description="The token's issuer (`iss`).")
    client_id: str | None = Field(
        None,
        description="The client the token was issued to (`azp`, else `client_id`): set for a machine "
        "client such as a county system's push, usually absent from a person's token.",
    )

    def has(self, *roles: Role) -> bool:
        """True if the caller holds any of ``roles``."""
        return bool(self.roles.intersection(roles))


class AuditEntry(ApiModel):
    """One write to a service, as its audit log recorded it in the write's own transaction: when,
    by which request, through which route, and who (the token's subject, issuer and client)."""

    id: SerialId = Field(description="The entry's number in this service's audit log.")
    at: datetime = Field(description="When the write was made (UTC).")
    request_id: str = Field(description="The request's `X-Request-ID`, as in the access log.", examples=["9f2c4e"])
    method: str = Field(examples=["POST"])
    route: str = Field(description="The route's path template.", examples=["/v1/zones/{zone_id}"])
    sub: str | None = Field(description="The token's subject (`sub`).", examples=["county-130705"])
    issuer: str | None = Field(description="The token's issuer (`iss`).", examples=["devzones"])
    client_id: str | None = Field(
        description="The client the token was issued to (`azp`, else `client_id`): set for a machine "
        "client such as a county system's push, usually null for a person.",
        examples=["county-130705-stats"],
    )
