"""Every action not allowed in a case's state is a 409 naming the state and the allowed actions;
concurrent reviewers are serialised (one wins, the other gets 409, or 412 with a stale If-Match)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tests.helpers import assert_problem
from tests.permits.builders import ADMIN, CLERK, ENTERPRISE, LEGAL, PLANNING, STATES, case_in

# action -> (path suffix, headers, body)
CASE_ACTIONS: dict[str, tuple[str, dict[str, str], dict[str, Any]]] = {
    "accept": ("accept", CLERK, {}),
    "request_supplements": ("request-supplements", CLERK, {"items": [{"code": "m1", "problem": "missing"}]}),
    "decline": ("decline", CLERK, {"reasons": ["不属于本局职权范围"]}),
    "supplement": ("supplements", ENTERPRISE, {"materials": []}),
    "start_special_procedure": ("special-procedures", ADMIN, {"kind": "hearing", "reason": "听证"}),
    "extend": ("extensions", ADMIN, {"days": 1, "reason": "复杂"}),
    "decide": ("decision", CLERK, {}),
    "rate": ("rating", ENTERPRISE, {"score": 5}),
}

PATH_NAMES = {
    "accept": "accept",
    "request_supplements": "request-supplements",
    "decline": "decline",
    "supplement": "supplements",
    "start_special_procedure": "special-procedures",
    "end_special_procedure": "end",
    "extend": "extensions",
    "decide": "decision",
    "rate": "rating",
}
"""Each case action as the API names it in ``allowed_actions`` (written out by hand from the routes)."""


class TestEveryIllegalTransitionIsAConflict:
    @pytest.mark.parametrize("state", STATES)
    async def test_illegal_case_actions_name_the_state_and_the_allowed_actions(self, window: Any, state: str) -> None:
        async with window() as w:
            await w.bureau()
            item = await w.item()
            case = await case_in(w, item, state)
            assert case["state"] == state
            legal = {
                a.value
                for a in LEGAL[__import__("libs.domain.permits.states", fromlist=["CaseState"]).CaseState(state)]
            }
            # allowed_actions names each action by the last segment of its POST path; a department's
            # review is done on its task, so the case does not list it.
            named = {PATH_NAMES[a] for a in legal if a != "review"}
            tried = 0
            for action, (suffix, headers, body) in CASE_ACTIONS.items():
                if action in legal:
                    continue
                r = await w.client.post(f"/v1/applications/{case['id']}/{suffix}", headers=headers, json=body)
                problem = assert_problem(r, 409)
                assert problem["state"] == state, action
                assert set(problem["allowed_actions"]) == named, action
                tried += 1
            assert tried >= 4
            after = await w.case(case["id"])
            assert after["state"] == state and after["version"] == case["version"]

    @pytest.mark.parametrize("state", ["review_supplements", "special_procedure", "awaiting_decision", "decided"])
    async def test_a_task_cannot_be_acted_on_unless_the_case_is_in_review(self, window: Any, state: str) -> None:
        async with window() as w:
            await w.bureau()
            item = await w.item()
            case = await case_in(w, item, state)
            full = await w.case(case["id"])
            task = next(t for t in full["tasks"] if t["department"] == "planning")
            for verb, body in (("approve", {}), ("reject", {"reasons": ["x"]})):
                r = await w.client.post(f"/v1/tasks/{task['id']}/{verb}", headers=PLANNING, json=body)
                assert assert_problem(r, 409)["state"] in (state, "approved")

    async def test_the_one_extension_cannot_be_granted_twice(self, window: Any) -> None:
        async with window() as w:
            item = await w.item()
            case = await case_in(w, item, "in_review")
            url = f"/v1/applications/{case['id']}/extensions"
            await w.ok("POST", url, ADMIN, json={"days": 5, "reason": "需要现场核查"})
            again = assert_problem(await w.client.post(url, headers=ADMIN, json={"days": 1, "reason": "x"}), 409)
            assert "extensions" not in again["allowed_actions"] and "extend" not in again["allowed_actions"]
            assert set(again["allowed_actions"]) == {"special-procedures"}

    async def test_an_extension_beyond_the_statutory_maximum_is_refused(self, window: Any) -> None:
        async with window() as w:
            item = await w.item(max_extension_days=10)
            case = await case_in(w, item, "in_review")
            r = await w.client.post(
                f"/v1/applications/{case['id']}/extensions", headers=ADMIN, json={"days": 11, "reason": "x"}
            )
            assert assert_problem(r, 422)["errors"][0]["loc"] == ["body", "days"]


class TestConcurrentReviewers:
    async def test_two_reviewers_racing_on_one_task_one_wins_the_other_gets_409(self, window: Any) -> None:
        async with window() as w:
            item = await w.item()
            case = await case_in(w, item, "in_review")
            task = (await w.open_tasks(case["id"]))["planning"]
            other = {"Authorization": PLANNING["Authorization"]}
            results = await asyncio.gather(
                w.client.post(f"/v1/tasks/{task['id']}/approve", headers=PLANNING, json={"note": "a"}),
                w.client.post(f"/v1/tasks/{task['id']}/reject", headers=other, json={"reasons": ["b"]}),
            )
            codes = sorted(r.status_code for r in results)
            assert codes == [200, 409], [r.text for r in results]
            history = (await w.ok("GET", f"/v1/applications/{case['id']}/history", ADMIN))["items"]
            assert sum(1 for h in history if h["task"] == task["id"]) == 1

    async def test_a_stale_if_match_is_412_and_a_fresh_one_passes(self, window: Any) -> None:
        async with window() as w:
            item = await w.item()
            case = await case_in(w, item, "in_review")
            tasks = await w.open_tasks(case["id"])
            task = tasks["planning"]
            got = await w.client.get(f"/v1/tasks/{task['id']}", headers=PLANNING)
            etag = got.headers["etag"]
            assert etag == f'"{task["version"]}"'
            await w.ok(
                "POST",
                f"/v1/tasks/{task['id']}/request-supplements",
                PLANNING,
                json={"items": [{"code": "m2", "problem": "defective"}]},
            )
            await w.ok("POST", f"/v1/applications/{case['id']}/supplements", ENTERPRISE, json={"materials": []})
            stale = await w.client.post(
                f"/v1/tasks/{task['id']}/approve", headers={**PLANNING, "If-Match": etag}, json={}
            )
            assert assert_problem(stale, 412)["current_etag"] == f'"{task["version"] + 1}"'
            fresh = (await w.client.get(f"/v1/tasks/{task['id']}", headers=PLANNING)).headers["etag"]
            ok = await w.client.post(
                f"/v1/tasks/{task['id']}/approve", headers={**PLANNING, "If-Match": fresh}, json={}
            )
            assert ok.status_code == 200 and ok.headers["etag"] != fresh

    async def test_case_actions_honour_if_match(self, window: Any) -> None:
        async with window() as w:
            item = await w.item()
            case = await w.apply(item)
            r = await w.client.post(
                f"/v1/applications/{case['id']}/accept", headers={**CLERK, "If-Match": '"99"'}, json={}
            )
            assert_problem(r, 412)
            r = await w.client.post(
                f"/v1/applications/{case['id']}/accept", headers={**CLERK, "If-Match": f'"{case["version"]}"'}, json={}
            )
            assert r.status_code == 200

    async def test_the_two_departments_of_a_stage_approving_at_once_both_count(self, window: Any) -> None:
        async with window() as w:
            item = await w.item()
            case = await case_in(w, item, "in_review")
            tasks = await w.open_tasks(case["id"])
            results = await asyncio.gather(*(w.approve(t) for t in tasks.values()))
            assert all(r["state"] == "approved" for r in results)
            after = await w.case(case["id"])
            assert after["stage"] == 2
            assert [t["department"] for t in after["tasks"] if t["state"] == "open"] == ["construction"]
