"""Each service's OpenAPI is the truth about its answers: schemathesis holds all four to it.

Every operation of the registry, metrics, assessment and permits apps is called with the cases
schemathesis makes in its three phases (``examples`` from the documented examples, ``coverage``
of each schema's boundaries and of invalid values, ``fuzzing`` of random valid and invalid
input), and every answer must pass four checks:

- ``not_a_server_error``: never a 5xx;
- ``status_code_conformance``: the status is one the operation documents;
- ``content_type_conformance``: the media type is one documented for that status (problems are
  ``application/problem+json``, files their own types);
- ``response_schema_conformance``: the body matches the schema documented for its status and
  media type (every problem against the shared ``Problem`` schema).

Each app runs in-process with its lifespan on its migrated test database (``app_client`` of
``tests/conftest.py``), with empty tables, and talks to the test doubles of the services it calls
(the builders' small Zhangjiakou): the demo-data campaign against real processes is
``tests/e2e/test_fuzz.py``. **SQLite only**: this test is about the contract, which does not
depend on the backend (the behaviour on PostgreSQL is held by each service's tests and by the
e2e fuzzing on both backends), and one backend keeps it fast enough for every CI run.

Callers: ``city_admin`` (the widest write scope, so generated bodies reach
the use cases rather than stop at authorisation), each service's everyday non-admin role with its
scope claims (so the 403 answers of scoped roles are held to the contract too), and a caller
without a token (the 401 answers, and the public routes as the public sees them). The coverage
phase's cases (hundreds per operation with a large body: every boundary and invalid value of
every field) are sent as ``city_admin`` only, since they vary the input rather than the caller;
the examples and fuzzing phases go out as all three.

Deterministic and bounded: a fixed seed, Hypothesis derandomised, no example database, and
``max_examples`` fuzzed cases per operation (the examples and coverage phases make as many
cases as the schemas call for). Nothing is excluded: no check, phase or operation is skipped.
"""

from __future__ import annotations

import functools
import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import anyio.from_thread
import httpx
import pytest
import requests
import requests.adapters
import schemathesis
import urllib3
from hypothesis import HealthCheck, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.config import SchemathesisConfig

from services.metrics.dependencies import registry_client as metrics_registry
from services.permits.dependencies import registry_client as permits_registry
from tests.assessment.builders import World
from tests.conftest import auth
from tests.metrics.builders import Registry
from tests.permits.builders import ZONE, fake_registry

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
SEED = 20261207
MAX_EXAMPLES = 8
"""Fuzzed cases per operation (102 operations in all: the whole file runs in about 1.5 minutes)."""

CONFIG = SchemathesisConfig.from_dict(
    {
        "seed": SEED,
        "phases": {"examples": {"enabled": True}, "coverage": {"enabled": True}, "fuzzing": {"enabled": True}},
        "generation": {"max-examples": MAX_EXAMPLES, "database": "none"},
    }
)

SETTINGS = settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)

CALLERS: dict[str, dict[str, dict[str, str]]] = {
    "registry": {"city_admin": auth("city_admin"), "county": auth("county", division="130728"), "anonymous": {}},
    "metrics": {"city_admin": auth("city_admin"), "county": auth("county", division="130728"), "anonymous": {}},
    "assessment": {"city_admin": auth("city_admin"), "commerce_bureau": auth("commerce_bureau"), "anonymous": {}},
    "permits": {"city_admin": auth("city_admin"), "window_clerk": auth("window_clerk", zone=ZONE), "anonymous": {}},
}
"""Who calls each service: ``city_admin``, the service's everyday scoped role, and nobody (no token)."""


def _fakes(service: str) -> dict[Any, Any]:
    """The test doubles of the services ``service`` calls (the builders' small Zhangjiakou)."""
    if service == "metrics":
        registry = Registry()
        return {metrics_registry: lambda: registry}
    if service == "assessment":
        return World().overrides()
    if service == "permits":
        fake = fake_registry()
        return {permits_registry: lambda: fake}
    return {}


@pytest.fixture
def backend() -> str:
    """SQLite only (see the module docstring)."""
    return "sqlite"


class _AppAdapter(requests.adapters.HTTPAdapter):
    """Sends schemathesis's requests to the app through ``app_client``'s ASGI client, on the
    event loop that runs the app's lifespan (a portal's thread).

    Not schemathesis's own ASGI transport (``from_asgi``): it would start a second lifespan of
    the app on its own loop, kept until the process exits, and skip ``app_client``'s emptying
    of the tables."""

    def __init__(self, portal: Any, client: httpx.AsyncClient) -> None:
        super().__init__()
        self.portal = portal
        self.client = client

    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> requests.Response:
        body = request.body
        content = body.encode() if isinstance(body, str) else (body or b"")
        send = functools.partial(
            self.client.request,
            request.method or "GET",
            request.url or "/",
            headers=list(request.headers.items()),
            content=content,
        )
        answer: httpx.Response = self.portal.call(send)
        raw = urllib3.HTTPResponse(
            body=io.BytesIO(answer.content),
            headers=answer.headers.multi_items(),
            status=answer.status_code,
            reason=answer.reason_phrase,
            version=11,
            preload_content=False,
            decode_content=False,
        )
        return self.build_response(request, raw)


@dataclass
class Served:
    """A service's app, running, and what schemathesis needs to call it."""

    service: str
    schema: Any
    session: requests.Session
    base_url: str

    def check(self, case: Any) -> None:
        callers = list(CALLERS[self.service].items())
        if case.meta is not None and case.meta.phase.name == "coverage":
            callers = callers[:1]  # city_admin only: the coverage cases vary the input, not the caller
        for caller, headers in callers:
            response = case.call(base_url=self.base_url, session=self.session, headers=headers)
            where = f"as {caller}: {case.method} {case.formatted_path} -> {response.status_code}"
            try:
                case.validate_response(response, checks=CHECKS, headers=headers)
            except AssertionError as exc:
                raise AssertionError(f"{where}\n{exc}\n{response.content[:500]!r}") from exc


def _serve(app_client: Callable[..., Any], service: str) -> Iterator[Served]:
    with (
        anyio.from_thread.start_blocking_portal() as portal,
        portal.wrap_async_context_manager(app_client(service, overrides=_fakes(service))) as client,
    ):
        spec = client.app.openapi()
        schema = schemathesis.openapi.from_dict(spec, config=CONFIG)
        session = requests.Session()
        session.mount("http://", _AppAdapter(portal, client))
        yield Served(service, schema, session, str(client.base_url).rstrip("/"))


@pytest.fixture
def registry_app(app_client: Callable[..., Any]) -> Iterator[Served]:
    yield from _serve(app_client, "registry")


@pytest.fixture
def metrics_app(app_client: Callable[..., Any]) -> Iterator[Served]:
    yield from _serve(app_client, "metrics")


@pytest.fixture
def assessment_app(app_client: Callable[..., Any]) -> Iterator[Served]:
    yield from _serve(app_client, "assessment")


@pytest.fixture
def permits_app(app_client: Callable[..., Any]) -> Iterator[Served]:
    yield from _serve(app_client, "permits")


@pytest.fixture
def registry_schema(registry_app: Served) -> Any:
    return registry_app.schema


@pytest.fixture
def metrics_schema(metrics_app: Served) -> Any:
    return metrics_app.schema


@pytest.fixture
def assessment_schema(assessment_app: Served) -> Any:
    return assessment_app.schema


@pytest.fixture
def permits_schema(permits_app: Served) -> Any:
    return permits_app.schema


registry = schemathesis.pytest.from_fixture("registry_schema")
metrics = schemathesis.pytest.from_fixture("metrics_schema")
assessment = schemathesis.pytest.from_fixture("assessment_schema")
permits = schemathesis.pytest.from_fixture("permits_schema")


@registry.parametrize()
@SETTINGS
def test_registry(case: Any, registry_app: Served) -> None:
    registry_app.check(case)


@metrics.parametrize()
@SETTINGS
def test_metrics(case: Any, metrics_app: Served) -> None:
    metrics_app.check(case)


@assessment.parametrize()
@SETTINGS
def test_assessment(case: Any, assessment_app: Served) -> None:
    assessment_app.check(case)


@permits.parametrize()
@SETTINGS
def test_permits(case: Any, permits_app: Served) -> None:
    permits_app.check(case)
