"""The four OpenAPI documents follow one set of conventions (docs/api-conventions.md).

Frontend teams generate clients from these documents: an operationId becomes a method name, a tag
a module, ``info`` and ``servers`` the client's defaults. So every operation carries an explicit,
readable id (a rename is a visible change in a decorator, never a side effect of moving a path),
every tag is declared with what it groups, and the document says which version it describes, who
answers for it and where it is served.
"""

from __future__ import annotations

import importlib
import json
import re
from importlib.metadata import version
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute, iter_route_contexts

from services.cli import openapi_document
from services.common.settings import SERVICES, SETTINGS_CLASSES

OPERATION_ID = re.compile(r"^[a-z][A-Za-z0-9]+$")
"""lowerCamelCase: a verb, then what it acts on (``listZones``, ``approveTask``)."""

METHODS = ("get", "put", "post", "delete", "patch", "head", "options", "trace")


def _spec(service: str) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(openapi_document(service))
    return document


def _operations(spec: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(m, path, op) for path, item in spec["paths"].items() for m, op in item.items() if m in METHODS]


def _app(service: str, data_dir: Path) -> FastAPI:
    module = importlib.import_module(f"services.{service}.main")
    app: FastAPI = module.create_app(SETTINGS_CLASSES[service](data_dir=data_dir))
    return app


@pytest.mark.parametrize("service", SERVICES)
class TestEveryOperationHasAnExplicitReadableId:
    def test_ids_are_lower_camel_case_and_unique_in_the_service(self, service: str) -> None:
        ids = [op.get("operationId", "") for _, _, op in _operations(_spec(service))]
        assert ids
        malformed = [i for i in ids if not OPERATION_ID.match(i)]
        assert not malformed, f"{service}: operationIds not in lowerCamelCase: {malformed}"
        duplicated = sorted({i for i in ids if ids.count(i) > 1})
        assert not duplicated, f"{service}: operationIds used twice: {duplicated}"

    def test_no_id_is_fastapis_default_form(self, service: str) -> None:
        # FastAPI's default is the function name, the path and the method joined by underscores,
        # e.g. create_reorganisation_v1_reorganisations_post.
        for method, path, op in _operations(_spec(service)):
            opid = op["operationId"]
            assert "_v1_" not in opid and not opid.endswith(tuple(f"_{m}" for m in METHODS)), (method, path, opid)

    def test_every_route_sets_its_id_in_its_decorator(self, service: str, tmp_path: Path) -> None:
        # Also the routes left out of the document (/metrics): an id FastAPI would make up from
        # the function's name changes silently when the function is renamed.
        routes = [c.route for c in iter_route_contexts(_app(service, tmp_path).routes)]
        api_routes = [r for r in routes if isinstance(r, APIRoute)]
        assert api_routes
        implicit = [(sorted(r.methods), r.path) for r in api_routes if not r.operation_id]
        assert not implicit, f"{service}: routes without operation_id=: {implicit}"

    def test_the_probes_have_the_same_ids_in_every_service(self, service: str) -> None:
        by_path = {(m, p): op["operationId"] for m, p, op in _operations(_spec(service))}
        assert by_path[("get", "/healthz")] == "getHealth"
        assert by_path[("get", "/readyz")] == "getReadiness"


@pytest.mark.parametrize("service", SERVICES)
class TestTheDocumentDescribesItself:
    def test_every_tag_used_is_declared_with_a_description_and_every_declared_tag_is_used(self, service: str) -> None:
        spec = _spec(service)
        declared = {t["name"]: t.get("description", "") for t in spec.get("tags", [])}
        used = {tag for _, _, op in _operations(spec) for tag in op.get("tags", [])}
        assert all(op.get("tags") for _, _, op in _operations(spec)), f"{service}: an operation without a tag"
        assert used - declared.keys() == set(), f"{service}: tags used but not declared"
        assert declared.keys() - used == set(), f"{service}: tags declared but used by no operation"
        assert all(d.strip() for d in declared.values()), f"{service}: a tag without a description"
        assert len(spec["tags"]) == len(declared), f"{service}: a tag declared twice"

    def test_info_has_the_package_version_and_a_contact_that_is_a_role(self, service: str) -> None:
        info = _spec(service)["info"]
        assert info["version"] == version("devzones")
        contact = info["contact"]
        assert contact["name"] == "devzones 开发区管理系统"
        # The default address of the service (README: ports 8001-8004) and its interactive docs.
        port = 8000 + SERVICES.index(service) + 1
        assert contact["url"] == f"http://127.0.0.1:{port}/docs"
        assert "email" not in contact

    def test_servers_name_the_service_itself(self, service: str) -> None:
        servers = _spec(service)["servers"]
        assert [s["url"] for s in servers] == ["/"]
        assert servers[0]["description"]


@pytest.mark.parametrize("service", SERVICES)
def test_header_parameters_are_named_in_their_canonical_casing(service: str) -> None:
    # HTTP header names are case-insensitive, but a generated client uses the documented spelling:
    # one spelling everywhere (Idempotency-Key, If-Match), each word capitalised as RFC 9110 writes them.
    headers = {
        p["name"] for _, _, op in _operations(_spec(service)) for p in op.get("parameters", []) if p["in"] == "header"
    }
    assert headers, service
    canonical = {name: "-".join(w[:1].upper() + w[1:].lower() for w in name.split("-")) for name in headers}
    assert all(name == canonical[name] for name in headers), canonical
