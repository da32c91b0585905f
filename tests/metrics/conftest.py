"""Fixtures of the metrics tests: the app over ASGI with the fake registry."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest

from services.metrics.dependencies import registry_client
from tests.metrics.builders import Registry


@pytest.fixture
def registry() -> Registry:
    return Registry()


@pytest.fixture
def metrics(app_client: Callable[..., Any], registry: Registry) -> Callable[..., Any]:
    """``async with metrics() as client``: the metrics app answering from the fake registry."""

    @asynccontextmanager
    async def _open(fake: Any = None, **settings: Any) -> AsyncIterator[httpx.AsyncClient]:
        chosen = fake if fake is not None else registry
        async with app_client("metrics", overrides={registry_client: lambda: chosen}, **settings) as client:
            yield client

    return _open
