"""Demo data, loaded by ``devzones up`` unless ``--no-demo``: clearly labelled sample data.

Each service contributes an idempotent loader that talks to the running services over
their public HTTP API with a development ``city_admin`` token, so demo data takes exactly
the path real data takes and is loaded once however often ``up`` runs.
"""

from __future__ import annotations

import importlib
from pathlib import Path

import httpx

from libs.domain.kernel.values import Role
from services.common.security import issue_token, signing_key
from services.common.settings import SERVICES, RegistrySettings


async def load_demo(urls: dict[str, str], data_dir: Path) -> None:
    """Run every service's demo loader (those that have one), in dependency order."""
    key = signing_key(RegistrySettings(data_dir=data_dir))
    token = issue_token(key, sub="demo-loader", roles=[Role.CITY_ADMIN], ttl_seconds=600)
    async with httpx.AsyncClient(timeout=30.0, headers={"Authorization": f"Bearer {token}"}) as http:
        for service in SERVICES:
            try:
                module = importlib.import_module(f"services.{service}.demo")
            except ModuleNotFoundError:
                continue
            await module.load(http, urls)
