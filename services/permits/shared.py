"""What every feature of the permits service shares: time, ids, who may do what, versions (ETag)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from libs.domain.kernel.contracts import Actor
from libs.domain.kernel.errors import (
    Forbidden,
    PreconditionFailed,
)
from libs.domain.kernel.i18n import Text
from libs.domain.kernel.values import Role


class _Scoped(Protocol):
    """What visibility is decided on: a case's or a task's zone (and a task's department)."""

    @property
    def zone(self) -> str: ...


class _Owned(_Scoped, Protocol):
    @property
    def applicant_sub(self) -> str | None: ...


class _Assigned(_Scoped, Protocol):
    @property
    def department(self) -> str: ...


@dataclass(frozen=True, slots=True)
class Visibility:
    """Which cases a caller may see: the union of what each of their roles allows (the case
    repository turns it into a WHERE clause)."""

    everything: bool = False
    zones: frozenset[str] = frozenset()
    applicant: str | None = None
    reviewer: tuple[str, str] | None = None  # (zone, department)


def utcnow() -> datetime:
    """Now, timezone-aware UTC."""
    return datetime.now(UTC)


def new_id() -> str:
    """A new opaque id (32 hex digits, 128 random bits)."""
    return os.urandom(16).hex()


def is_city(actor: Actor) -> bool:
    """True for a city admin (who may do everything)."""
    return Role.CITY_ADMIN in actor.roles


def zone_role(actor: Actor, zone: str, *roles: Role) -> bool:
    """True for a city admin, or a holder of one of ``roles`` whose token is scoped to ``zone``."""
    return is_city(actor) or (actor.zone == zone and any(r in actor.roles for r in roles))


def require_zone_role(actor: Actor, zone: str, *roles: Role) -> None:
    """403 unless :func:`zone_role` holds."""
    if not zone_role(actor, zone, *roles):
        raise Forbidden(
            Text(
                f"此操作需要开发区 {zone} 的以下角色之一：{'、'.join(sorted(roles))}（或 city_admin）",
                f"this action needs one of the roles {', '.join(sorted(roles))} for zone {zone} (or city_admin)",
            ),
            code="zone_role_required",
            required_roles=sorted([*roles, Role.CITY_ADMIN]),
        )


def check_if_match(if_match: str | None, version: int) -> None:
    """412 unless ``If-Match`` (when given) names the current version."""
    if if_match is None:
        return
    tags = [t.strip() for t in if_match.split(",")]
    if "*" in tags:
        return
    current = f'"{version}"'
    if not any(t.removeprefix("W/") == current for t in tags):
        raise PreconditionFailed(
            Text(
                f"该资源已被修改，当前版本为 {version}，请重新读取后再提交",
                f"the resource has changed: current version is {version}",
            ),
            code="version_mismatch",
            current_etag=current,
            version=version,
        )


def etag(version: int) -> str:
    """The ETag of a version."""
    return f'"{version}"'


def visibility(actor: Actor) -> Visibility:
    """Which cases ``actor`` may see: the union of what each of their roles allows."""
    if is_city(actor):
        return Visibility(everything=True)
    zones = frozenset({actor.zone} if actor.zone and actor.has(Role.WINDOW_CLERK, Role.BUREAU_ADMIN) else set())
    applicant = actor.sub if Role.APPLICANT in actor.roles else None
    reviewer = (
        (actor.zone, actor.department) if Role.REVIEWER in actor.roles and actor.zone and actor.department else None
    )
    return Visibility(zones=zones, applicant=applicant, reviewer=reviewer)


def sees(actor: Actor, case: _Owned, tasks: Sequence[_Assigned]) -> bool:
    """True if ``actor`` may see ``case`` (whose tasks are ``tasks``)."""
    v = visibility(actor)
    if v.everything or case.zone in v.zones:
        return True
    if v.applicant is not None and case.applicant_sub == v.applicant:
        return True
    if v.reviewer is not None:
        zone, dept = v.reviewer
        return any(t.zone == zone and t.department == dept for t in tasks)
    return False


def staff_view(actor: Actor, case: _Scoped) -> bool:
    """True if the caller reads the case as staff (internal view), not only as its applicant."""
    v = visibility(actor)
    return v.everything or case.zone in v.zones or (v.reviewer is not None and v.reviewer[0] == case.zone)


def sees_task(actor: Actor, task: _Assigned) -> bool:
    """True if ``actor`` may see ``task``: the city, the zone's clerks and head, the department's reviewers."""
    if is_city(actor):
        return True
    if actor.zone != task.zone:
        return False
    if actor.has(Role.WINDOW_CLERK, Role.BUREAU_ADMIN):
        return True
    return Role.REVIEWER in actor.roles and actor.department == task.department


def require_reviewer(actor: Actor, task: _Assigned) -> None:
    """403 unless ``actor`` reviews for the task's department in its zone (or is the city)."""
    if is_city(actor):
        return
    if Role.REVIEWER in actor.roles and actor.zone == task.zone and actor.department == task.department:
        return
    raise Forbidden(
        Text(
            f"只有部门 {task.department} 的审查人员可以办理此审查任务",
            f"only a reviewer of department {task.department} acts on this task",
        ),
        code="not_task_reviewer",
    )
