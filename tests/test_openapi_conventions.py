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


# --- One set of conventions over the four documents (docs/api-conventions.md#one-set-of-conventions) ---

ID_NAME = re.compile(r"^(id|.+_id|.+_ids)$")
"""A field or parameter that holds ids: ``id``, ``zone_id``, ``item_ids``."""

ID_LIKE_NAMES = frozenset({"supersedes", "superseded_by", "assessment", "previous_assessment", "lock", "act", "run"})
"""Fields that hold another resource's id without saying so in their name."""

ZONE_NAMES_NOT_ALLOWED = frozenset({"zone", "zones", "subject", "subjects", "zoneId"})
"""A zone is ``zone_id`` (``zone_ids``) everywhere: in a path, a query, a body and an answer."""

PAGING_PARAMETERS = {"limit", "cursor"}


def _deref(spec: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
    return schema


def _walk(spec: dict[str, Any], schema: Any, seen: set[str]) -> Any:
    """Yield (name, subschema, owner) for every property of ``schema`` and what it refers to."""
    if not isinstance(schema, dict):
        return
    ref = schema.get("$ref")
    if ref is not None:
        name = ref.rsplit("/", 1)[-1]
        if name in seen:
            return
        seen.add(name)
        yield from _walk(spec, spec["components"]["schemas"][name], seen)
        return
    for key in ("anyOf", "oneOf", "allOf", "prefixItems"):
        for sub in schema.get(key, []):
            yield from _walk(spec, sub, seen)
    for key in ("items", "additionalProperties"):
        if isinstance(schema.get(key), dict):
            yield from _walk(spec, schema[key], seen)
    for prop, sub in schema.get("properties", {}).items():
        yield prop, sub, schema
        yield from _walk(spec, sub, seen)


def _leaf_types(spec: dict[str, Any], schema: dict[str, Any]) -> list[dict[str, Any]]:
    """The alternatives of a (possibly nullable) schema, arrays and maps unwrapped to their items."""
    schema = _deref(spec, schema)
    alternatives = schema.get("anyOf") or schema.get("oneOf") or [schema]
    leaves = []
    for alt in alternatives:
        alt = _deref(spec, alt)
        if alt.get("type") == "array" and isinstance(alt.get("items"), dict):
            leaves.extend(_leaf_types(spec, alt["items"]))
        elif alt.get("type") == "object" and isinstance(alt.get("additionalProperties"), dict):
            leaves.extend(_leaf_types(spec, alt["additionalProperties"]))  # a map's values
        elif alt.get("type") != "null":
            leaves.append(alt)
    return leaves


def _response_schemas(spec: dict[str, Any]) -> list[tuple[str, str, str, str, dict[str, Any]]]:
    found = []
    for method, path, op in _operations(spec):
        for status, response in op.get("responses", {}).items():
            for media, content in response.get("content", {}).items():
                if media == "application/json":
                    found.append((method, path, status, media, content.get("schema", {})))
    return found


def _request_schemas(spec: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    found = []
    for method, path, op in _operations(spec):
        for content in op.get("requestBody", {}).get("content", {}).values():
            found.append((method, path, content.get("schema", {})))
    return found


def _all_properties(spec: dict[str, Any], schemas: list[dict[str, Any]]) -> list[tuple[str, dict[str, Any], dict]]:
    seen: set[str] = set()
    return [p for schema in schemas for p in _walk(spec, schema, seen)]


@pytest.mark.parametrize("service", SERVICES)
class TestOneSetOfConventions:
    def test_every_id_is_a_string(self, service: str) -> None:
        spec = _spec(service)
        schemas = [s for *_, s in _response_schemas(spec)] + [s for *_, s in _request_schemas(spec)]
        offending = set()
        for name, sub, _ in _all_properties(spec, schemas):
            is_id = ID_NAME.match(name) or name in ID_LIKE_NAMES
            if is_id and any(leaf.get("type") != "string" for leaf in _leaf_types(spec, sub)):
                offending.add(name)
        for method, path, op in _operations(spec):
            for p in op.get("parameters", []):
                if (ID_NAME.match(p["name"]) or p["name"] in ID_LIKE_NAMES) and any(
                    leaf.get("type") != "string" for leaf in _leaf_types(spec, p.get("schema", {}))
                ):
                    offending.add(f"{method.upper()} {path} {p['name']}")
        assert not offending, f"{service}: ids that are not strings: {sorted(offending)}"

    def test_a_zone_is_named_zone_id_in_paths_queries_bodies_and_answers(self, service: str) -> None:
        spec = _spec(service)
        wrong = set()
        for method, path, op in _operations(spec):
            wrong.update(
                f"{method.upper()} {path} ?{p['name']}"
                for p in op.get("parameters", [])
                if p["name"] in ZONE_NAMES_NOT_ALLOWED
            )
            wrong.update(
                f"{method.upper()} {path}" for seg in re.findall(r"\{([^}]+)\}", path) if seg in ZONE_NAMES_NOT_ALLOWED
            )
        schemas = [s for *_, s in _response_schemas(spec)] + [s for *_, s in _request_schemas(spec)]
        wrong.update(f"field {name}" for name, _, _ in _all_properties(spec, schemas) if name in ZONE_NAMES_NOT_ALLOWED)
        assert not wrong, f"{service}: a zone named otherwise than zone_id: {sorted(wrong)}"

    def test_every_number_in_an_answer_states_its_precision(self, service: str) -> None:
        # Computed quantities are numbers rounded to a stated number of places; stored
        # measurements and money are decimal strings ("format": "decimal").
        spec = _spec(service)
        unstated = set()
        for name, sub, _ in _all_properties(spec, [s for *_, s in _response_schemas(spec)]):
            for leaf in _leaf_types(spec, sub):
                if leaf.get("type") == "number" and not isinstance(leaf.get("x-devzones-decimals"), int):
                    unstated.add(name)
        assert not unstated, f"{service}: numbers without x-devzones-decimals: {sorted(unstated)}"

    def test_every_list_is_a_page_with_limit_and_cursor(self, service: str) -> None:
        spec = _spec(service)
        bare = [
            f"{m.upper()} {p}"
            for m, p, status, _, s in _response_schemas(spec)
            if status.startswith("2") and _deref(spec, s).get("type") == "array"
        ]
        assert not bare, f"{service}: lists answered as bare arrays: {bare}"
        for _, _, op in _operations(spec):
            if not op["operationId"].startswith("list"):
                continue
            params = {p["name"] for p in op.get("parameters", []) if p["in"] == "query"}
            assert params >= PAGING_PARAMETERS, f"{service}: {op['operationId']} lacks limit/cursor"
            page = _deref(spec, op["responses"]["200"]["content"]["application/json"]["schema"])
            assert page.get("properties", {}).get("items", {}).get("type") == "array", op["operationId"]
            assert "next_cursor" in page["properties"], op["operationId"]
            assert {"items", "next_cursor"} <= set(page.get("required", [])), op["operationId"]

    def test_one_media_type_per_operation_and_status(self, service: str) -> None:
        spec = _spec(service)
        several = [
            f"{method.upper()} {path} {status}: {sorted(response['content'])}"
            for method, path, op in _operations(spec)
            for status, response in op["responses"].items()
            if len(response.get("content", {})) > 1
        ]
        assert not several, f"{service}: answers with more than one media type: {several}"
        switches = [
            f"{m.upper()} {p}"
            for m, p, op in _operations(spec)
            for q in op.get("parameters", [])
            if q["name"] == "format"
        ]
        assert not switches, f"{service}: a ?format= switch instead of an operation per file: {switches}"

    def test_action_names_are_spelled_as_their_paths(self, service: str) -> None:
        spec = _spec(service)
        segments = {path.rstrip("/").rsplit("/", 1)[-1] for path, item in spec["paths"].items() if "post" in item}
        for name, sub, _ in _all_properties(spec, [s for *_, s in _response_schemas(spec)]):
            if name != "allowed_actions":
                continue
            leaves = _leaf_types(spec, sub)
            enums = {v for leaf in leaves for v in leaf.get("enum", [])}
            assert enums, f"{service}: allowed_actions is not an enumeration"
            assert enums <= segments, (
                f"{service}: actions spelled otherwise than their paths: {sorted(enums - segments)}"
            )

    def test_every_field_of_an_answer_is_present(self, service: str) -> None:
        # The service writes every field of an answer (null where there is none), so the output
        # schema requires each: a generated client then needs no `?? 0` for a count.
        spec = _spec(service)
        optional = set()
        seen: set[str] = set()
        for *_, schema in _response_schemas(spec):
            for name, _, owner in _walk(spec, schema, seen):
                if owner.get("additionalProperties") is True and owner.get("title") in {"Problem", "ProblemError"}:
                    continue
                if name not in owner.get("required", []):
                    optional.add(f"{owner.get('title')}.{name}")
        assert not optional, f"{service}: answer fields not required: {sorted(optional)}"
