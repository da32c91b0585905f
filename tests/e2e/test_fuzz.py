"""Schema-driven fuzzing (schemathesis) of all four services started by ``devzones up`` with the demo.

Every operation in each service's OpenAPI is called with generated valid and invalid input, as
``city_admin`` (the widest write scope, so generated bodies reach the use cases rather than stop
at authorisation). Whatever the input, a service answers below 500, every error is an RFC 9457
problem document, and every answer agrees with the OpenAPI the frontends build on: its content
type, and its body against the schema documented for its status. The demo data gives the fuzzer
real zones, indicators and items to stumble on; the stack is thrown away afterwards.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import content_type_conformance, response_schema_conformance

from tests.conftest import BACKENDS
from tests.e2e.stack import SERVICES, Running, start_up, stop

pytestmark = pytest.mark.e2e

EXAMPLES = int(os.environ.get("DEVZONES_FUZZ_EXAMPLES", "12"))
"""Generated cases per operation (raise it for a longer campaign: ``DEVZONES_FUZZ_EXAMPLES=500``)."""


@pytest.fixture(scope="module", params=BACKENDS)
def stack(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, databases: Any
) -> Iterator[Running]:
    env = {"DEVZONES_RATE_LIMIT": "off"}  # the fuzzer's bursts are the point, not a flood to throttle
    if request.param == "postgresql":
        for service in SERVICES:
            env[f"{service.upper()}_DATABASE_URL"] = databases.new_pg_database(f"fuzz_{service}")
    running = start_up(Path(tmp_path_factory.mktemp("fuzz")), env)
    try:
        yield running
    finally:
        if running.proc.poll() is None:
            stop(running)


@pytest.fixture(scope="module")
def admin(stack: Running) -> dict[str, str]:
    return {"Authorization": f"Bearer {stack.token('--role', 'city_admin', '--sub', 'fuzzer')}"}


def _schema(stack: Running, service: str) -> Any:
    return schemathesis.openapi.from_url(f"{stack.urls[service]}/openapi.json")


@pytest.fixture(scope="module")
def registry_schema(stack: Running) -> Any:
    return _schema(stack, "registry")


@pytest.fixture(scope="module")
def metrics_schema(stack: Running) -> Any:
    return _schema(stack, "metrics")


@pytest.fixture(scope="module")
def assessment_schema(stack: Running) -> Any:
    return _schema(stack, "assessment")


@pytest.fixture(scope="module")
def permits_schema(stack: Running) -> Any:
    return _schema(stack, "permits")


def _check(case: Any, stack: Running, service: str, headers: dict[str, str]) -> None:
    response = case.call(base_url=stack.urls[service], headers=headers, timeout=30)
    # bodies may be binary (xlsx bulletins, templates): show bytes, never decode blindly
    where = f"{case.method} {case.formatted_path} -> {response.status_code}: {response.content[:300]!r}"
    assert response.status_code < 500, where
    if response.status_code >= 400:
        content_type = ",".join(response.headers.get("content-type", []))  # schemathesis keeps header lists
        assert content_type.startswith("application/problem+json"), where
        problem = response.json()
        assert problem["status"] == response.status_code and problem["title"], where
    # The answer as documented (a status the operation does not document is not checked here).
    case.validate_response(response, checks=[content_type_conformance, response_schema_conformance])


FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)

registry = schemathesis.pytest.from_fixture("registry_schema")
metrics = schemathesis.pytest.from_fixture("metrics_schema")
assessment = schemathesis.pytest.from_fixture("assessment_schema")
permits = schemathesis.pytest.from_fixture("permits_schema")


@registry.parametrize()
@FUZZ
def test_registry(case: Any, stack: Running, admin: dict[str, str]) -> None:
    _check(case, stack, "registry", admin)


@metrics.parametrize()
@FUZZ
def test_metrics(case: Any, stack: Running, admin: dict[str, str]) -> None:
    _check(case, stack, "metrics", admin)


@assessment.parametrize()
@FUZZ
def test_assessment(case: Any, stack: Running, admin: dict[str, str]) -> None:
    _check(case, stack, "assessment", admin)


@permits.parametrize()
@FUZZ
def test_permits(case: Any, stack: Running, admin: dict[str, str]) -> None:
    _check(case, stack, "permits", admin)
