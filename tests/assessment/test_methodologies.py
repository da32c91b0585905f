"""Publishing and reading methodologies over the API (SQLite and PostgreSQL)."""

from __future__ import annotations

from typing import Any

from tests.assessment.builders import ADMIN, COMMERCE, SCIENCE, World, assessment, dead_metrics, method_doc, publish
from tests.conftest import auth
from tests.helpers import assert_problem


class TestPublishingAMethodology:
    async def test_it_is_stored_with_every_default_explicit_and_readable_by_anyone(self, app_client: Any) -> None:
        async with assessment(app_client, World()) as client:
            created = await client.post("/v1/methodologies", json=method_doc(), headers=ADMIN)
            by_version = await client.get("/v1/methodologies/econ-annual/1")
            latest = await client.get("/v1/methodologies/econ-annual")
        assert created.status_code == 201, created.text
        body = created.json()
        assert (body["code"], body["version"], body["runs"], body["indicators"]) == ("econ-annual", 1, 0, ["gdp"])
        leaf = body["document"]["root"]["children"][0]
        assert leaf["direction"] == "higher_is_better" and leaf["missing"] == "zero" and leaf["transform"] == "none"
        assert len(body["sha256"]) == 64
        assert created.headers["location"] == "/v1/methodologies/econ-annual/1"
        assert by_version.json() == body and latest.json() == body

    async def test_omitting_the_version_publishes_the_next_one(self, app_client: Any) -> None:
        async with assessment(app_client, World()) as client:
            first = await publish(client, method_doc())
            second = await publish(client, method_doc(title="第二版"))
            listing = await client.get("/v1/methodologies", params={"code": "econ-annual"})
        assert (first["version"], second["version"]) == (1, 2)
        assert [m["version"] for m in listing.json()["items"]] == [1, 2]

    async def test_an_identical_retry_answers_the_stored_version(self, app_client: Any) -> None:
        async with assessment(app_client, World()) as client:
            first = await client.post("/v1/methodologies", json=method_doc(version=1), headers=ADMIN)
            again = await client.post("/v1/methodologies", json=method_doc(version=1), headers=ADMIN)
        assert (first.status_code, again.status_code) == (201, 200)
        assert again.json()["id"] == first.json()["id"]

    async def test_a_published_version_is_immutable(self, app_client: Any) -> None:
        async with assessment(app_client, World()) as client:
            await publish(client, method_doc(version=1))
            changed = await client.post("/v1/methodologies", json=method_doc(version=1, title="改"), headers=ADMIN)
        problem = assert_problem(changed, 409)
        assert "version 2" in problem["detail"]
        named = (problem["code"], problem["methodology"], problem["version"])
        assert named == ("methodology_immutable", "econ-annual", 1)


class TestValidation:
    async def test_every_fault_is_listed_with_its_json_path(self, app_client: Any) -> None:
        doc = method_doc(
            {"indicator": "no_such", "normalisation": {"method": "min_max"}},
            {"code": "empty", "children": []},
            {"indicator": "gdp", "weight": -2, "normalisation": {"method": "min_max"}},
            {"indicator": "gdp", "normalisation": {"method": "goalposts", "min": 10, "max": 1}},
            {
                "aggregation": "geometric",
                "children": [{"indicator": "growth", "normalisation": {"method": "target", "target": 5}}],
            },
        )
        async with assessment(app_client, World()) as client:
            r = await client.post("/v1/methodologies", json=doc, headers=ADMIN)
            listing = await client.get("/v1/methodologies")
        body = assert_problem(r, 422)
        assert {tuple(e["loc"]) for e in body["errors"]} == {
            ("body", "root", "children", 0, "indicator"),
            ("body", "root", "children", 1, "children"),
            ("body", "root", "children", 2, "weight"),
            ("body", "root", "children", 3, "normalisation"),
            ("body", "root", "children", 4, "children", 0),
        }
        assert listing.json()["items"] == []

    async def test_a_malformed_document_is_a_422_not_a_500(self, app_client: Any) -> None:
        async with assessment(app_client, World()) as client:
            r = await client.post("/v1/methodologies", json={"code": "X Y", "root": "nope"}, headers=ADMIN)
        assert_problem(r, 422)

    async def test_the_metrics_catalog_unreachable_is_a_503_and_nothing_is_stored(self, app_client: Any) -> None:
        world = World(metrics=dead_metrics())
        async with assessment(app_client, world) as client:
            r = await client.post("/v1/methodologies", json=method_doc(), headers=ADMIN)
            listing = await client.get("/v1/methodologies")
        assert assert_problem(r, 503)["service"] == "metrics"
        assert listing.json()["items"] == []


class TestWhoMayPublish:
    async def test_a_bureau_publishes_for_the_kind_it_assesses_only(self, app_client: Any) -> None:
        high_tech = method_doc(code="ht-annual", applies_to=["high_tech"])
        async with assessment(app_client, World()) as client:
            commerce_ok = await client.post("/v1/methodologies", json=method_doc(), headers=COMMERCE)
            commerce_refused = await client.post("/v1/methodologies", json=high_tech, headers=COMMERCE)
            science_ok = await client.post("/v1/methodologies", json=high_tech, headers=SCIENCE)
        assert commerce_ok.status_code == 201 and science_ok.status_code == 201
        assert assert_problem(commerce_refused, 403)["allowed_kinds"] == ["economic"]

    async def test_other_roles_and_anonymous_callers_are_refused(self, app_client: Any) -> None:
        async with assessment(app_client, World()) as client:
            county = await client.post(
                "/v1/methodologies", json=method_doc(), headers=auth("county", division="130728")
            )
            anonymous = await client.post("/v1/methodologies", json=method_doc())
        assert_problem(county, 403)
        assert_problem(anonymous, 401)

    async def test_an_unknown_version_is_404(self, app_client: Any) -> None:
        async with assessment(app_client, World()) as client:
            assert_problem(await client.get("/v1/methodologies/econ-annual/3"), 404)
            assert_problem(await client.get("/v1/methodologies/none"), 404)
