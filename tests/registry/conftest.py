"""Fixtures of the registry tests (builders: tests/registry/builders.py)."""

from __future__ import annotations

from typing import Any

import pytest


@pytest.fixture
def registry(app_client: Any) -> Any:
    """``async with registry() as client`` — the registry app on the current backend."""
    return lambda **kw: app_client("registry", **kw)
