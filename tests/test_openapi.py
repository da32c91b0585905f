"""The committed OpenAPI documents (``docs/openapi/``) are what the code serves.

Frontend teams generate clients from those files, so a change to any route, model or
description must come with the regenerated file (``devzones openapi``), and a change that was
not meant to alter the API (a refactoring) must leave them byte for byte as they are.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from services.cli import openapi_document
from services.common.settings import SERVICES
from tests.helpers import PROBLEM

SPECS = Path(__file__).resolve().parent.parent / "docs" / "openapi"


@pytest.mark.parametrize("service", SERVICES)
class TestTheCommittedOpenAPIIsTheServedOne:
    def test_the_file_equals_the_document_the_app_serves(self, service: str) -> None:
        committed = (SPECS / f"{service}.json").read_text(encoding="utf-8")
        served = openapi_document(service)
        assert served == committed, f"docs/openapi/{service}.json is stale: run `devzones openapi --out docs/openapi`"


def _operations(spec: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            yield f"{method.upper()} {path}", operation


@pytest.fixture(scope="module", params=SERVICES)
def spec(request: pytest.FixtureRequest) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(openapi_document(request.param))
    return document


class TestErrorsAreDocumentedAsTheyAreSent:
    """What a generated client reads from the OpenAPI is what it gets (tests/test_schemathesis.py
    holds the running apps to it; these hold the documents' shape, and fail fast)."""

    def test_every_error_response_is_a_problem_and_only_a_problem(self, spec: dict[str, Any]) -> None:
        wrong = [
            (name, code, sorted(response.get("content", {})))
            for name, operation in _operations(spec)
            for code, response in operation["responses"].items()
            if code[0] in "45"
            and response.get("content") != {PROBLEM: {"schema": {"$ref": "#/components/schemas/Problem"}}}
        ]
        assert not wrong
        assert "HTTPValidationError" not in spec["components"]["schemas"]

    def test_the_problem_schema_names_its_members_and_allows_more(self, spec: dict[str, Any]) -> None:
        schemas = spec["components"]["schemas"]
        problem, error = schemas["Problem"], schemas["ProblemError"]
        assert set(problem["properties"]) == {"type", "title", "status", "detail", "instance", "code", "errors"}
        assert problem["required"] == ["title", "status", "code"] and problem["additionalProperties"] is True
        items = problem["properties"]["errors"]["anyOf"][0]["items"]
        assert items == {"$ref": "#/components/schemas/ProblemError"}
        assert error["required"] == ["loc", "msg", "type", "code"] and error["additionalProperties"] is True
        assert error["properties"]["loc"]["items"] == {"anyOf": [{"type": "string"}, {"type": "integer"}]}

    def test_every_operation_that_reads_a_body_documents_400_and_413(self, spec: dict[str, Any]) -> None:
        reading = [(name, op) for name, op in _operations(spec) if "requestBody" in op]
        assert reading  # every service has writes
        assert [name for name, op in reading if not {"400", "413"} <= set(op["responses"])] == []

    def test_every_keyed_operation_documents_the_409_of_a_key_in_flight(self, spec: dict[str, Any]) -> None:
        keyed = [
            (name, op)
            for name, op in _operations(spec)
            if any(p["in"] == "header" and p["name"].lower() == "idempotency-key" for p in op.get("parameters", ()))
        ]
        assert keyed  # each service has one keyed write (registry, metrics, assessment, permits)
        assert [name for name, op in keyed if "409" not in op["responses"]] == []


class TestFilesAreDocumentedAsTheyAreSent:
    def test_a_material_file_is_octet_stream_only(self) -> None:
        spec = json.loads(openapi_document("permits"))
        content = spec["paths"]["/v1/files/{file_id}/content"]["get"]["responses"]["200"]["content"]
        assert content == {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}

    def test_a_bulletin_is_html_csv_or_xlsx_never_json(self) -> None:
        spec = json.loads(openapi_document("assessment"))
        paths = spec["paths"]
        bulletin = "/v1/assessments/{assessment_id}/bulletin"
        ok = {ext: paths[f"{bulletin}.{ext}"]["get"]["responses"]["200"] for ext in ("html", "csv", "xlsx")}
        media = {ext: sorted(answer["content"]) for ext, answer in ok.items()}
        assert media == {
            "html": ["text/html"],
            "csv": ["text/csv"],
            "xlsx": ["application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"],
        }
        assert bulletin not in paths
