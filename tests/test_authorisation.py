"""The authorisation matrix: which roles each route admits, checked against a hand-written table.

For every operation in every service's OpenAPI, the route is called without a token and with a
token for each role (carrying the scope claims that role needs). A role is *admitted* when the
answer is neither 401 nor the role refusal (a 403 problem naming ``required_roles``); what
happens after admission (404 for the made-up ids, 422 for the empty bodies, a per-resource 403
such as another county's zone) is the use cases' business and tested with them.

``MATRIX`` is the expectation, written from the issues and docs/api-conventions.md#roles, not
read from the code: a route whose roles change must change here too, on purpose.

``READ_SCOPE`` goes one step further for the metrics routes that read per-subject data (issue #20,
"who may read what"): on a small data set (a zone of the county token's division, a zone of another
county, both counties' totals and the city's), what each admitted role gets from each read route:
the subjects a list shows, or the status of a read of one subject. Its table is written from
docs/metrics.md#who-may-read-what.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from libs.domain.kernel.values import Role
from services.metrics.dependencies import registry_client
from tests.conftest import auth
from tests.metrics.builders import Registry, zone

SERVICES = ("registry", "metrics", "assessment", "permits")
SCOPES: dict[str, dict[str, str]] = {
    "county": {"division": "130705"},
    "zone_committee": {"zone": "z-authz"},
    "window_clerk": {"zone": "z-authz"},
    "bureau_admin": {"zone": "z-authz"},
    "reviewer": {"zone": "z-authz", "department": "planning"},
}
PUBLIC = "public"
ANY = frozenset(r.value for r in Role)
PLATFORM = {"/healthz", "/readyz", "/metrics", "/openapi.json", "/docs", "/redoc", "/docs/oauth2-redirect"}

MATRIX: dict[str, dict[str, str | frozenset[str]]] = {
    "registry": {
        "GET /v1/audit": frozenset({"city_admin"}),  # every service: services/common/audit_api.py
        "GET /v1/changes": PUBLIC,
        "GET /v1/compliance": PUBLIC,
        "GET /v1/divisions": PUBLIC,
        "GET /v1/divisions/{code}": PUBLIC,
        "GET /v1/reorganisations": PUBLIC,
        "GET /v1/reorganisations/{act_id}": PUBLIC,
        "GET /v1/zones": PUBLIC,
        "GET /v1/zones/counts": PUBLIC,
        "GET /v1/zones/resolve": PUBLIC,
        "GET /v1/zones/{zone_id}": PUBLIC,
        "GET /v1/zones/{zone_id}/history": PUBLIC,
        "GET /v1/zones/{zone_id}/lineage": PUBLIC,
        "POST /v1/divisions": frozenset({"city_admin"}),
        "POST /v1/reorganisations": frozenset({"city_admin"}),
        "POST /v1/reorganisations/{act_id}/annul": frozenset({"city_admin"}),
        "POST /v1/zones/histories": PUBLIC,
        "POST /v1/zones/lineages": PUBLIC,
    },
    "metrics": {
        "GET /v1/audit": frozenset({"city_admin"}),  # every service: services/common/audit_api.py
        "GET /v1/completeness": frozenset(
            {"city_admin", "commerce_bureau", "county", "science_bureau", "statistics_bureau", "zone_committee"}
        ),
        "GET /v1/deadlines/{period}": frozenset(
            {"city_admin", "commerce_bureau", "county", "science_bureau", "statistics_bureau", "zone_committee"}
        ),
        "GET /v1/indicators": PUBLIC,
        "GET /v1/indicators/{code}/versions": PUBLIC,
        "GET /v1/ledger/verify": frozenset({"city_admin", "statistics_bureau"}),
        "GET /v1/locks": frozenset(
            {"city_admin", "commerce_bureau", "county", "science_bureau", "statistics_bureau", "zone_committee"}
        ),
        "GET /v1/matrix": PUBLIC,
        "GET /v1/matrix/divisions": PUBLIC,
        "GET /v1/observations": frozenset(
            {"city_admin", "commerce_bureau", "county", "science_bureau", "statistics_bureau", "zone_committee"}
        ),
        "GET /v1/observations/history": frozenset(
            {"city_admin", "commerce_bureau", "county", "science_bureau", "statistics_bureau", "zone_committee"}
        ),
        "GET /v1/quality": frozenset({"city_admin", "statistics_bureau"}),
        "GET /v1/templates/observations.xlsx": frozenset(
            {"city_admin", "county", "statistics_bureau", "zone_committee"}
        ),
        "POST /v1/indicators": frozenset({"city_admin"}),
        "POST /v1/locks": frozenset({"city_admin", "commerce_bureau", "science_bureau"}),
        # a push is authenticated before its (up to 10,000-row) body is read
        "POST /v1/observations": frozenset({"city_admin", "county", "statistics_bureau", "zone_committee"}),
        "POST /v1/observations/import": frozenset({"city_admin", "county", "statistics_bureau", "zone_committee"}),
        "PUT /v1/deadlines/{period}": frozenset({"city_admin"}),
    },
    "assessment": {
        "GET /v1/audit": frozenset({"city_admin"}),  # every service: services/common/audit_api.py
        "GET /v1/assessments": PUBLIC,
        "GET /v1/assessments/{assessment_id}": PUBLIC,
        "GET /v1/assessments/{assessment_id}/bulletin.csv": PUBLIC,
        "GET /v1/assessments/{assessment_id}/bulletin.html": PUBLIC,
        "GET /v1/assessments/{assessment_id}/bulletin.xlsx": PUBLIC,
        "GET /v1/assessments/{assessment_id}/outcomes": PUBLIC,
        "GET /v1/assessments/{assessment_id}/sensitivity": PUBLIC,
        "GET /v1/methodologies": PUBLIC,
        "GET /v1/methodologies/{code}": PUBLIC,
        "GET /v1/methodologies/{code}/{version}": PUBLIC,
        "GET /v1/rankings": PUBLIC,
        "GET /v1/rankings.csv": PUBLIC,
        "GET /v1/rankings.html": PUBLIC,
        "GET /v1/rankings.xlsx": PUBLIC,
        "GET /v1/sanction-policies": PUBLIC,
        "GET /v1/summons": frozenset({"city_admin", "commerce_bureau", "science_bureau", "zone_committee"}),
        "GET /v1/targets/progress": PUBLIC,
        "GET /v1/zones/{zone_id}/outcomes": PUBLIC,
        "POST /v1/assessments": frozenset({"city_admin", "commerce_bureau", "science_bureau"}),
        "POST /v1/assessments/{assessment_id}/publish": frozenset({"city_admin", "commerce_bureau", "science_bureau"}),
        "POST /v1/assessments/{assessment_id}/verify": PUBLIC,
        "POST /v1/assessments/{assessment_id}/withdraw": frozenset({"city_admin", "commerce_bureau", "science_bureau"}),
        "POST /v1/methodologies": frozenset({"city_admin", "commerce_bureau", "science_bureau"}),
        "PUT /v1/sanction-policies/{kind}": frozenset({"city_admin", "commerce_bureau", "science_bureau"}),
    },
    "permits": {
        "GET /v1/audit": frozenset({"city_admin"}),  # every service: services/common/audit_api.py
        "DELETE /v1/webhooks/{webhook_id}": frozenset({"applicant", "bureau_admin", "city_admin", "window_clerk"}),
        "GET /v1/applications": frozenset({"applicant", "bureau_admin", "city_admin", "reviewer", "window_clerk"}),
        "GET /v1/applications/{case_id}": frozenset(
            {"applicant", "bureau_admin", "city_admin", "reviewer", "window_clerk"}
        ),
        "GET /v1/applications/{case_id}/history": frozenset({"bureau_admin", "city_admin", "reviewer", "window_clerk"}),
        "GET /v1/applications/{case_id}/messages": frozenset(
            {"applicant", "bureau_admin", "city_admin", "reviewer", "window_clerk"}
        ),
        "GET /v1/applications/{case_id}/special-procedures": frozenset(
            {"bureau_admin", "city_admin", "reviewer", "window_clerk"}
        ),
        "GET /v1/calendar/days": PUBLIC,
        "GET /v1/calendar/deadline": PUBLIC,
        "GET /v1/catalog": PUBLIC,
        "GET /v1/catalog/bureaus/{zone_id}": PUBLIC,
        "GET /v1/catalog/items/{item_id}": PUBLIC,
        "GET /v1/catalog/power-list": PUBLIC,
        "GET /v1/escalations": frozenset({"bureau_admin", "city_admin"}),
        "GET /v1/files/{file_id}": frozenset({"applicant", "bureau_admin", "city_admin", "reviewer", "window_clerk"}),
        "GET /v1/files/{file_id}/content": frozenset(
            {"applicant", "bureau_admin", "city_admin", "reviewer", "window_clerk"}
        ),
        "GET /v1/rectifications": frozenset({"bureau_admin", "city_admin"}),
        "GET /v1/stats": PUBLIC,
        "GET /v1/tasks": frozenset({"bureau_admin", "city_admin", "reviewer", "window_clerk"}),
        "GET /v1/tasks/{task_id}": frozenset({"bureau_admin", "city_admin", "reviewer", "window_clerk"}),
        "GET /v1/webhooks": frozenset({"applicant", "bureau_admin", "city_admin", "window_clerk"}),
        "POST /v1/applications": frozenset({"applicant", "city_admin", "window_clerk"}),
        "POST /v1/applications/{case_id}/accept": frozenset({"city_admin", "window_clerk"}),
        "POST /v1/applications/{case_id}/decision": frozenset({"city_admin", "window_clerk"}),
        "POST /v1/applications/{case_id}/decline": frozenset({"city_admin", "window_clerk"}),
        "POST /v1/applications/{case_id}/extensions": frozenset({"bureau_admin", "city_admin"}),
        "POST /v1/applications/{case_id}/rating": frozenset({"applicant"}),
        "POST /v1/applications/{case_id}/request-supplements": frozenset({"city_admin", "window_clerk"}),
        "POST /v1/applications/{case_id}/special-procedures": frozenset({"bureau_admin", "city_admin"}),
        "POST /v1/applications/{case_id}/special-procedures/{procedure_id}/end": frozenset(
            {"bureau_admin", "city_admin"}
        ),
        "POST /v1/applications/{case_id}/supplements": frozenset({"applicant", "city_admin", "window_clerk"}),
        "POST /v1/catalog/items": frozenset({"bureau_admin", "city_admin"}),
        "POST /v1/files": frozenset({"applicant", "city_admin", "window_clerk"}),
        "POST /v1/rectifications/{rect_id}/close": frozenset({"bureau_admin", "city_admin"}),
        "POST /v1/tasks/{task_id}/approve": frozenset({"city_admin", "reviewer"}),
        "POST /v1/tasks/{task_id}/reject": frozenset({"city_admin", "reviewer"}),
        "POST /v1/tasks/{task_id}/request-supplements": frozenset({"city_admin", "reviewer"}),
        "POST /v1/webhooks": frozenset({"applicant", "bureau_admin", "city_admin", "window_clerk"}),
        "PUT /v1/calendar/days/{day}": frozenset({"bureau_admin", "city_admin"}),
        "PUT /v1/calendar/years/{year}": frozenset({"bureau_admin", "city_admin"}),
        "PUT /v1/catalog/bureaus/{zone_id}": frozenset({"bureau_admin", "city_admin"}),
        "PUT /v1/catalog/items/{item_id}": frozenset({"bureau_admin", "city_admin"}),
    },
}


async def observed(client: Any) -> dict[str, str | frozenset[str]]:
    """What the running app admits, per ``METHOD /path``."""
    spec = (await client.get("/openapi.json")).json()
    out: dict[str, str | frozenset[str]] = {}
    for path, ops in spec["paths"].items():
        if path in PLATFORM:
            continue
        url = re.sub(r"\{[^}]+\}", "1", path)
        for method in ops:
            if method not in {"get", "post", "put", "patch", "delete"}:
                continue
            body = {"json": {}} if method in {"post", "put", "patch"} else {}
            anonymous = await client.request(method.upper(), url, **body)
            if anonymous.status_code != 401:
                out[f"{method.upper()} {path}"] = PUBLIC
                continue
            admitted = set()
            for role in sorted(ANY):
                r = await client.request(method.upper(), url, headers=auth(role, **SCOPES.get(role, {})), **body)
                refused = r.status_code == 401 or (r.status_code == 403 and "required_roles" in r.json())
                if not refused:
                    admitted.add(role)
            out[f"{method.upper()} {path}"] = frozenset(admitted)
    return out


@pytest.mark.parametrize("service", SERVICES)
async def test_every_route_admits_exactly_the_roles_in_the_matrix(app_client: Any, service: str) -> None:
    async with app_client(service) as client:
        got = await observed(client)
    expected = MATRIX.get(service, {})
    lines = [
        f"    {k!r}: {('PUBLIC' if v == PUBLIC else 'frozenset(' + repr(sorted(v)) + ')')},"
        for k, v in sorted(got.items())
    ]
    assert got == expected, f"{service} observed:\n" + "\n".join(lines)


@pytest.mark.parametrize("service", SERVICES)
async def test_the_openapi_marks_exactly_the_public_routes(app_client: Any, service: str) -> None:
    """``x-devzones-public`` in the OpenAPI is what frontends rely on: it must match the matrix."""
    async with app_client(service) as client:
        spec = (await client.get("/openapi.json")).json()
    marked = {
        f"{method.upper()} {path}"
        for path, ops in spec["paths"].items()
        if path not in PLATFORM
        for method, op in ops.items()
        if op.get("x-devzones-public")
    }
    assert marked == {k for k, v in MATRIX[service].items() if v == PUBLIC}


# --- who may read what: the metrics read routes per role, on a small data set ------------------

OWN_ZONE, OTHER_ZONE = "z-authz", "z-other"  # z-authz: the county token's division (130705), and the committee's
OWN, OTHER, CITY_TOTALS = "130705", "130731", "130700"
READERS = ("city_admin", "commerce_bureau", "science_bureau", "statistics_bureau", "county", "zone_committee")
EVERYTHING = frozenset({OWN_ZONE, OTHER_ZONE, OWN, OTHER, CITY_TOTALS})
HISTORY = "GET /v1/observations/history?indicator=gdp&period=2017"
READ_SCOPE: dict[str, dict[str, frozenset[str] | int]] = {
    # a list: the subjects it shows (never a refusal of the list)
    "GET /v1/observations": {
        "city_admin": EVERYTHING,
        "commerce_bureau": EVERYTHING,
        "science_bureau": EVERYTHING,
        "statistics_bureau": EVERYTHING,
        "county": frozenset({OWN_ZONE, OWN}),
        "zone_committee": frozenset({OWN_ZONE}),
    },
    # one subject: the status
    f"{HISTORY}&zone_id={OWN_ZONE}": dict.fromkeys(READERS, 200),
    f"{HISTORY}&zone_id={OTHER_ZONE}": {**dict.fromkeys(READERS, 200), "county": 403, "zone_committee": 403},
    f"{HISTORY}&division={OWN}": {**dict.fromkeys(READERS, 200), "zone_committee": 403},
    f"{HISTORY}&division={OTHER}": {**dict.fromkeys(READERS, 200), "county": 403, "zone_committee": 403},
    f"{HISTORY}&division={CITY_TOTALS}": {**dict.fromkeys(READERS, 200), "county": 403, "zone_committee": 403},
    f"GET /v1/completeness?period=2017&division={OWN}": {**dict.fromkeys(READERS, 200), "zone_committee": 403},
    f"GET /v1/completeness?period=2017&division={OTHER}": {
        **dict.fromkeys(READERS, 200),
        "county": 403,
        "zone_committee": 403,
    },
    f"GET /v1/templates/observations.xlsx?period=2017&division={OWN}": {
        "city_admin": 200,
        "statistics_bureau": 200,
        "county": 200,
        "zone_committee": 403,
    },
    f"GET /v1/templates/observations.xlsx?period=2017&division={OTHER}": {
        "city_admin": 200,
        "statistics_bureau": 200,
        "county": 403,
        "zone_committee": 403,
    },
    # not per subject: the ledger's verification (counts and the first break) is the supervisors'
    "GET /v1/ledger/verify": {"city_admin": 200, "statistics_bureau": 200},
    "GET /v1/quality?period=2017": {"city_admin": 200, "statistics_bureau": 200},
}


async def test_every_metrics_read_shows_each_role_exactly_its_scope(app_client: Any) -> None:
    registry = Registry(
        [zone(OWN_ZONE, "授权测试开发区", authority=OWN), zone(OTHER_ZONE, "另一开发区", authority=OTHER)]
    )
    rows = [
        {"zone_id": OWN_ZONE, "indicator": "gdp", "period": "2017", "value": 1, "unit": "万元"},
        {"zone_id": OTHER_ZONE, "indicator": "gdp", "period": "2017", "value": 2, "unit": "万元"},
        *(
            {"division": d, "indicator": "gdp", "period": "2017", "value": 3, "unit": "万元"}
            for d in (OWN, OTHER, CITY_TOTALS)
        ),
    ]
    got: dict[str, dict[str, frozenset[str] | int]] = {}
    async with app_client("metrics", overrides={registry_client: lambda: registry}) as client:
        pushed = await client.post("/v1/observations", json={"observations": rows}, headers=auth("city_admin"))
        assert pushed.status_code == 200, pushed.text
        for cell, roles in READ_SCOPE.items():
            method, url = cell.split(" ", 1)
            got[cell] = {}
            for role in roles:
                r = await client.request(method, url, headers=auth(role, **SCOPES.get(role, {})))
                if cell == "GET /v1/observations":
                    assert r.status_code == 200, r.text
                    got[cell][role] = frozenset(i["zone_id"] or i["division"] for i in r.json()["items"])
                else:
                    got[cell][role] = r.status_code
    assert got == READ_SCOPE
