"""The examples in the four OpenAPI documents name things the demo has (`make up` loads it).

A frontend developer tries an example in /docs against the demo: a methodology, indicator, item,
material, division or zone name the demo does not have turns the first try into a 404 or a 422.
Ids are the exception: zones, items, files and cases get random ids in each instance, so an
example's id is a placeholder of the right shape (docs/api-conventions.md#examples); codes and
names are stable, and are checked here against the demo's own definitions.
"""

from __future__ import annotations

import json
from collections import defaultdict
from typing import Any

import pytest

from libs.domain.metrics.catalog import SEED_INDICATORS
from services.assessment.demo import FIRST_YEAR, METHODS
from services.cli import openapi_document
from services.permits import demo as permits_demo
from services.registry import demo as registry_demo

SEED = {i.code: i for i in SEED_INDICATORS}
DEMO_METHODS = {code: kind for code, kind, _, _ in METHODS}
DEMO_ITEMS = {i["code"]: i for i in permits_demo.ITEMS}
DIVISIONS = {code for code, _, _ in registry_demo.DIVISIONS_2000} | {c for c, _, _ in registry_demo.DIVISIONS_2016}


def _names_in(act: dict[str, Any]) -> set[str]:
    names: set[str] = set()
    for op in act["operations"]:
        names.update(n for key in ("name",) if (n := op.get(key)))
        names.update(op.get("plaques", []))
        names.update(op.get("keep_names_as_plaques", []))
    return names


ZONE_NAMES = _names_in(registry_demo.baseline_act()) | _names_in(
    registry_demo.reorganisation_2016(defaultdict(lambda: "<id>"))
)
"""Every zone, park and plaque name the demo's two acts give."""


def _example(service: str, schema: str) -> dict[str, Any]:
    spec = json.loads(openapi_document(service))
    examples = spec["components"]["schemas"][schema]["examples"]
    assert len(examples) == 1, f"{schema}: one example expected"
    example: dict[str, Any] = examples[0]
    return example


def _leaves(node: dict[str, Any]) -> list[dict[str, Any]]:
    if "indicator" in node:
        return [node]
    return [leaf for child in node["children"] for leaf in _leaves(child)]


class TestRegistryExamplesNameTheDemosZonesAndDivisions:
    def test_the_zone_example_is_a_demo_zone(self) -> None:
        zone = _example("registry", "ZoneRead")
        names = {zone["name"], *(p["name"] for p in zone["parks"]), *zone["plaques"]}
        assert names <= ZONE_NAMES, names - ZONE_NAMES
        assert zone["authority"] in DIVISIONS

    def test_the_act_example_is_part_of_the_demos_2016_act(self) -> None:
        act = _example("registry", "ReorganisationCreate")
        assert act["legal_basis"] == registry_demo.LEGAL_BASIS_2016
        assert _names_in(act) <= ZONE_NAMES, _names_in(act) - ZONE_NAMES
        assert {op["authority"] for op in act["operations"] if "authority" in op} <= DIVISIONS

    def test_the_division_example_names_demo_codes(self) -> None:
        division = _example("registry", "DivisionCreate")
        assert {division["code"], *division["replaces"]} <= DIVISIONS


class TestMetricsExamplesUseTheSeedCatalog:
    def test_indicator_examples_are_seed_indicators_as_seeded(self) -> None:
        for schema in ("IndicatorCreate", "IndicatorRead"):
            example = _example("metrics", schema)
            seeded = SEED[example["code"]]
            assert (example["name_zh"], example["unit"], example["kind"]) == (seeded.name_zh, seeded.unit, seeded.kind)

    def test_the_push_example_uses_a_seed_indicator_in_its_unit_and_a_demo_year(self) -> None:
        (row,) = _example("metrics", "ObservationBatch")["observations"]
        assert row["unit"] == SEED[row["indicator"]].unit
        assert int(row["period"][:4]) >= FIRST_YEAR

    def test_the_matrix_example_is_a_demo_zone_with_seed_indicators(self) -> None:
        row = _example("metrics", "MatrixAnswerRow")
        assert row["name"] in ZONE_NAMES
        assert set(row["values"]) | set(row["missing"]) | set(row["built"]) <= SEED.keys()


class TestAssessmentExamplesUseTheDemoMethod:
    def test_the_run_example_runs_a_demo_method_on_its_kind(self) -> None:
        run = _example("assessment", "AssessmentCreate")
        assert DEMO_METHODS.get(run["methodology"]) == run["kind"]
        assert int(run["period"][:4]) >= FIRST_YEAR

    def test_the_method_example_publishes_a_version_of_a_demo_method_from_seed_indicators(self) -> None:
        method = _example("assessment", "MethodologyCreate")
        assert method["code"] in DEMO_METHODS and method["applies_to"] == [DEMO_METHODS[method["code"]]]
        # No `version`: the demo has published version 1, so an explicit 1 would be refused.
        assert "version" not in method
        assert {leaf["indicator"] for leaf in _leaves(method["root"])} <= SEED.keys()


class TestPermitsExamplesNameTheDemosItemsAndMaterials:
    @pytest.mark.parametrize("schema", ["ItemCreate", "ItemRead"])
    def test_the_item_example_is_a_demo_item(self, schema: str) -> None:
        item = _example("permits", schema)
        demo = DEMO_ITEMS[item["code"]]
        assert item["name"] == demo["name"]
        assert [m["code"] for m in item["materials"]] == [m["code"] for m in demo["materials"]]
        assert [s["departments"] for s in item["stages"]] == [s["departments"] for s in demo["stages"]]

    def test_the_application_example_hands_in_that_items_mandatory_materials(self) -> None:
        demo = DEMO_ITEMS[_example("permits", "ItemCreate")["code"]]
        application = _example("permits", "ApplicationCreate")
        mandatory = [m["code"] for m in demo["materials"] if m.get("mandatory", True)]
        assert [m["code"] for m in application["materials"]] == mandatory
        assert application["land_use"] == permits_demo.LAND_OK
        assert len(application["item"]) == 32 and all(len(m["file_id"]) == 32 for m in application["materials"])

    def test_the_bureau_and_decision_examples_use_the_demo_bureaus_prefix(self) -> None:
        bureau = _example("permits", "BureauWrite")
        assert bureau["document_prefix"] == "张经审"
        spec = json.loads(openapi_document("permits"))
        (number,) = spec["components"]["schemas"]["DecisionRead"]["properties"]["document_number"]["examples"]
        assert number.startswith(bureau["document_prefix"])
