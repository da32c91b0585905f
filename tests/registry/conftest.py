"""Fixtures of the registry tests (builders: tests/registry/builders.py)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.registry.builders import World


@pytest.fixture
def registry(app_client: Any) -> Any:
    """``async with registry() as client`` — the registry app on the current backend."""
    return lambda **kw: app_client("registry", **kw)


@pytest.fixture
def world(registry: Any) -> Any:
    """``async with world() as w``: a :class:`World` (a registry with divisions) on the current backend."""

    class _Ctx:
        async def __aenter__(self) -> World:
            self.cm = registry()
            client = await self.cm.__aenter__()
            return await World(client).setup()

        async def __aexit__(self, *exc: Any) -> None:
            await self.cm.__aexit__(*exc)

    return _Ctx
