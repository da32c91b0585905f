"""Fixtures of the permits API tests (the builders they use are in :mod:`tests.permits.builders`)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import date
from typing import Any

import pytest

from services.permits.dependencies import registry_client
from tests.permits.builders import Window, fake_registry


@pytest.fixture
def window(app_client: Callable[..., Any]) -> Callable[..., Any]:
    """``async with window() as w``: the permits app with a fake registry, as a :class:`Window`."""

    @asynccontextmanager
    async def _open(registry: Any = None, **settings: Any) -> AsyncIterator[Window]:
        fake = registry if registry is not None else fake_registry()
        async with app_client("permits", overrides={registry_client: lambda: fake}, **settings) as client:
            w = Window(client)
            w.today(date(2026, 3, 2))
            yield w

    return _open
