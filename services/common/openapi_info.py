"""What every service's OpenAPI says about itself: version, contact, servers and its tags.

Frontend teams generate clients from these documents (docs/openapi/), so the metadata is part of
the API: the version is the installed package's, the contact is a role (the system, reached through
its own interactive docs), never a person, and every tag an operation uses is declared with a
description (tests/test_openapi_conventions.py holds all four specs to that).
"""

from __future__ import annotations

from collections.abc import Sequence
from importlib.metadata import PackageNotFoundError, version
from typing import Any, TypedDict

from services.common.settings import ServiceSettings


class Tag(TypedDict):
    """A tag as FastAPI's ``openapi_tags`` takes it."""

    name: str
    description: str


OPERATIONS_TAG = Tag(
    name="operations",
    description="运行探针：存活、就绪 (probes: liveness, and readiness of the database and its migrations).",
)
"""The tag of the probes every service answers (``/healthz``, ``/readyz``)."""

CONTACT_NAME = "devzones 开发区管理系统"

SERVERS: list[dict[str, Any]] = [
    {
        "url": "/",
        "description": "服务本身；经网关访问时为网关为本服务设的前缀 "
        "(the service itself; behind the gateway, the gateway's prefix for this service).",
    }
]
"""Relative, so a client generated from the document calls whichever host served it: there is no
setting for a public URL, and a gateway in front maps its own prefix to ``/``."""


def package_version() -> str:
    """The installed devzones package's version (pyproject.toml); ``0+unknown`` when run from a
    source tree that was never installed, so a document never claims a version it is not."""
    try:
        return version("devzones")
    except PackageNotFoundError:  # pragma: no cover - every supported way of running installs the package
        return "0+unknown"


def openapi_metadata(settings: ServiceSettings, tags: Sequence[Tag]) -> dict[str, Any]:
    """The keyword arguments of ``FastAPI(...)`` that describe the service: version, contact,
    servers and the tags (the probes' tag first, then the service's own, in the docs' order).

    The contact's URL is the service's interactive docs at its configured address (``REGISTRY_URL``
    and the like, the address the other services reach it at): the only URL the system is sure to
    have, and OpenAPI requires an absolute one."""
    own_url: str = getattr(settings, f"{settings.service}_url")
    return {
        "version": package_version(),
        "contact": {"name": CONTACT_NAME, "url": f"{own_url.rstrip('/')}/docs"},
        "servers": SERVERS,
        "openapi_tags": [OPERATIONS_TAG, *tags],
    }
