"""The intake's hot route (``services.common.hot``) answers exactly as the declared FastAPI route.

``POST /v1/applications`` is served by a hot handler that skips FastAPI's routing and dependency
solving. The same requests are sent to the permits app with the hot route and to one without it
(``PERMITS_HOT_INTAKE`` off: the FastAPI route serves), and every answer must agree: status,
headers that matter, the case read, and the problem document of each kind of fault. Where an
answer is also pinned by hand (the status and the location of a fault) that is asserted too, so a
fault shared by both paths still fails here.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date
from typing import Any

import pytest

from tests.conftest import auth
from tests.permits.builders import CLERK, ENTERPRISE, OTHER_CLERK, ZONE

REVIEWER = auth("reviewer", zone=ZONE, department="planning")
BAD_TOKEN = {"Authorization": "Bearer not-a-token"}
_ID = re.compile(r"^[0-9a-f]{12,32}$")


def _normal(value: Any) -> Any:
    """An answer with what differs between two runs (generated ids and instants) blanked."""
    if isinstance(value, dict):
        return {
            k: ("<time>" if k.endswith("_at") else _normal(v))
            for k, v in value.items()
            if k not in {"id", "application", "file_id"}
        }
    if isinstance(value, list):
        return [_normal(v) for v in value]
    if isinstance(value, str) and _ID.match(value):
        return "<id>"
    return value


async def _scenario(w: Any) -> list[tuple[str, int, Any]]:
    """Each request's label, status and normalised answer."""
    await w.bureau()
    item = await w.item()
    good = {
        "item": item["id"],
        "zone_id": ZONE,
        "project_name": "示例项目",
        "applicant": {"name": "示例企业有限公司"},
        "materials": [],
    }
    no_m = {**good, "materials": []}
    item_optional = await w.item(code="opt", materials=[{"code": "m1", "name": "申请表", "mandatory": False}])
    at_once = {**good, "item": item_optional["id"], "accept": True}
    cases: list[tuple[str, dict[str, str], Any, dict[str, str]]] = [
        ("submit by the applicant", ENTERPRISE, no_m, {}),
        ("accept on the spot", CLERK, at_once, {"Idempotency-Key": "k-1"}),
        ("replay of the same key", CLERK, at_once, {"Idempotency-Key": "k-1"}),
        ("the key with another body", CLERK, {**at_once, "project_name": "另一个项目"}, {"Idempotency-Key": "k-1"}),
        ("no token", {}, at_once, {}),
        ("bad token", BAD_TOKEN, at_once, {}),
        ("reviewer may not file", REVIEWER, at_once, {}),
        ("clerk of another zone", OTHER_CLERK, at_once, {}),
        ("applicant may not accept", ENTERPRISE, at_once, {}),
        ("unknown item", CLERK, {**at_once, "item": "nosuchitem"}, {}),
        ("missing field", CLERK, {k: v for k, v in at_once.items() if k != "project_name"}, {}),
        ("wrong nested type", CLERK, {**at_once, "applicant": {"name": 5}}, {}),
        ("accept not a bool", CLERK, {**at_once, "accept": "yes"}, {}),
        ("key too long", CLERK, at_once, {"Idempotency-Key": "k" * 201}),
        ("no token and a bad body", {}, {"nonsense": True}, {}),
    ]
    out: list[tuple[str, int, Any]] = []
    for label, headers, body, extra in cases:
        r = await w.client.post("/v1/applications", json=body, headers={**headers, **extra})
        answer = r.json()
        if r.status_code == 201:
            assert r.headers["location"] == f"/v1/applications/{answer['id']}"
            assert r.headers["etag"]
            assert r.headers["content-type"] == "application/json"
            assert r.headers.get("idempotent-replayed") == ("true" if label.startswith("replay") else None)
        else:
            assert r.headers["content-type"].startswith("application/problem+json"), label
        out.append((label, r.status_code, _normal(answer)))
    for label, raw in (("empty body", b""), ("not JSON", b"{not json"), ("a list", b"[]"), ("not UTF-8", b"\x80")):
        r = await w.client.post("/v1/applications", content=raw, headers={**CLERK, "Content-Type": "application/json"})
        problem = r.json()
        assert r.headers["content-type"].startswith("application/problem+json"), label
        out.append((label, r.status_code, (problem["type"], [e["loc"][0] for e in problem.get("errors", [])])))
    return out


@pytest.fixture
def run_scenario(window: Callable[..., Any]) -> Callable[..., Any]:
    async def run(hot: bool) -> list[tuple[str, int, Any]]:
        async with window(hot_intake=hot) as w:
            w.today(date(2026, 3, 2))
            has_hot = any(m.cls.__name__ == "HotRoutesMiddleware" for m in w.app.user_middleware)
            assert has_hot is hot
            return await _scenario(w)

    return run


async def test_the_hot_intake_answers_as_the_declared_route(run_scenario: Callable[..., Any]) -> None:
    routed = await run_scenario(hot=False)
    hot = await run_scenario(hot=True)
    for (label, status, answer), (label2, status2, answer2) in zip(routed, hot, strict=True):
        assert label == label2
        assert (label, status) == (label2, status2)
        assert answer == answer2, label
    statuses = {label: status for label, status, _ in hot}
    # Worked out from the rules: who may file, and what a fault is.
    assert statuses == {
        "submit by the applicant": 201,
        "accept on the spot": 201,
        "replay of the same key": 201,
        "the key with another body": 422,
        "no token": 401,
        "bad token": 401,
        "reviewer may not file": 403,
        "clerk of another zone": 403,
        "applicant may not accept": 403,
        "unknown item": 422,
        "missing field": 422,
        "wrong nested type": 422,
        "accept not a bool": 422,
        "key too long": 422,
        "no token and a bad body": 401,
        "empty body": 422,
        "not JSON": 422,
        "a list": 422,
        "not UTF-8": 400,
    }
    answers = {label: answer for label, _, answer in hot}
    assert answers["accept on the spot"]["state"] == "in_review"
    assert answers["replay of the same key"] == answers["accept on the spot"]
    assert [e["loc"] for e in answers["missing field"]["errors"]] == [["body", "project_name"]]
    assert [e["loc"] for e in answers["wrong nested type"]["errors"]] == [["body", "applicant", "name"]]
    assert [e["loc"] for e in answers["key too long"]["errors"]] == [["header", "Idempotency-Key"]]
    assert [e["loc"] for e in answers["the key with another body"]["errors"]] == [["header", "Idempotency-Key"]]
    assert answers["empty body"][1] == ["body"]
