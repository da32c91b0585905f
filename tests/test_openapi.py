"""The committed OpenAPI documents (``docs/openapi/``) are what the code serves.

Frontend teams generate clients from those files, so a change to any route, model or
description must come with the regenerated file (``devzones openapi``), and a change that was
not meant to alter the API (a refactoring) must leave them byte for byte as they are.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from services.cli import openapi_document
from services.common.settings import SERVICES

SPECS = Path(__file__).resolve().parent.parent / "docs" / "openapi"


@pytest.mark.parametrize("service", SERVICES)
class TestTheCommittedOpenAPIIsTheServedOne:
    def test_the_file_equals_the_document_the_app_serves(self, service: str) -> None:
        committed = (SPECS / f"{service}.json").read_text(encoding="utf-8")
        served = openapi_document(service)
        assert served == committed, f"docs/openapi/{service}.json is stale: run `devzones openapi --out docs/openapi`"
