"""Helpers for registry tests."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from services.registry import demo
from tests.conftest import auth


async def load_demo(client: httpx.AsyncClient) -> None:
    """Load the Zhangjiakou demo through the API, as ``devzones up`` does."""
    async with httpx.AsyncClient(
        transport=client._transport, base_url=str(client.base_url), headers=auth("city_admin")
    ) as admin:
        await demo.load(admin, {"registry": str(client.base_url).rstrip("/")})


@pytest.fixture
def registry(app_client: Any) -> Any:
    """``async with registry() as client`` — the registry app on the current backend."""
    return lambda **kw: app_client("registry", **kw)
